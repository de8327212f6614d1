//! Fields whose type the derive cannot see through: a `#[derive(SegmentEnum)]`
//! enum, an embedded `#[derive(SegmentRecord)]` struct, or a generic
//! parameter standing for one of those, a primitive, a `String` or a
//! `Vec<u8>`.
//!
//! The macro only sees a type's name, so it cannot tell an enum from a record.
//! Both derives therefore implement [`Nested`], naming a [`NestedCodec`] that
//! says how the value sits in its parent: an enum as its variant index in
//! `BITS` bits of the fixed part, a record as a 32-bit length in the fixed
//! part and its encoded bytes in the variable part.
//!
//! Not a stable API: items are public for the generated code only.

use core::cmp::Ordering;
use core::fmt::Debug;
use core::marker::PhantomData;

use super::codec::{KeyHasher, PrefixWriter};
use super::{DecodeError, EncodeError, FieldKind, RecordRef, SegmentEnum, SegmentRecord};

/// A type that can be a field of a `SegmentRecord` without the macro knowing
/// its shape; implemented by `#[derive(SegmentEnum)]` and
/// `#[derive(SegmentRecord)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a field of a `SegmentRecord`",
    label = "unsupported field type",
    note = "a field may be a bool, u8..u128, i8..i128, f32, f64, char, an array of those, String, Vec<u8>, an Option of any of these, a `#[derive(SegmentEnum)]` enum or a `#[derive(SegmentRecord)]` struct"
)]
pub trait Nested: Sized {
    /// How the value is stored in its parent.
    type Codec: NestedCodec<Self>;
}

/// How a [`Nested`] value is stored in its parent record. `fixed` is the
/// value of the field's bits in the parent's fixed part, `var` its bytes in
/// the variable part.
pub trait NestedCodec<T> {
    /// Bits in the parent's fixed part.
    const FIXED_BITS: u32;
    /// How the parent's layout lists the field.
    const KIND: FieldKind;
    /// Whether the field has bytes in the parent's variable part.
    const HAS_VAR: bool;
    /// Bytes the field gives to the parent's normalized key.
    const KEY_NORM_LEN: usize;
    /// Whether those bytes may be a strict prefix of its canonical key.
    const KEY_IS_PREFIX: bool;
    /// What a parent's view getter returns.
    type View<'a>: Copy + Debug
    where
        T: 'a;
    /// The field's part of the parent's owned key.
    type KeyPart;

