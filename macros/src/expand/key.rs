//! The key: `Key`, `key()`, and the functions on encoded records:
//! `compare_key`, `hash_key`, `write_key` (the canonical key),
//! `write_normalized_key` and `key_has_null`.
//!
//! Canonical form of each key part (see `segrec_core::record`): an `Option`
//! starts with a null marker byte (`nulls first`: `None` 0, `Some` 1; `nulls
//! last`: `Some` 0, `None` 1) and a `None` of a fixed-width type is followed by
//! zeros; integers are big-endian in `ceil(bits / 8)` bytes with the sign bit
//! flipped; floats in IEEE total order; `bool` one byte; strings and bytes
//! escaped and terminated; `desc` inverts the value bytes (not the marker).
//! Every part is computed from a "key word" (the order-preserving unsigned
//! form of the stored bits), so comparing and hashing need no byte buffer.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::encode::zero_of;
use super::layout::prim_key_len;
use super::{Ctx, Plan, codec, read_raw, to_raw};
use crate::parse::{Prim, Shape};

/// The key word of a primitive stored at `off` of `buf`, and the width of
/// that word's type in bytes (8 or 16).
fn key_word(cx: &Ctx<'_>, p: Prim, bits: u32, buf: &TokenStream, off: &TokenStream) -> (TokenStream, usize) {
    key_word_of_raw(cx, p, bits, read_raw(&cx.rt, buf, off, bits))
}

