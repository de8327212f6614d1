//! The contract between `#[derive(SegmentRecord)]` and the runtime.
//!
//! A record type knows, at compile time, how its values look as bytes: a fixed
//! part in which every field sits at a constant bit offset, followed by a
//! variable part for strings and byte vectors (their lengths live in the fixed
//! part). Operators never decode a whole record to sort, hash or join it: they
//! call the associated functions of [`SegmentRecord`] on the encoded bytes.
//!
//! # Keys
//!
//! Key fields are marked `#[segment(key)]`. Three byte forms of the key exist:
//!
//! * the **canonical key** ([`SegmentRecord::write_key`]): a complete,
//!   injective, byte-comparable encoding of the key (big-endian, sign bit
//!   flipped, floats in IEEE total order, `desc` parts inverted, a null byte
//!   before each `Option`, strings escaped and terminated). Comparing two
//!   canonical keys with `memcmp` gives [`SegmentRecord::compare_key`]; two
//!   record types whose key fields have the same types and attributes produce
//!   identical canonical keys for equal key values, which is how a join matches
//!   rows of different structs;
//! * the **normalized key** ([`SegmentRecord::write_normalized_key`]): the first
//!   [`SegmentRecord::NORMALIZED_KEY_LEN`] bytes of the canonical key, padded
//!   with zeros. When the key has no variable-length field it is the whole
//!   canonical key and `NORMALIZED_KEY_IS_PREFIX` is `false`;
//! * the **key hash** ([`SegmentRecord::hash_key`]): a seeded hash that is a
//!   function of the canonical key alone.

#[doc(hidden)]
pub mod codec;
mod error;
mod layout;
#[doc(hidden)]
pub mod nested;

pub use error::{DecodeError, EncodeError};
pub use layout::{FieldKind, FieldLayout, KeyOrder, KeyPartLayout, Layout, NullOrder};

use core::cmp::Ordering;
use core::fmt::Debug;

/// A record with a compile-time binary layout, usually derived with
/// `#[derive(SegmentRecord)]`.
///
/// All functions taking `encoded: &[u8]` expect the bytes of exactly one record
/// as written by [`encode`](SegmentRecord::encode). The key functions
/// (`compare_key`, `key_eq`, `hash_key`, `write_key`,
/// `write_normalized_key`) may assume the bytes were produced by `encode` or
/// accepted by [`view`](SegmentRecord::view): on other input they return an
/// unspecified result but never panic out of bounds or cause undefined
/// behaviour.
pub trait SegmentRecord: Sized {
    /// A zero-copy view of an encoded record; getters read from the bytes.
    type Ref<'a>: RecordRef<'a, Owned = Self>;

    /// The owned key: a tuple of the key fields' types in significance order
    /// (`()` when the record has no key field).
    type Key;

    /// The layout, printable as a table with `Display`.
    const LAYOUT: Layout;

    /// Bytes of the fixed part. Every encoded record starts with it.
    const FIXED_LEN: usize;

    /// `Some(n)` when every encoded record is exactly `n` bytes (no variable
    /// part), `None` otherwise.
    const ENCODED_SIZE: Option<usize>;

    /// Bytes written by [`write_normalized_key`](SegmentRecord::write_normalized_key).
    const NORMALIZED_KEY_LEN: usize;

    /// `true` when the normalized key may be a strict prefix of the canonical
    /// key, so that equal normalized keys must be compared with
    /// [`compare_key`](SegmentRecord::compare_key).
    const NORMALIZED_KEY_IS_PREFIX: bool;

    /// Number of bytes [`encode`](SegmentRecord::encode) writes for `self`.
    fn encoded_len(&self) -> usize;

    /// Encodes `self` into the start of `out` and returns the number of bytes
    /// written. On error nothing is guaranteed about `out` except that no byte
    /// past `encoded_len()` was touched.
    ///
    /// # Errors
    ///
    /// [`EncodeError::Overflow`] when a value does not fit its declared bits
    /// (checked before anything is written), [`EncodeError::BufferTooSmall`]
    /// when `out` is shorter than [`encoded_len`](SegmentRecord::encoded_len),
    /// [`EncodeError::LengthOverflow`] when a variable field is too long for
    /// its length field.
    fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError>;

    /// Checks, without writing anything, that `self` can be encoded: returns
    /// the error [`encode`](SegmentRecord::encode) would return for a large
    /// enough buffer. The derive checks values against their bits and the
    /// lengths of variable fields, also of embedded records; the default
    /// accepts everything.
    ///
    /// # Errors
    ///
    /// [`EncodeError::Overflow`] or [`EncodeError::LengthOverflow`].
    fn check_encode(&self) -> Result<(), EncodeError> {
        Ok(())
    }

    /// Decodes an owned value from the bytes of one record.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when `encoded` is not a valid record of this type.
    fn decode(encoded: &[u8]) -> Result<Self, DecodeError>;

    /// Validates `encoded` once and returns a view whose getters cannot fail.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when `encoded` is not a valid record of this type
    /// (truncated, lengths past the end, invalid UTF-8, ...).
    fn view(encoded: &[u8]) -> Result<Self::Ref<'_>, DecodeError>;

    /// Length of the record that starts with `prefix`, read from its fixed
    /// part; `prefix` needs at least [`FIXED_LEN`](SegmentRecord::FIXED_LEN)
    /// bytes.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`] when `prefix` is shorter than the fixed part.
    fn record_len(prefix: &[u8]) -> Result<usize, DecodeError>;

    /// The owned key of `self`.
    fn key(&self) -> Self::Key;