    /// The fixed bits of `v`.
    ///
    /// # Errors
    ///
    /// [`EncodeError::LengthOverflow`] when `v` is too long for its length field.
    fn fixed(v: &T, field: &'static str) -> Result<u64, EncodeError>;
    /// Bytes of `v` in the variable part.
    fn var_len(v: &T) -> usize;
    /// Writes the variable bytes of `v` into `out` (exactly `var_len` long).
    ///
    /// # Errors
    ///
    /// Whatever encoding `v` reports.
    fn encode_var(v: &T, out: &mut [u8]) -> Result<(), EncodeError>;
    /// Variable bytes of a stored value, from its fixed bits.
    fn var_len_of(fixed: u64) -> usize;
    /// Validates a stored value.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when the bytes are not a valid value.
    fn view<'a>(fixed: u64, var: &'a [u8], field: &'static str) -> Result<Self::View<'a>, DecodeError>
    where
        T: 'a;
    /// The owned value of a view.
    fn to_owned(v: Self::View<'_>) -> T;
    /// The owned key part.
    fn key_part(v: &T) -> Self::KeyPart;
    /// Compares two stored values as their canonical keys compare.
    fn compare_key(af: u64, av: &[u8], bf: u64, bv: &[u8]) -> Ordering;
    /// Appends the canonical key of a stored value.
    fn write_key(fixed: u64, var: &[u8], out: &mut Vec<u8>);
    /// Writes the first `KEY_NORM_LEN` bytes of the canonical key into `out`
    /// (exactly that long), zero-padded.
    fn write_norm(fixed: u64, var: &[u8], out: &mut [u8]);
    /// Mixes the canonical key into `h`.
    fn hash_key(fixed: u64, var: &[u8], h: &mut KeyHasher);
    /// Whether the key of a stored value has a `None` part (see
    /// [`SegmentRecord::key_has_null`]): only an embedded record's can.
    #[inline(always)]
    fn key_has_null(fixed: u64, var: &[u8]) -> bool {
        let _ = (fixed, var);
        false
    }
    /// Writes the canonical key of a stored value through `w`, which keeps
    /// what fits (see [`SegmentRecord::write_key_prefix`]). The default
    /// builds the key in a vector first; the codecs here override it so that
    /// a normalized key never allocates.
    fn write_key_prefix(fixed: u64, var: &[u8], w: &mut PrefixWriter<'_>) {
        let mut key = Vec::new();
        Self::write_key(fixed, var, &mut key);
        w.put(&key);
    }
}

/// The codec of a `#[derive(SegmentEnum)]` enum: its index in `BITS` bits; its
/// canonical key is the index, big-endian, in `ceil(BITS / 8)` bytes.
#[derive(Debug)]
pub struct EnumCodec<E>(PhantomData<E>);

impl<E: SegmentEnum + Debug> NestedCodec<E> for EnumCodec<E> {
    const FIXED_BITS: u32 = E::BITS;
    const KIND: FieldKind = FieldKind::Packed;
    const HAS_VAR: bool = false;
    const KEY_NORM_LEN: usize = E::BITS.div_ceil(8) as usize;
    const KEY_IS_PREFIX: bool = false;
    type View<'a>
        = E
    where
        E: 'a;
    type KeyPart = E;

    #[inline(always)]
    fn fixed(v: &E, _: &'static str) -> Result<u64, EncodeError> {
        Ok(u64::from(v.to_index()))
    }
    #[inline(always)]
    fn var_len(_: &E) -> usize {
        0
    }
    #[inline(always)]
    fn encode_var(_: &E, _: &mut [u8]) -> Result<(), EncodeError> {
        Ok(())
    }
    #[inline(always)]
    fn var_len_of(_: u64) -> usize {
        0
    }
    #[inline(always)]
    fn view<'a>(fixed: u64, _: &'a [u8], field: &'static str) -> Result<E, DecodeError>
    where
        E: 'a,
    {
        let index = fixed as u32;
        E::from_index(index).ok_or(DecodeError::InvalidEnum { field, index, variants: E::VARIANTS })
    }
    #[inline(always)]
    fn to_owned(v: E) -> E {
        v
    }
    #[inline(always)]
    fn key_part(v: &E) -> E {
        *v
    }
    #[inline(always)]
    fn compare_key(af: u64, _: &[u8], bf: u64, _: &[u8]) -> Ordering {
        af.cmp(&bf)
    }
    fn write_key(fixed: u64, _: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&fixed.to_be_bytes()[8 - Self::KEY_NORM_LEN..]);
    }
    #[inline(always)]
    fn write_norm(fixed: u64, _: &[u8], out: &mut [u8]) {
        out.copy_from_slice(&fixed.to_be_bytes()[8 - Self::KEY_NORM_LEN..]);
    }
    #[inline(always)]
    fn write_key_prefix(fixed: u64, _: &[u8], w: &mut PrefixWriter<'_>) {
        w.put(&fixed.to_be_bytes()[8 - Self::KEY_NORM_LEN..]);
    }
    #[inline(always)]
    fn hash_key(fixed: u64, _: &[u8], h: &mut KeyHasher) {
        h.write_u64(fixed);
    }
}

/// The codec of an embedded record: a 32-bit length in the fixed part, the
/// record's encoded bytes in the variable part; its canonical key is the
/// record's canonical key.
#[derive(Debug)]
pub struct RecordCodec<R>(PhantomData<R>);

impl<R: SegmentRecord> NestedCodec<R> for RecordCodec<R> {
    const FIXED_BITS: u32 = 32;
    const KIND: FieldKind = FieldKind::Embedded;
    const HAS_VAR: bool = true;
    const KEY_NORM_LEN: usize = R::NORMALIZED_KEY_LEN;
    const KEY_IS_PREFIX: bool = R::NORMALIZED_KEY_IS_PREFIX;
    type View<'a>
        = R::Ref<'a>
    where
        R: 'a;
    type KeyPart = R::Key;