/// The key word of a primitive whose stored bits are `raw` (a `u64`, or a
/// `u128` past 64 bits).
fn key_word_of_raw(cx: &Ctx<'_>, p: Prim, bits: u32, raw: TokenStream) -> (TokenStream, usize) {
    let rt = &cx.rt;
    let wide = bits > 64;
    let w = match p {
        Prim::I(_) if wide => {
            let s = bits - 1;
            quote!((#raw ^ (1u128 << #s)))
        }
        Prim::I(_) => {
            let s = bits - 1;
            quote!((#raw ^ (1u64 << #s)))
        }
        Prim::F32 => quote!((#rt::f32_key(#raw as u32) as u64)),
        Prim::F64 => quote!(#rt::f64_key(#raw)),
        _ => raw,
    };
    (w, if wide { 16 } else { 8 })
}

/// The stored bits (`raw` as `read_raw` gives them) of the primitive value
/// `v`, `bits` wide.
fn raw_of_value(p: Prim, bits: u32, v: &TokenStream) -> TokenStream {
    let raw = to_raw(p, v);
    match bits {
        128 => quote!((#raw as u128)),
        64 => quote!((#raw as u64)),
        b if b > 64 => {
            let mask: u128 = (1u128 << b) - 1;
            quote!(((#raw as u128) & #mask))
        }
        b => {
            let mask: u64 = (1u64 << b) - 1;
            quote!(((#raw as u64) & #mask))
        }
    }
}

/// `(word ^ inversion).to_be_bytes()[..]`: the part's canonical bytes.
fn key_bytes(word: &TokenStream, sz: usize, len: usize, desc: bool) -> TokenStream {
    let start = sz - len;
    if !desc {
        return quote!(&(#word).to_be_bytes()[#start..]);
    }
    if sz == 16 {
        let inv: u128 = if len == 16 { u128::MAX } else { (1u128 << (len * 8)) - 1 };
        quote!(&((#word) ^ #inv).to_be_bytes()[#start..])
    } else {
        let inv: u64 = if len == 8 { u64::MAX } else { (1u64 << (len * 8)) - 1 };
        quote!(&((#word) ^ #inv).to_be_bytes()[#start..])
    }
}

/// Which parts of the key a function body works on.
struct Part<'p, 'r> {
    p: &'p Plan<'r>,
    desc: bool,
    nulls_last: bool,
}

pub fn items(cx: &Ctx<'_>) -> TokenStream {
    let (core, rt) = (&cx.core, &cx.rt);
    let plans = cx.key_plans();
    let parts: Vec<Part<'_, '_>> = plans
        .iter()
        .map(|p| {
            let k = p.key().expect("key part");
            Part { p, desc: k.desc, nulls_last: k.nulls_last }
        })
        .collect();
    let upto = parts.iter().filter_map(|k| k.p.var).max().map_or(0, |i| i + 1);
    let static_fixed = parts.iter().all(|k| matches!(k.p.shape(), Shape::Prim(_) | Shape::Array(..)));

    // Key type and key().
    let key_tys = parts.iter().map(|k| match k.p.shape() {
        Shape::Nested(t) => {
            let c = codec(core, t);
            if k.p.optional() { quote!(::core::option::Option<#c::KeyPart>) } else { quote!(#c::KeyPart) }
        }
        _ => {
            let t = &k.p.field.ty;
            quote!(#t)
        }
    });
    let key_vals = parts.iter().map(|k| {
        let f = k.p.ident();
        match k.p.shape() {
            Shape::Nested(t) => {
                let c = codec(core, t);
                if k.p.optional() {
                    quote!(self.#f.as_ref().map(#c::key_part))
                } else {
                    quote!(#c::key_part(&self.#f))
                }
            }
            _ => quote!(::core::clone::Clone::clone(&self.#f)),
        }
    });

    let key_body = if parts.is_empty() { quote!() } else { quote!((#(#key_vals,)*)) };
    let a = quote!(a);
    let b = quote!(b);
    let e = quote!(encoded);
    let slices_ab = if upto > 0 {
        let sa = cx.var_slices(&a, "__a", upto);
        let sb = cx.var_slices(&b, "__b", upto);
        quote!(#sa #sb)
    } else {
        quote!()
    };
    let slices_e = if upto > 0 { cx.var_slices(&e, "__e", upto) } else { quote!() };

    let compares = parts.iter().map(|k| compare(cx, k));
    let hashes = parts.iter().map(|k| hash(cx, k));
    let writes = parts.iter().map(|k| write_part(cx, k, Sink::Vec));
    let prefix_body = key_prefix(cx, &parts, &slices_e);
    let null_body = key_null(cx, &parts);
    let norm = if static_fixed {
        norm_fixed(cx, &parts)
    } else {
        let (rt, owner) = (&cx.rt, &cx.owner);
        quote! {
            let o: &mut [u8] = match out.get_mut(..#owner::NORMALIZED_KEY_LEN) {
                ::core::option::Option::Some(o) => o,
                ::core::option::Option::None => return,
            };
            let mut w = #rt::PrefixWriter::new(o, 0);
            #owner::write_key_prefix(encoded, &mut w);
            w.finish();
        }
    };
    let words = if static_fixed {
        norm_word(cx, &parts, Source::Encoded).zip(norm_word(cx, &parts, Source::Value))
    } else {
        None
    };
    let norm_word = words.map(|(encoded, value)| {
        quote! {
            #[inline]
            #[allow(unused_variables)]
            fn normalized_key_word(encoded: &[u8]) -> u128 {
                #encoded
            }

            #[inline]
            fn normalized_key_word_of(&self) -> u128 {
                #value
            }
        }
    });
    quote! {
        type Key = (#(#key_tys,)*);

        #norm_word

        #[inline]
        fn key(&self) -> Self::Key {
            #key_body
        }

        #[inline]
        #[allow(unused_variables)]
        fn compare_key(a: &[u8], b: &[u8]) -> ::core::cmp::Ordering {
            #slices_ab
            #(
                let o: ::core::cmp::Ordering = #compares;
                if o != ::core::cmp::Ordering::Equal {
                    return o;
                }
            )*
            ::core::cmp::Ordering::Equal
        }

        #[inline]
        #[allow(unused_variables)]
        fn hash_key(encoded: &[u8], seed: u64) -> u64 {
            #slices_e
            #[allow(unused_mut)]
            let mut h = #rt::KeyHasher::new(seed);
            #(#hashes)*
            h.finish()
        }

        #[allow(unused_variables)]
        fn write_key(encoded: &[u8], out: &mut ::std::vec::Vec<u8>) {
            #slices_e
            #(#writes)*
        }

        #[inline]
        #[allow(unused_variables)]
        fn write_normalized_key(encoded: &[u8], out: &mut [u8]) {
            #norm
        }

        #[inline]
        #[allow(unused_variables)]
        fn write_key_prefix(encoded: &[u8], w: &mut #rt::PrefixWriter<'_>) {
            #prefix_body
        }

        #[inline]
        #[allow(unused_variables)]
        fn key_has_null(encoded: &[u8]) -> bool {
            #null_body
        }
    }
}

/// The body of `key_has_null`, straight-line: one masked byte per byte of
/// the fixed part holding null bits of `Option` key parts at literal
/// offsets, one bit per such part at a constant-expression offset, and the
/// embedded codec's `key_has_null` for each nested part (`false`, once
/// inlined, for enums and primitives), or'ed without short-circuit. `false`
/// when the key has neither `Option` nor nested parts.
fn key_null(cx: &Ctx<'_>, parts: &[Part<'_, '_>]) -> TokenStream {
    let (rt, e) = (&cx.rt, quote!(encoded));
    // Null-bit masks by byte, in byte order, for literal offsets.
    let mut bytes: Vec<(usize, u8)> = Vec::new();
    let mut tests = Vec::new();
    let mut upto = 0;
    for k in parts {
        let p = k.p;
        if p.optional() {
            if p.off.terms.is_empty() {
                let (byte, bit) = (p.off.lit / 8, p.off.lit % 8);
                match bytes.iter_mut().find(|(b, _)| *b == byte) {
                    Some((_, mask)) => *mask |= 1 << bit,
                    None => bytes.push((byte, 1 << bit)),
                }
            } else {
                let off = &p.off;
                tests.push(quote!(#rt::any_null_bit(#e, #off / 8, 1u8 << (#off % 8))));
            }
        }
        if let Shape::Nested(t) = p.shape() {
            let c = codec(&cx.core, t);
            let (fx, s) = (cx.nested_fixed(p, &e), slice(k, "__e"));
            tests.push(quote!(#c::key_has_null(#fx, #s)));
            upto = upto.max(p.var.map_or(0, |i| i + 1));
        }
    }
    bytes.sort_unstable();
    let mut all: Vec<TokenStream> =
        bytes.iter().map(|(byte, mask)| quote!(#rt::any_null_bit(#e, #byte, #mask))).collect();
    all.extend(tests);
    if all.is_empty() {
        return quote!(false);
    }
    let slices = if upto > 0 { cx.var_slices(&e, "__e", upto) } else { quote!() };
    quote! {
        #slices
        #((#all))|*
    }
}

/// Wraps the value part of an optional key part with its null handling.
fn with_nulls(
    cx: &Ctx<'_>,
    k: &Part<'_, '_>,
    buf: &TokenStream,
    some: TokenStream,
    none: TokenStream,
) -> TokenStream {
    if !k.p.optional() {
        return some;
    }
    let present = cx.present(k.p, buf);
    quote!(if #present { #some } else { #none })
}

fn marker(k: &Part<'_, '_>, some: bool) -> u8 {
    u8::from(some != k.nulls_last)
}

/// The var slice name of a part in a buffer with prefix `pre`.
fn slice(k: &Part<'_, '_>, pre: &str) -> proc_macro2::Ident {
    format_ident!("{}{}", pre, k.p.var.unwrap_or(0))
}

fn compare(cx: &Ctx<'_>, k: &Part<'_, '_>) -> TokenStream {
    let (rt, p, desc) = (&cx.rt, k.p, k.desc);
    let (a, b) = (quote!(a), quote!(b));
    let val_off = &p.val_off;
    let bits = p.s.bits;
    let value = match p.shape() {
        Shape::Prim(pr) => {
            let (ka, _) = key_word(cx, *pr, bits, &a, &quote!(#val_off));
            let (kb, _) = key_word(cx, *pr, bits, &b, &quote!(#val_off));
            quote!(#rt::order((#ka).cmp(&(#kb)), #desc))
        }
        Shape::Array(pr, len) => {
            let off = quote!(#val_off + __i * #bits as usize);
            let (ka, _) = key_word(cx, *pr, bits, &a, &off);
            let (kb, _) = key_word(cx, *pr, bits, &b, &off);
            quote!({
                let mut o = ::core::cmp::Ordering::Equal;
                for __i in 0..(#len) as usize {
                    o = (#ka).cmp(&(#kb));
                    if o != ::core::cmp::Ordering::Equal { break; }
                }
                #rt::order(o, #desc)
            })
        }
        Shape::Str | Shape::Bytes => {
            let (sa, sb) = (slice(k, "__a"), slice(k, "__b"));
            quote!(#rt::order(#sa.cmp(#sb), #desc))
        }
        Shape::Nested(t) => {
            let c = codec(&cx.core, t);
            let (sa, sb) = (slice(k, "__a"), slice(k, "__b"));
            let (fa, fb) = (cx.nested_fixed(p, &a), cx.nested_fixed(p, &b));
            quote!(#rt::order(#c::compare_key(#fa, #sa, #fb, #sb), #desc))
        }
    };
    if !p.optional() {
        return value;
    }
    let (pa, pb) = (cx.present(p, &a), cx.present(p, &b));
    let nl = k.nulls_last;
    quote!(match #rt::cmp_nulls(#pa, #pb, #nl) {
        ::core::option::Option::Some(o) => o,
        ::core::option::Option::None => #value,
    })
}

fn hash(cx: &Ctx<'_>, k: &Part<'_, '_>) -> TokenStream {
    let p = k.p;
    let e = quote!(encoded);
    let val_off = &p.val_off;
    let bits = p.s.bits;
    let value = match p.shape() {
        Shape::Prim(pr) => {
            let (w, sz) = key_word(cx, *pr, bits, &e, &quote!(#val_off));
            if sz == 16 { quote!(h.write_u128(#w);) } else { quote!(h.write_u64(#w);) }
        }
        Shape::Array(pr, len) => {
            let (w, sz) = key_word(cx, *pr, bits, &e, &quote!(#val_off + __i * #bits as usize));
            let wr = if sz == 16 { quote!(h.write_u128(#w);) } else { quote!(h.write_u64(#w);) };
            quote!(for __i in 0..(#len) as usize { #wr })
        }
        Shape::Str | Shape::Bytes => {
            let s = slice(k, "__e");
            quote!(h.write_bytes(#s);)
        }
        Shape::Nested(t) => {
            let c = codec(&cx.core, t);
            let s = slice(k, "__e");
            let fx = cx.nested_fixed(p, &e);
            quote!(#c::hash_key(#fx, #s, &mut h);)
        }
    };
    if !p.optional() {
        return value;
    }
    let present = cx.present(p, &e);
    quote!({
        let __some = #present;
        h.write_u64(__some as u64);
        if __some { #value }
    })
}

/// Bytes of the canonical key of a `None` fixed-width value (zeros).
fn none_len(cx: &Ctx<'_>, p: &Plan<'_>) -> TokenStream {
    match p.shape() {
        Shape::Prim(pr) => {
            let l = prim_key_len(*pr, p.s.bits);
            quote!(#l)
        }
        Shape::Array(pr, len) => {
            let l = prim_key_len(*pr, p.s.bits);
            quote!((#l * (#len) as usize))
        }
        Shape::Str | Shape::Bytes => quote!(0usize),
        Shape::Nested(t) => {
            let c = codec(&cx.core, t);
            quote!((if #c::KEY_IS_PREFIX { 0 } else { #c::KEY_NORM_LEN }))
        }
    }
}

/// Where generated code writes a canonical key: the targets differ only in
/// how bytes are appended, so each part's encoding is generated once (by
/// [`write_part`]) and only these appends per target.
#[derive(Clone, Copy)]
enum Sink {
    /// `out: &mut Vec<u8>`, the whole key (`write_key`).
    Vec,
    /// `w: &mut PrefixWriter`, which drops what does not fit its buffer
    /// (`write_key_prefix`).
    Prefix,
    /// `o: &mut [u8]`, exactly the normalized key, from byte `__at` on
    /// (`write_norm` of a key of primitives and arrays, see [`norm_fixed`]):
    /// every `__at` is a constant once the optimizer folds it.
    Fixed,
}

impl Sink {
    /// Appends the bytes of the `&[u8]` expression `bytes`.
    fn put(self, bytes: &TokenStream) -> TokenStream {
        match self {
            Sink::Vec => quote!(out.extend_from_slice(#bytes);),
            Sink::Prefix => quote!(w.put(#bytes);),
            Sink::Fixed => quote!({
                let __b: &[u8] = #bytes;
                o[__at..__at + __b.len()].copy_from_slice(__b);
                __at += __b.len();
            }),
        }
    }

    /// Appends one literal byte (a null marker).
    fn put_byte(self, b: u8) -> TokenStream {
        match self {
            Sink::Vec => quote!(out.push(#b);),
            Sink::Prefix => quote!(w.put(&[#b]);),
            Sink::Fixed => quote!(o[__at] = #b; __at += 1;),
        }
    }

    /// Appends `n` zero bytes.
    fn put_zeros(self, n: &TokenStream) -> TokenStream {
        match self {
            Sink::Vec => quote!(out.resize(out.len() + #n, 0);),
            Sink::Prefix => quote!(w.put_zeros(#n);),
            Sink::Fixed => quote!(o[__at..__at + #n].fill(0); __at += #n;),
        }
    }

    /// Appends the escaped and terminated form of the byte slice `s`.
    fn put_escaped(self, rt: &TokenStream, s: &proc_macro2::Ident, desc: bool) -> TokenStream {
        match self {
            Sink::Vec => quote!(#rt::write_escaped(#s, #desc, out);),
            Sink::Prefix => quote!(w.put_escaped(#s, #desc);),
            Sink::Fixed => unreachable!("a fixed-width key has no strings"),
        }
    }

    /// Appends the canonical key of a nested value (codec `c`, fixed bits
    /// `fx`, variable bytes `s`), inverted when `desc`.
    fn put_nested(
        self,
        c: &TokenStream,
        fx: &TokenStream,
        s: &proc_macro2::Ident,
        desc: bool,
    ) -> TokenStream {
        match self {
            Sink::Vec => quote!({
                let __start = out.len();
                #c::write_key(#fx, #s, out);
                if #desc {
                    for __b in &mut out[__start..] { *__b = !*__b; }
                }
            }),
            Sink::Prefix => quote!({
                if !#c::KEY_IS_PREFIX && #c::KEY_NORM_LEN <= 64 {
                    // A fixed-width key: its straight-line normalized form.
                    let mut __t = [0u8; 64];
                    let __t = &mut __t[..#c::KEY_NORM_LEN];
                    #c::write_norm(#fx, #s, __t);
                    if #desc { for __b in __t.iter_mut() { *__b = !*__b; } }
                    w.put(__t);
                } else {
                    let __start = w.position();
                    #c::write_key_prefix(#fx, #s, w);
                    if #desc { w.invert_from(__start); }
                }
            }),
            Sink::Fixed => unreachable!("a fixed-width key has no embedded records"),
        }
    }
}

/// The canonical bytes of one key part of `encoded`, written to `sink`:
/// straight-line code for every part but arrays (a loop over the elements)
/// and strings (the escape loop).
fn write_part(cx: &Ctx<'_>, k: &Part<'_, '_>, sink: Sink) -> TokenStream {
    let (rt, p, desc) = (&cx.rt, k.p, k.desc);
    let e = quote!(encoded);
    let val_off = &p.val_off;
    let bits = p.s.bits;
    let value = match p.shape() {
        Shape::Prim(pr) => {
            let (w, sz) = key_word(cx, *pr, bits, &e, &quote!(#val_off));
            sink.put(&key_bytes(&w, sz, prim_key_len(*pr, bits), desc))
        }
        Shape::Array(pr, len) => {
            let (w, sz) = key_word(cx, *pr, bits, &e, &quote!(#val_off + __i * #bits as usize));
            let put = sink.put(&key_bytes(&w, sz, prim_key_len(*pr, bits), desc));
            quote!(for __i in 0..(#len) as usize { #put })
        }
        Shape::Str | Shape::Bytes => sink.put_escaped(rt, &slice(k, "__e"), desc),
        Shape::Nested(t) => {
            let c = codec(&cx.core, t);
            sink.put_nested(&c, &cx.nested_fixed(p, &e), &slice(k, "__e"), desc)
        }
    };
    if !p.optional() {
        return value;
    }
    let (m1, m0) = (sink.put_byte(marker(k, true)), sink.put_byte(marker(k, false)));
    let zeros = sink.put_zeros(&none_len(cx, p));
    with_nulls(cx, k, &e, quote!(#m1 #value), quote!(#m0 #zeros))
}

/// Normalized key of a key made of primitives and arrays only: the whole
/// canonical key, written straight-line at constant offsets.
fn norm_fixed(cx: &Ctx<'_>, parts: &[Part<'_, '_>]) -> TokenStream {
    let owner = &cx.owner;
    let body = parts.iter().map(|k| write_part(cx, k, Sink::Fixed));
    quote! {
        let o: &mut [u8] = match out.get_mut(..#owner::NORMALIZED_KEY_LEN) {
            ::core::option::Option::Some(o) => o,
            ::core::option::Option::None => return,
        };
        let mut __at = 0usize;
        #(#body)*
        debug_assert_eq!(__at, #owner::NORMALIZED_KEY_LEN);
    }
}

/// Where `norm_word` reads key parts from.
#[derive(Clone, Copy)]
enum Source {
    /// The encoded record `encoded`.
    Encoded,
    /// The fields of `self`.
    Value,
}

/// The body of `normalized_key_word` (or, from `self`,
/// `normalized_key_word_of`) for a fixed-width key of at most 16 bytes at
/// literal offsets: each part's canonical bytes (the low bytes of its key
/// word) shifted into place in one `u128`, with no byte buffer. `None` (the
/// trait's default serves) for longer keys or arrays of non-literal length.
fn norm_word(cx: &Ctx<'_>, parts: &[Part<'_, '_>], from: Source) -> Option<TokenStream> {
    let e = quote!(encoded);
    // `len` canonical bytes of `word` (`sz` bytes wide) at key byte `at`.
    let place = |word: &TokenStream, sz: usize, len: usize, desc: bool, at: usize| -> Option<TokenStream> {
        let shift = 128usize.checked_sub(8 * (at + len))?;
        let mask: u128 = if len >= 16 { u128::MAX } else { (1u128 << (8 * len)) - 1 };
        let word = if desc {
            if sz == 16 { quote!(!(#word)) } else { quote!(!((#word) as u64)) }
        } else {
            quote!(#word)
        };
        Some(quote!((((#word) as u128) & #mask) << #shift))
    };
    let mut at = 0usize;
    let mut terms = Vec::new();
    for k in parts {
        let p = k.p;
        let (val_off, bits, f) = (&p.val_off, p.s.bits, p.ident());
        // The key word of the part's primitive (element `i` of an array).
        let word = |pr: Prim, i: Option<usize>| match (from, i) {
            (Source::Encoded, None) => key_word(cx, pr, bits, &e, &quote!(#val_off)),
            (Source::Encoded, Some(i)) => key_word(cx, pr, bits, &e, &quote!(#val_off + #i * #bits as usize)),
            (Source::Value, i) => {
                let zero = zero_of(pr);
                let v = match (p.optional(), i) {
                    (false, None) => quote!(self.#f),
                    (true, None) => quote!(self.#f.unwrap_or(#zero)),
                    (false, Some(i)) => quote!(self.#f[#i]),
                    (true, Some(i)) => quote!(self.#f.as_ref().map_or(#zero, |a| a[#i])),
                };
                key_word_of_raw(cx, pr, bits, raw_of_value(pr, bits, &v))
            }
        };
        let vo = at + usize::from(p.optional());
        let (value, vlen) = match p.shape() {
            Shape::Prim(pr) => {
                let len = prim_key_len(*pr, bits);
                let (w, sz) = word(*pr, None);
                (place(&w, sz, len, k.desc, vo)?, len)
            }
            Shape::Array(pr, n) => {
                let n = super::array_len(n)?;
                let len = prim_key_len(*pr, bits);
                let mut elems = Vec::new();
                for i in 0..n {
                    let (w, sz) = word(*pr, Some(i));
                    elems.push(place(&w, sz, len, k.desc, vo + i * len)?);
                }
                (quote!(0u128 #(| #elems)*), n * len)
            }
            _ => return None,
        };
        if p.optional() {
            let (m1, m0) = (marker(k, true), marker(k, false));
            let shift = 128usize.checked_sub(8 * (at + 1))?;
            let present = match from {
                Source::Encoded => cx.present(p, &e),
                Source::Value => quote!(self.#f.is_some()),
            };
            terms.push(quote!(if #present {
                ((#m1 as u128) << #shift) | #value
            } else {
                (#m0 as u128) << #shift
            }));
        } else {
            terms.push(value);
        }
        at = vo + vlen;
    }
    if at > 16 {
        return None;
    }
    Some(quote!(0u128 #(| (#terms))*))
}

/// The canonical key written through a truncating cursor `w`, part by part,
/// stopping once the cursor is full: the body of `write_key_prefix`, and so
/// the normalized key of keys with variable or nested parts. Nothing here
/// allocates, also for nested parts whose own key is variable.
fn key_prefix(cx: &Ctx<'_>, parts: &[Part<'_, '_>], slices: &TokenStream) -> TokenStream {
    let mut body = Vec::new();
    for k in parts {
        body.push(write_part(cx, k, Sink::Prefix));
        body.push(quote!(if w.is_full() {
            return;
        }));
    }
    quote! {
        #slices
        #(#body)*
    }
}

#[cfg(test)]
mod tests {
    /// The generated body of `key_has_null` for the struct `src`, as tokens
    /// print.
    fn key_has_null_body(src: &str) -> String {
        let input: syn::DeriveInput = syn::parse_str(src).expect("test input is Rust");
        let rec = crate::check::record(&input).expect("test input is a valid record");
        let out = super::super::record(&rec).to_string();
        let start = out.find("fn key_has_null").expect("key_has_null is generated");
        let open = start + out[start..].find('{').expect("a body");
        let mut depth = 0;
        for (i, c) in out[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return out[open + 1..open + i].trim().to_string();
                    }
                }
                _ => {}
            }
        }
        panic!("unbalanced braces in {out}");
    }

    #[test]
    fn a_key_without_option_parts_is_the_constant_false() {
        let body = key_has_null_body(
            "struct A { #[segment(key)] a: u32, b: Option<u8>, #[segment(key, desc)] s: String }",
        );
        assert_eq!(body, "false");
        assert_eq!(key_has_null_body("struct B { a: Option<u32> }"), "false");
    }

    #[test]
    fn option_parts_are_tested_one_masked_byte_per_byte() {
        // `c` is laid out first (a whole word of 32 bits), then the others
        // in order: null bits at bits 32 and 34 (byte 4, mask 0b101) and,
        // past `g`'s 7 bits, 43 (byte 5, mask 1 << 3); the non-key
        // `Option` at bit 52 is not tested.
        let body = key_has_null_body(
            "struct C { #[segment(key)] a: Option<bool>, #[segment(key, nulls_last)] b: Option<bool>, c: u32, \
             #[segment(bits = 7)] g: u8, #[segment(key, desc)] d: Option<u8>, e: Option<u8> }",
        );
        assert_eq!(body.matches("any_null_bit").count(), 2, "{body}");
        assert!(body.contains("any_null_bit (encoded , 4usize , 5u8)"), "{body}");
        assert!(body.contains("any_null_bit (encoded , 5usize , 8u8)"), "{body}");
        assert!(!body.contains("let") && !body.contains("for") && !body.contains("Vec"), "{body}");
    }
}
