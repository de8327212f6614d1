//! `encoded_len`, `encode` and `record_len`.
//!
//! `encode` checks everything that can fail first (values too wide for their
//! bits, lengths too long for their length fields, the buffer's size), then
//! zeroes the fixed part and writes each field at its constant offset.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

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
    let len_exprs: Vec<_> = cx.var_plans().map(|p| var_len_of_value(cx, p)).collect();
    let stored_lens: Vec<_> = cx.var_plans().map(|p| cx.var_len(p, &quote!(prefix))).collect();
    quote! {
        #[inline]
        fn encoded_len(&self) -> usize {
            #owner::FIXED_LEN #(.saturating_add(#len_exprs))*
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
            #out[..#owner::FIXED_LEN].fill(0);
            #(#writes)*
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
    let check = quote! {
        if !(#fits) {
            return ::core::result::Result::Err(#core::EncodeError::Overflow { field: #name, value: v as i128, bits: #bits });
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