    #[inline]
    fn fixed(v: &R, field: &'static str) -> Result<u64, EncodeError> {
        // Everything the embedded record can fail on, before the parent
        // writes a byte.
        v.check_encode()?;
        let len = v.encoded_len();
        if len > u32::MAX as usize {
            return Err(EncodeError::LengthOverflow { field, len });
        }
        Ok(len as u64)
    }
    #[inline]
    fn var_len(v: &R) -> usize {
        v.encoded_len()
    }
    #[inline]
    fn encode_var(v: &R, out: &mut [u8]) -> Result<(), EncodeError> {
        v.encode(out).map(|_| ())
    }
    #[inline(always)]
    fn var_len_of(fixed: u64) -> usize {
        fixed as usize
    }
    #[inline]
    fn view<'a>(_: u64, var: &'a [u8], _: &'static str) -> Result<R::Ref<'a>, DecodeError>
    where
        R: 'a,
    {
        R::view(var)
    }
    #[inline]
    fn to_owned(v: R::Ref<'_>) -> R {
        RecordRef::to_owned(&v)
    }
    #[inline]
    fn key_part(v: &R) -> R::Key {
        v.key()
    }
    #[inline]
    fn compare_key(_: u64, av: &[u8], _: u64, bv: &[u8]) -> Ordering {
        R::compare_key(av, bv)
    }
    fn write_key(_: u64, var: &[u8], out: &mut Vec<u8>) {
        R::write_key(var, out);
    }
    #[inline]
    fn write_norm(_: u64, var: &[u8], out: &mut [u8]) {
        R::write_normalized_key(var, out);
    }
    #[inline]
    fn write_key_prefix(_: u64, var: &[u8], w: &mut PrefixWriter<'_>) {
        R::write_key_prefix(var, w);
    }
    #[inline]
    fn hash_key(_: u64, var: &[u8], h: &mut KeyHasher) {
        h.write_u64(R::hash_key(var, 0));
    }
    #[inline]
    fn key_has_null(_: u64, var: &[u8]) -> bool {
        R::key_has_null(var)
    }
}

/// The view type of the stub impl the derive emits when the input has errors,
/// so that the errors are not followed by unrelated ones. Never constructed.
pub struct FallbackRef<'a, T>(PhantomData<&'a T>, core::convert::Infallible);

impl<T> Clone for FallbackRef<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for FallbackRef<'_, T> {}

impl<T> Debug for FallbackRef<'_, T> {
    fn fmt(&self, _: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.1 {}
    }
}

impl<'a, T: SegmentRecord> RecordRef<'a> for FallbackRef<'a, T> {
    type Owned = T;
    fn bytes(&self) -> &'a [u8] {
        match self.1 {}
    }
    fn to_owned(&self) -> T {
        match self.1 {}
    }
}

/// The codec of a primitive standing behind a generic parameter (`T = u32`):
/// the same bits and canonical key as a field written with the type itself.
#[derive(Debug)]
pub struct PrimCodec<T>(PhantomData<T>);

macro_rules! prim_nested {
    ($($t:ty: $bits:expr, $klen:expr, |$v:ident| $to:expr, |$r:ident, $field:ident| $from:expr, |$k:ident| $key:expr;)*) => {$(
        #[diagnostic::do_not_recommend]
        impl Nested for $t {
            type Codec = PrimCodec<$t>;
        }

        impl NestedCodec<$t> for PrimCodec<$t> {
            const FIXED_BITS: u32 = $bits;
            const KIND: FieldKind = if $bits == 1 { FieldKind::Packed } else { FieldKind::Fixed };
            const HAS_VAR: bool = false;
            const KEY_NORM_LEN: usize = $klen;
            const KEY_IS_PREFIX: bool = false;
            type View<'a>
                = $t
            where
                $t: 'a;
            type KeyPart = $t;

            #[inline(always)]
            fn fixed($v: &$t, _: &'static str) -> Result<u64, EncodeError> {
                let $v = *$v;
                Ok($to)
            }
            #[inline(always)]
            fn var_len(_: &$t) -> usize {
                0
            }
            #[inline(always)]
            fn encode_var(_: &$t, _: &mut [u8]) -> Result<(), EncodeError> {
                Ok(())
            }
            #[inline(always)]
            fn var_len_of(_: u64) -> usize {
                0
            }
            #[inline(always)]
            fn view<'a>($r: u64, _: &'a [u8], $field: &'static str) -> Result<$t, DecodeError>
            where
                $t: 'a,
            {
                $from
            }
            #[inline(always)]
            fn to_owned(v: $t) -> $t {
                v
            }
            #[inline(always)]
            fn key_part(v: &$t) -> $t {
                *v
            }
            #[inline(always)]
            fn compare_key(af: u64, _: &[u8], bf: u64, _: &[u8]) -> Ordering {
                let key = |$k: u64| -> u64 { $key };
                key(af).cmp(&key(bf))
            }
            fn write_key(fixed: u64, _: &[u8], out: &mut Vec<u8>) {
                let key = |$k: u64| -> u64 { $key };
                out.extend_from_slice(&key(fixed).to_be_bytes()[8 - $klen..]);
            }
            #[inline(always)]
            fn write_norm(fixed: u64, _: &[u8], out: &mut [u8]) {
                let key = |$k: u64| -> u64 { $key };
                out.copy_from_slice(&key(fixed).to_be_bytes()[8 - $klen..]);
            }
            #[inline(always)]
            fn write_key_prefix(fixed: u64, _: &[u8], w: &mut PrefixWriter<'_>) {
                let key = |$k: u64| -> u64 { $key };
                w.put(&key(fixed).to_be_bytes()[8 - $klen..]);
            }
            #[inline(always)]
            fn hash_key(fixed: u64, _: &[u8], h: &mut KeyHasher) {
                let key = |$k: u64| -> u64 { $key };
                h.write_u64(key(fixed));
            }
        }
    )*};
}

