//! `#[derive(SegmentEnum)]`: the variant index in the fewest bits.

use proc_macro2::TokenStream;
use quote::quote;

use crate::check::Enum;

pub fn expand(e: &Enum) -> TokenStream {
    let (ident, krate) = (&e.ident, &e.krate);
    let n = e.variants.len() as u32;
    // ceil(log2(n)), at least 1
    let bits = (32 - n.saturating_sub(1).leading_zeros()).max(1);
    let idx = 0..n;
    let idx2 = 0..n;
    let vs = &e.variants;
    quote! {
        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl #krate::SegmentEnum for #ident {
                const BITS: u32 = #bits;
                const VARIANTS: u32 = #n;
                #[inline]
                fn to_index(self) -> u32 {
                    match self { #(#ident::#vs => #idx,)* }
                }
                #[inline]
                fn from_index(index: u32) -> ::core::option::Option<Self> {
                    match index {
                        #(#idx2 => ::core::option::Option::Some(#ident::#vs),)*
                        _ => ::core::option::Option::None,
                    }
                }
            }
            #[automatically_derived]
            impl #krate::record::nested::Nested for #ident {
                type Codec = #krate::record::nested::EnumCodec<Self>;
            }
        };
    }
}
