//! `encoded_len`, `encode` and `record_len`.
//!
//! `encode` checks everything that can fail first (values too wide for their
//! bits, lengths too long for their length fields, the buffer's size), then
//! zeroes the fixed part and writes each field at its constant offset.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ext::IdentExt;

use super::{Ctx, Plan, codec, to_raw, write_raw};
use crate::parse::{Prim, Shape};

pub fn methods(cx: &Ctx<'_>) -> TokenStream {
    let core = &cx.core;
    let owner = &cx.owner;
    let mut lens = Vec::new();
    let mut checks = Vec::new();
    let mut writes = Vec::new();
    let mut var_writes = Vec::new();
    let out = quote!(__out);
    for p in &cx.plans {
        let f = p.ident();
        let name = &p.name;
        checks.push(overflow_check(cx, p));
        if let Some(i) = p.var {
            let l = format_ident!("__l{}", i);
            let len = var_len_of_value(cx, p);
            lens.push(quote!(#l));
            checks.push(quote! {
                let #l: usize = #len;
            });
            if let Shape::Nested(ty) = p.shape() {
                let c = codec(core, ty);
                let fx = format_ident!("__fx{}", i);
                checks.push(if p.optional() {
                    quote! {
                        let #fx: ::core::option::Option<u64> = match &self.#f {
                            ::core::option::Option::Some(v) => ::core::option::Option::Some(#c::fixed(v, #name)?),
                            ::core::option::Option::None => ::core::option::Option::None,
                        };
                    }
                } else {
                    quote!(let #fx: u64 = #c::fixed(&self.#f, #name)?;)
                });
            }
            if matches!(p.shape(), Shape::Str | Shape::Bytes) {
                checks.push(quote! {
                    if #l > u32::MAX as usize {
                        return ::core::result::Result::Err(#core::EncodeError::LengthOverflow { field: #name, len: #l });
                    }
                });
            }
        }
        writes.push(write_field(cx, p, &out));
        if let Some(i) = p.var {
            let l = format_ident!("__l{}", i);
            let w = match (p.shape(), p.optional()) {
                (Shape::Str, false) => quote!(__dst.copy_from_slice(self.#f.as_bytes());),
                (Shape::Bytes, false) => quote!(__dst.copy_from_slice(&self.#f);),
                (Shape::Str, true) => {
                    quote!(if let Some(v) = &self.#f { __dst.copy_from_slice(v.as_bytes()); })
                }
                (Shape::Bytes, true) => quote!(if let Some(v) = &self.#f { __dst.copy_from_slice(v); }),
                (Shape::Nested(ty), false) => {
                    let c = codec(core, ty);
                    quote!(#c::encode_var(&self.#f, __dst)?;)
                }
                (Shape::Nested(ty), true) => {
                    let c = codec(core, ty);
                    quote!(if let Some(v) = &self.#f { #c::encode_var(v, __dst)?; })
                }
                _ => quote!(),
            };
            var_writes.push(quote! {
                {
                    let __dst = &mut #out[__pos..__pos + #l];
                    #w
                    __pos += #l;
                }
            });
        }
    }
    let fixed_part = match packed_words(cx, &out) {
        Some(words) => words,
        None => quote! {
            #out[..#owner::FIXED_LEN].fill(0);
            #(#writes)*
        },
    };
    let len_exprs: Vec<_> = cx.var_plans().map(|p| var_len_of_value(cx, p)).collect();
    let stored_lens: Vec<_> = cx.var_plans().map(|p| cx.var_len(p, &quote!(prefix))).collect();
    quote! {
        #[inline]
        fn encoded_len(&self) -> usize {
            #owner::FIXED_LEN #(.saturating_add(#len_exprs))*
        }

        #[inline]
        #[allow(unused_variables)]
        fn check_encode(&self) -> ::core::result::Result<(), #core::EncodeError> {
            #(#checks)*
            ::core::result::Result::Ok(())
        }

        #[inline]
        fn encode(&self, __out: &mut [u8]) -> ::core::result::Result<usize, #core::EncodeError> {
            #(#checks)*
            let __len: usize = #owner::FIXED_LEN #(.saturating_add(#lens))*;
            if __out.len() < __len {
                return ::core::result::Result::Err(#core::EncodeError::BufferTooSmall {
                    needed: __len,
                    available: __out.len(),
                });
            }
            let #out = &mut #out[..__len];
            #fixed_part
            #[allow(unused_mut, unused_variables)]
            let mut __pos: usize = #owner::FIXED_LEN;
            #(#var_writes)*
            ::core::result::Result::Ok(__len)
        }

        #[inline]
        fn record_len(prefix: &[u8]) -> ::core::result::Result<usize, #core::DecodeError> {
            if prefix.len() < #owner::FIXED_LEN {
                return ::core::result::Result::Err(#core::DecodeError::Truncated {
                    needed: #owner::FIXED_LEN,
                    available: prefix.len(),
                });
            }
            ::core::result::Result::Ok(#owner::FIXED_LEN #(.saturating_add(#stored_lens))*)
        }
    }
}

/// Bytes a variable field of `self` takes in the variable part.
fn var_len_of_value(cx: &Ctx<'_>, p: &Plan<'_>) -> TokenStream {
    let f = p.ident();
    match (p.shape(), p.optional()) {
        (Shape::Str | Shape::Bytes, false) => quote!(self.#f.len()),
        (Shape::Str | Shape::Bytes, true) => quote!(self.#f.as_ref().map_or(0, |v| v.len())),
        (Shape::Nested(ty), false) => {
            let c = codec(&cx.core, ty);
            quote!(#c::var_len(&self.#f))
        }
        (Shape::Nested(ty), true) => {
            let c = codec(&cx.core, ty);
            quote!(self.#f.as_ref().map_or(0, |v| #c::var_len(v)))
        }
        _ => quote!(0usize),
    }
}

/// The `Overflow` check of an integer stored in fewer bits than its type.
fn overflow_check(cx: &Ctx<'_>, p: &Plan<'_>) -> TokenStream {
    let Some(prim) = p.shape().prim() else { return quote!() };
    let bits = p.s.bits;
    if !prim.is_int() || bits >= prim.width() {
        return quote!();
    }
    let (core, rt, name, f) = (&cx.core, &cx.rt, &p.name, p.ident());
    let fits = match prim {
        Prim::U(128) => quote!((v >> #bits) == 0),
        Prim::I(128) => {
            let s = bits - 1;
            quote!({ let s = v >> #s; s == 0 || s == -1 })
        }
        Prim::I(_) => quote!(#rt::fits_bits(v as i128, #bits, true)),
        _ => quote!(#rt::fits_bits(v as i128, #bits, false)),
    };
    // A `u128` above `i128::MAX` is reported saturated: the error's value
    // is an `i128`.
    let value = match prim {
        Prim::U(128) => quote!(i128::try_from(v).unwrap_or(i128::MAX)),
        _ => quote!(v as i128),
    };
    let check = quote! {
        if !(#fits) {
            return ::core::result::Result::Err(#core::EncodeError::Overflow { field: #name, value: #value, bits: #bits });
        }
    };
    match (p.shape(), p.optional()) {
        (Shape::Prim(_), false) => quote!({ let v = self.#f; #check }),
        (Shape::Prim(_), true) => quote!(if let Some(v) = self.#f { #check }),
        (Shape::Array(..), false) => quote!(for &v in self.#f.iter() { #check }),
        (Shape::Array(..), true) => quote!(if let Some(a) = &self.#f { for &v in a.iter() { #check } }),
        _ => quote!(),
    }
}

/// Writes one field's fixed bits into the zeroed fixed part.
fn write_field(cx: &Ctx<'_>, p: &Plan<'_>, out: &TokenStream) -> TokenStream {
    let (rt, core, f) = (&cx.rt, &cx.core, p.ident());
    let (off, val_off) = (&p.off, &p.val_off);
    let bits = p.s.bits;
    let null_bit = quote!(#rt::put_bits(#out, #off, 1, 1););
    let value = |v: TokenStream| -> TokenStream {
        match p.shape() {
            Shape::Prim(prim) => {
                let raw = to_raw(*prim, &v);
                write_raw(rt, out, &quote!(#val_off), bits, &raw)
            }
            Shape::Array(prim, _) => {
                let raw = to_raw(*prim, &quote!(e));
                let w = write_raw(rt, out, &quote!(#val_off + __i * #bits as usize), bits, &raw);
                quote!(for (__i, &e) in #v.iter().enumerate() { #w })
            }
            Shape::Str | Shape::Bytes => quote!(#rt::put_bits(#out, #val_off, 32, #v as u64);),
            Shape::Nested(ty) => {
                let c = codec(core, ty);
                quote!(#rt::put_bits(#out, #val_off, #c::FIXED_BITS, #v);)
            }
        }
    };
    match p.shape() {
        Shape::Str | Shape::Bytes => {
            let l = format_ident!("__l{}", p.var.unwrap_or(0));
            let w = value(quote!(#l));
            if p.optional() { quote!(if self.#f.is_some() { #null_bit #w }) } else { w }
        }
        Shape::Nested(_) => {
            let fx = format_ident!("__fx{}", p.var.unwrap_or(0));
            let w = value(quote!(__fx));
            if p.optional() {
                quote!(if let Some(__fx) = #fx { #null_bit #w })
            } else {
                quote!({ let __fx = #fx; #w })
            }
        }
        Shape::Prim(_) => {
            if p.optional() {
                let w = value(quote!(v));
                quote!(if let Some(v) = self.#f { #null_bit #w })
            } else {
                value(quote!(self.#f))
            }
        }
        Shape::Array(..) => {
            if p.optional() {
                let w = value(quote!(v));
                quote!(if let Some(v) = &self.#f { #null_bit #w })
            } else {
                value(quote!(self.#f))
            }
        }
    }
}

/// One run of bits of the fixed part: a `u64` expression holding exactly
/// `width` bits (already masked) to be stored at bit `off`.
struct Piece {
    off: usize,
    width: u32,
    value: TokenStream,
}

/// The fixed part assembled in 64-bit words and stored word by word, when
/// every offset is a literal (no nested field, no array of const-generic
/// length): no zeroing pass, no read-modify-write.
fn packed_words(cx: &Ctx<'_>, out: &TokenStream) -> Option<TokenStream> {
    if !cx.fixed_bits.terms.is_empty() {
        return None;
    }
    let mut lets = Vec::new();
    let mut pieces = Vec::new();
    for p in &cx.plans {
        let f = p.ident();
        let off = p.off.lit;
        let val_off = p.val_off.lit;
        let bits = p.s.bits;
        let n = format_ident!("__n_{}", f.unraw());
        if p.optional() {
            lets.push(quote!(let #n: u64 = self.#f.is_some() as u64;));
            pieces.push(Piece { off, width: 1, value: quote!(#n) });
        }
        // Raw value pieces of a primitive held in `v`.
        let mut prim_pieces = |v: TokenStream, prim: Prim, at: usize, name: proc_macro2::Ident| {
            let raw = to_raw(prim, &v);
            if bits > 64 {
                lets.push(quote!(let #name: u128 = #raw;));
                let hi_mask = crate_mask(bits - 64);
                pieces.push(Piece { off: at, width: 64, value: quote!((#name as u64)) });
                pieces.push(Piece {
                    off: at + 64,
                    width: bits - 64,
                    value: quote!((((#name >> 64) as u64) & #hi_mask)),
                });
            } else {
                let mask = crate_mask(bits);
                lets.push(quote!(let #name: u64 = (#raw as u64) & #mask;));
                pieces.push(Piece { off: at, width: bits, value: quote!(#name) });
            }
        };
        match p.shape() {
            Shape::Prim(prim) => {
                let name = format_ident!("__w_{}", f.unraw());
                let zero = zero_of(*prim);
                let v = if p.optional() { quote!(self.#f.unwrap_or(#zero)) } else { quote!(self.#f) };
                prim_pieces(v, *prim, val_off, name);
            }
            Shape::Array(prim, len) => {
                let n = super::array_len(len)?;
                let zero = zero_of(*prim);
                for i in 0..n {
                    let name = format_ident!("__w_{}_{}", f.unraw(), i);
                    let v = if p.optional() {
                        quote!(self.#f.as_ref().map_or(#zero, |a| a[#i]))
                    } else {
                        quote!(self.#f[#i])
                    };
                    prim_pieces(v, *prim, val_off + i * bits as usize, name);
                }
            }
            Shape::Str | Shape::Bytes => {
                let l = format_ident!("__l{}", p.var.unwrap_or(0));
                pieces.push(Piece { off: val_off, width: 32, value: quote!((#l as u64)) });
            }
            Shape::Nested(_) => return None,
        }
    }
    let total = cx.fixed_bits.lit.div_ceil(8);
    let mut stores = Vec::new();
    for k in 0..total.div_ceil(8) {
        let (lo, hi) = (64 * k, 64 * k + 64);
        let parts: Vec<TokenStream> = pieces
            .iter()
            .filter(|pc| pc.off < hi && pc.off + pc.width as usize > lo)
            .map(|pc| {
                let v = &pc.value;
                if pc.off >= lo {
                    let s = (pc.off - lo) as u32;
                    if s == 0 { quote!(#v) } else { quote!((#v << #s)) }
                } else {
                    let s = (lo - pc.off) as u32;
                    quote!((#v >> #s))
                }
            })
            .collect();
        let nbytes = (total - 8 * k).min(8);
        let (a, b) = (8 * k, 8 * k + nbytes);
        stores.push(quote! {
            let __word: u64 = 0u64 #(| #parts)*;
            #out[#a..#b].copy_from_slice(&__word.to_le_bytes()[..#nbytes]);
        });
    }
    Some(quote!(#(#lets)* #(#stores)*))
}

fn crate_mask(bits: u32) -> TokenStream {
    if bits >= 64 {
        quote!(u64::MAX)
    } else {
        let m: u64 = (1u64 << bits) - 1;
        quote!(#m)
    }
}

pub(super) fn zero_of(p: Prim) -> TokenStream {
    match p {
        Prim::Bool => quote!(false),
        Prim::F32 => quote!(0.0f32),
        Prim::F64 => quote!(0.0f64),
        Prim::Char => quote!('\0'),
        _ => quote!(0),
    }
}