prim_nested! {
    bool: 1, 1, |v| u64::from(v), |r, _f| Ok(r != 0), |k| k;
    u8: 8, 1, |v| u64::from(v), |r, _f| Ok(r as u8), |k| k;
    u16: 16, 2, |v| u64::from(v), |r, _f| Ok(r as u16), |k| k;
    u32: 32, 4, |v| u64::from(v), |r, _f| Ok(r as u32), |k| k;
    u64: 64, 8, |v| v, |r, _f| Ok(r), |k| k;
    i8: 8, 1, |v| u64::from(v as u8), |r, _f| Ok(r as u8 as i8), |k| k ^ (1 << 7);
    i16: 16, 2, |v| u64::from(v as u16), |r, _f| Ok(r as u16 as i16), |k| k ^ (1 << 15);
    i32: 32, 4, |v| u64::from(v as u32), |r, _f| Ok(r as u32 as i32), |k| k ^ (1 << 31);
    i64: 64, 8, |v| v as u64, |r, _f| Ok(r as i64), |k| k ^ (1 << 63);
    f32: 32, 4, |v| u64::from(v.to_bits()), |r, _f| Ok(f32::from_bits(r as u32)), |k| u64::from(super::codec::f32_key(k as u32));
    f64: 64, 8, |v| v.to_bits(), |r, _f| Ok(f64::from_bits(r)), |k| super::codec::f64_key(k);
    char: 32, 4, |v| u64::from(v), |r, field| char::from_u32(r as u32).ok_or(DecodeError::InvalidChar { field, value: r as u32 }), |k| k;
}

/// The codec of a `String` or `Vec<u8>` standing behind a generic parameter:
/// a 32-bit length in the fixed part, the bytes in the variable part, the
/// canonical key escaped and terminated as for a field of that type.
#[derive(Debug)]
pub struct BytesCodec<T>(PhantomData<T>);

macro_rules! bytes_nested {
    ($($t:ty, $view:ty, |$b:ident, $field:ident| $from:expr, $owned:expr;)*) => {$(
        #[diagnostic::do_not_recommend]
        impl Nested for $t {
            type Codec = BytesCodec<$t>;
        }

        impl NestedCodec<$t> for BytesCodec<$t> {
            const FIXED_BITS: u32 = 32;
            const KIND: FieldKind = FieldKind::Variable;
            const HAS_VAR: bool = true;
            const KEY_NORM_LEN: usize = 16;
            const KEY_IS_PREFIX: bool = true;
            type View<'a>
                = &'a $view
            where
                $t: 'a;
            type KeyPart = $t;

            #[inline]
            fn fixed(v: &$t, field: &'static str) -> Result<u64, EncodeError> {
                let len = v.len();
                if len > u32::MAX as usize {
                    return Err(EncodeError::LengthOverflow { field, len });
                }
                Ok(len as u64)
            }
            #[inline]
            fn var_len(v: &$t) -> usize {
                v.len()
            }
            #[inline]
            fn encode_var(v: &$t, out: &mut [u8]) -> Result<(), EncodeError> {
                out.copy_from_slice(AsRef::<[u8]>::as_ref(v));
                Ok(())
            }
            #[inline(always)]
            fn var_len_of(fixed: u64) -> usize {
                fixed as usize
            }
            #[inline]
            fn view<'a>(_: u64, $b: &'a [u8], $field: &'static str) -> Result<&'a $view, DecodeError>
            where
                $t: 'a,
            {
                $from
            }
            #[inline]
            fn to_owned(v: &$view) -> $t {
                $owned(v)
            }
            #[inline]
            fn key_part(v: &$t) -> $t {
                v.clone()
            }
            #[inline]
            fn compare_key(_: u64, av: &[u8], _: u64, bv: &[u8]) -> Ordering {
                av.cmp(bv)
            }
            fn write_key(_: u64, var: &[u8], out: &mut Vec<u8>) {
                super::codec::write_escaped(var, false, out);
            }
            fn write_norm(_: u64, var: &[u8], out: &mut [u8]) {
                let mut w = PrefixWriter::new(out, 0);
                w.put_escaped(var, false);
                w.finish();
            }
            #[inline]
            fn write_key_prefix(_: u64, var: &[u8], w: &mut PrefixWriter<'_>) {
                w.put_escaped(var, false);
            }
            #[inline]
            fn hash_key(_: u64, var: &[u8], h: &mut KeyHasher) {
                h.write_bytes(var);
            }
        }
    )*};
}

bytes_nested! {
    String, str, |b, field| core::str::from_utf8(b).map_err(|_| DecodeError::InvalidUtf8 { field }), String::from;
    Vec<u8>, [u8], |b, _field| Ok(b), <[u8]>::to_vec;
}