    /// Compares the keys of two encoded records; equals comparing their
    /// canonical keys as bytes.
    fn compare_key(a: &[u8], b: &[u8]) -> Ordering;

    /// Whether two encoded records have equal keys.
    fn key_eq(a: &[u8], b: &[u8]) -> bool {
        Self::compare_key(a, b) == Ordering::Equal
    }

    /// Seeded hash of the key of an encoded record. A function of the
    /// canonical key and `seed` only, so equal keys hash equal across record
    /// types whose key fields match.
    fn hash_key(encoded: &[u8], seed: u64) -> u64;

    /// Appends the canonical key of an encoded record to `out`.
    fn write_key(encoded: &[u8], out: &mut Vec<u8>);

    /// Writes the normalized key of an encoded record into
    /// `out[..NORMALIZED_KEY_LEN]`; `out` must be at least that long.
    fn write_normalized_key(encoded: &[u8], out: &mut [u8]);

    /// The first 16 bytes of the normalized key of an encoded record as one
    /// big-endian integer, left-aligned, with zeros past the key: comparing
    /// two words compares those bytes as `memcmp` would.
    ///
    /// The derive computes it in registers for fixed-width keys of up to 16
    /// bytes (no byte buffer written and read back, which would stall the
    /// load on store forwarding); this default goes through
    /// [`write_normalized_key`](SegmentRecord::write_normalized_key).
    #[inline]
    fn normalized_key_word(encoded: &[u8]) -> u128 {
        let n = Self::NORMALIZED_KEY_LEN;
        let mut w = [0u8; 64];
        if n <= w.len() {
            Self::write_normalized_key(encoded, &mut w[..n]);
        } else {
            let mut v = std::vec![0u8; n];
            Self::write_normalized_key(encoded, &mut v);
            w.copy_from_slice(&v[..64]);
        }
        let mut head = [0u8; 16];
        head.copy_from_slice(&w[..16]);
        u128::from_be_bytes(head)
    }

    /// [`normalized_key_word`](SegmentRecord::normalized_key_word) of
    /// `self` once encoded, computed from the fields where the derive can
    /// (so a sorter can place a record by its key before encoding it). For a
    /// record that fails to encode the result is unspecified.
    ///
    /// This default encodes `self` first.
    #[inline]
    fn normalized_key_word_of(&self) -> u128 {
        let len = self.encoded_len();
        let mut buf = [0u8; 256];
        if len <= buf.len() {
            return match self.encode(&mut buf[..len]) {
                Ok(_) => Self::normalized_key_word(&buf[..len]),
                Err(_) => 0,
            };
        }
        let mut v = std::vec![0u8; len];
        match self.encode(&mut v) {
            Ok(_) => Self::normalized_key_word(&v),
            Err(_) => 0,
        }
    }

    /// Whether any `Option` part of the key of an encoded record is `None`,
    /// also inside the key of an embedded record. Joins use it for SQL
    /// semantics: a key with a null part matches nothing.
    ///
    /// The derive generates straight-line code that tests exactly the null
    /// bits of the `Option` key fields (one masked byte per byte holding
    /// some) and asks embedded key records their own `key_has_null`; for a
    /// key without `Option` or embedded parts it is the constant `false`.
    /// This default, for hand-written impls, reads the null bits of the
    /// `Option` key fields that [`LAYOUT`](SegmentRecord::LAYOUT) lists
    /// ([`Layout::key_field_is_null`]), without looking into embedded
    /// records; for a key without `Option` fields it is a constant `false`.
    /// Hand-written impls whose `LAYOUT` does not list fields override it.
    #[inline]
    fn key_has_null(encoded: &[u8]) -> bool {
        if !const { Self::LAYOUT.has_nullable_key() } {
            return false;
        }
        Self::LAYOUT.key_field_is_null(encoded)
    }

    /// Writes the canonical key of an encoded record through `w`, which
    /// keeps the bytes that fit its buffer: how a parent record puts the key
    /// of an embedded one into its own normalized key. The derive generates
    /// a version that writes straight into the buffer; this default builds
    /// the whole canonical key in a vector first, which allocates.
    #[doc(hidden)]
    fn write_key_prefix(encoded: &[u8], w: &mut codec::PrefixWriter<'_>) {
        let mut key = Vec::new();
        Self::write_key(encoded, &mut key);
        w.put(&key);
    }
}

/// A zero-copy view of one encoded record, borrowed for `'a`.
pub trait RecordRef<'a>: Copy + Debug {
    /// The owned record type.
    type Owned: SegmentRecord;

    /// The encoded bytes this view reads from.
    fn bytes(&self) -> &'a [u8];

    /// Decodes an owned value. Cannot fail: the bytes were validated when the
    /// view was made.
    fn to_owned(&self) -> Self::Owned;

    /// Same as [`to_owned`](RecordRef::to_owned), under a name that generic
    /// code can call as a method: views are `Clone`, so `r.to_owned()` on a
    /// `T::Ref<'_>` is ambiguous with `ToOwned::to_owned` (derived views also
    /// have an inherent `to_owned`, which wins on concrete types).
    fn to_record(&self) -> Self::Owned {
        RecordRef::to_owned(self)
    }
}

/// A fieldless enum stored in the fewest bits that number its variants,
/// usually derived with `#[derive(SegmentEnum)]`.
pub trait SegmentEnum: Sized + Copy {
    /// Bits one value takes: `ceil(log2(VARIANTS))`, at least 1.
    const BITS: u32;
    /// Number of variants.
    const VARIANTS: u32;
    /// The variant's index in declaration order.
    fn to_index(self) -> u32;
    /// The variant at `index`, `None` when out of range.
    fn from_index(index: u32) -> Option<Self>;
}
