//! Word-at-a-time reading of a fixed part whose offsets are all literals:
//! `to_owned` (and so `decode`) loads the fixed part as 64-bit words once and
//! takes every field out with shifts and masks, instead of one bounds-checked
//! read per field.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{Ctx, Plan, from_raw};
use crate::parse::Shape;

/// `(lets, value of each plan)`: statements loading the words from
/// `self.__bytes`, then for each plan in order the expression of its fixed
/// value (`None` for fields read through their getter: strings, bytes).
pub fn read_fixed(cx: &Ctx<'_>) -> Option<(TokenStream, Vec<Option<TokenStream>>)> {
    if !cx.fixed_bits.terms.is_empty() || cx.plans.iter().any(|p| matches!(p.shape(), Shape::Nested(_))) {
        return None;
    }
    let fixed = cx.fixed_bits.lit.div_ceil(8);
    let nwords = fixed.div_ceil(8);
    let mut lets = vec![quote! {
        let __zero = [0u8; #fixed];
        // `view` checked the length; the zero fallback is never taken.
        let __f: &[u8; #fixed] = self.__bytes.first_chunk::<#fixed>().unwrap_or(&__zero);
    }];
    for k in 0..nwords {
        let w = format_ident!("__w{}", k);
        let (a, n) = (8 * k, (fixed - 8 * k).min(8));
        lets.push(quote! {
            let #w: u64 = {
                let mut __b = [0u8; 8];
                __b[..#n].copy_from_slice(&__f[#a..#a + #n]);
                u64::from_le_bytes(__b)
            };
        });
    }
    let values = cx.plans.iter().map(|p| value(cx, p)).collect();
    Some((quote!(#(#lets)*), values))
}

/// The `u64` holding `width` (1..=64) bits at literal bit `off`.
fn bits(off: usize, width: u32) -> TokenStream {
    let (k, s) = (off / 64, (off % 64) as u32);
    let w = format_ident!("__w{}", k);
    let mask = if width == 64 { u64::MAX } else { (1u64 << width) - 1 };
    let lo = if s == 0 { quote!(#w) } else { quote!((#w >> #s)) };
    let raw = if s + width > 64 {
        let w2 = format_ident!("__w{}", k + 1);
        let back = 64 - s;
        quote!((#lo | (#w2 << #back)))
    } else {
        lo
    };
    if width == 64 { raw } else { quote!((#raw & #mask)) }
}

/// Raw bits of `width` (1..=128) at `off`: a `u64`, or a `u128` past 64.
fn raw(off: usize, width: u32) -> TokenStream {
    if width <= 64 {
        bits(off, width)
    } else {
        let (lo, hi) = (bits(off, 64), bits(off + 64, width - 64));
        quote!(((#lo as u128) | ((#hi as u128) << 64)))
    }
}

fn value(cx: &Ctx<'_>, p: &Plan<'_>) -> Option<TokenStream> {
    let (off, val_off, b) = (p.off.lit, p.val_off.lit, p.s.bits);
    let v = match p.shape() {
        Shape::Prim(pr) => from_raw(*pr, b, &raw(val_off, b), &cx.rt),
        Shape::Array(pr, len) => {
            let n = super::array_len(len)?;
            let elems = (0..n).map(|i| from_raw(*pr, b, &raw(val_off + i * b as usize, b), &cx.rt));
            quote!([#(#elems),*])
        }
        _ => return None,
    };
    if !p.optional() {
        return Some(v);
    }
    let present = bits(off, 1);
    Some(quote!(if #present != 0 { ::core::option::Option::Some(#v) } else { ::core::option::Option::None }))
}
