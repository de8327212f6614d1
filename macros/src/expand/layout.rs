//! The layout constants: `LAYOUT`, `FIXED_LEN`, `ENCODED_SIZE`, the
//! normalized key's length, and the const asserts on them.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Ctx, codec};
use crate::parse::{self, Prim, Shape};

/// Associated consts of the `SegmentRecord` impl.
pub fn consts(cx: &Ctx<'_>) -> TokenStream {
    let core = &cx.core;
    let name = cx.rec.ident.to_string();
    let fixed_bits = &cx.fixed_bits;
    let fields = cx.plans.iter().map(|p| {
        let name = &p.name;
        let ty = parse::type_name(&p.field.ty);
        let kind = match p.shape() {
            Shape::Prim(Prim::Bool) | Shape::Array(Prim::Bool, _) => quote!(Packed),
            Shape::Prim(pr) | Shape::Array(pr, _) if p.s.bits < pr.width() => quote!(Packed),
            Shape::Prim(_) | Shape::Array(..) => quote!(Fixed),
            Shape::Str | Shape::Bytes => quote!(Variable),
            Shape::Nested(t) => {
                let c = codec(core, t);
                quote!(#c::KIND)
            }
        };
        let kind = if matches!(p.shape(), Shape::Nested(_)) { kind } else { quote!(#core::FieldKind::#kind) };
        let key = match p.key() {
            None => quote!(::core::option::Option::None),
            Some(k) => {
                let pos = k.position;
                let order = if k.desc { quote!(Desc) } else { quote!(Asc) };
                let nulls = if k.nulls_last { quote!(Last) } else { quote!(First) };
                quote!(::core::option::Option::Some(#core::KeyPartLayout {
                    position: #pos,
                    order: #core::KeyOrder::#order,
                    nulls: #core::NullOrder::#nulls,
                }))
            }
        };
        let (off, width) = (&p.off, &p.width);
        quote!(#core::FieldLayout { name: #name, ty: #ty, kind: #kind, bit_offset: #off, bit_width: #width, key: #key })
    });
    let has_var = has_var(cx);
    let key_len = key_len(cx);
    quote! {
        const LAYOUT: #core::Layout = #core::Layout {
            name: #name,
            fields: &[#(#fields),*],
            fixed_bits: #fixed_bits,
            fixed_bytes: Self::FIXED_LEN,
            has_variable_part: #has_var,
        };
        const FIXED_LEN: usize = (#fixed_bits).div_ceil(8);
        const ENCODED_SIZE: ::core::option::Option<usize> =
            if #has_var { ::core::option::Option::None } else { ::core::option::Option::Some(Self::FIXED_LEN) };
        #key_len
    }
}

/// Whether records have a variable part, as a const expression.
pub fn has_var(cx: &Ctx<'_>) -> TokenStream {
    if cx.has_str() {
        return quote!(true);
    }
    let nested = cx.plans.iter().filter_map(|p| match p.shape() {
        Shape::Nested(t) => {
            let c = codec(&cx.core, t);
            Some(quote!(#c::HAS_VAR))
        }
        _ => None,
    });
    quote!((false #(|| #nested)*))
}

/// Bytes of a fixed-width primitive's canonical key.
pub fn prim_key_len(p: Prim, bits: u32) -> usize {
    match p {
        Prim::Bool => 1,
        Prim::F32 | Prim::Char => 4,
        Prim::F64 => 8,
        Prim::U(_) | Prim::I(_) => bits.div_ceil(8) as usize,
    }
}

/// `NORMALIZED_KEY_LEN` and `NORMALIZED_KEY_IS_PREFIX`.
///
/// Keys of primitives and arrays only: the whole canonical key. With a string
/// or byte vector: the fixed parts, 16 bytes per string, rounded up to a
/// multiple of 8. A nested part contributes its own normalized length.
fn key_len(cx: &Ctx<'_>) -> TokenStream {
    let mut lit = 0usize;
    let mut terms = Vec::new();
    let mut prefix = vec![];
    let mut has_str = false;
    for p in cx.key_plans() {
        lit += usize::from(p.optional());
        match p.shape() {
            Shape::Prim(pr) => lit += prim_key_len(*pr, p.s.bits),
            Shape::Array(pr, len) => {
                let l = prim_key_len(*pr, p.s.bits);
                match super::array_len(len) {
                    Some(n) => lit += n * l,
                    None => terms.push(quote!((#l * (#len) as usize))),
                }
            }
            Shape::Str | Shape::Bytes => {
                has_str = true;
                lit += 16;
            }
            Shape::Nested(t) => {
                let c = codec(&cx.core, t);
                terms.push(quote!(#c::KEY_NORM_LEN));
                prefix.push(quote!(#c::KEY_IS_PREFIX));
            }
        }
    }
    quote! {
        const NORMALIZED_KEY_IS_PREFIX: bool = #has_str #(|| #prefix)*;
        const NORMALIZED_KEY_LEN: usize = {
            let n: usize = #lit #(+ #terms)*;
            if Self::NORMALIZED_KEY_IS_PREFIX { n.div_ceil(8) * 8 } else { n }
        };
    }
}
