//! What the derives emit when the input has errors: the errors, plus a stub
//! impl of the trait so that code using it does not pile follow-on errors on
//! top (thiserror's `fallback.rs` does the same).

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::check::default_crate;

/// Stub `SegmentRecord` impl whose functions are unreachable.
pub fn record(input: &DeriveInput, krate: Option<syn::Path>) -> TokenStream {
    // A record borrowing data cannot have a `'static`-free stub either.
    if input.generics.lifetimes().next().is_some() {
        return TokenStream::new();
    }
    let ident = &input.ident;
    let core = krate.unwrap_or_else(default_crate);
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
    let name = ident.to_string();
    quote! {
        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl #impl_g #core::SegmentRecord for #ident #ty_g #where_c {
                type Ref<'__r> = #core::record::nested::FallbackRef<'__r, Self>;
                type Key = ();
                const LAYOUT: #core::Layout = #core::Layout {
                    name: #name,
                    fields: &[],
                    fixed_bits: 0,
                    fixed_bytes: 0,
                    has_variable_part: false,
                };
                const FIXED_LEN: usize = 0;
                const ENCODED_SIZE: ::core::option::Option<usize> = ::core::option::Option::None;
                const NORMALIZED_KEY_LEN: usize = 0;
                const NORMALIZED_KEY_IS_PREFIX: bool = false;
                fn encoded_len(&self) -> usize { ::core::unreachable!() }
                fn encode(&self, _: &mut [u8]) -> ::core::result::Result<usize, #core::EncodeError> { ::core::unreachable!() }
                fn decode(_: &[u8]) -> ::core::result::Result<Self, #core::DecodeError> { ::core::unreachable!() }
                fn view(_: &[u8]) -> ::core::result::Result<Self::Ref<'_>, #core::DecodeError> { ::core::unreachable!() }
                fn record_len(_: &[u8]) -> ::core::result::Result<usize, #core::DecodeError> { ::core::unreachable!() }
                fn key(&self) -> Self::Key {}
                fn compare_key(_: &[u8], _: &[u8]) -> ::core::cmp::Ordering { ::core::unreachable!() }
                fn hash_key(_: &[u8], _: u64) -> u64 { ::core::unreachable!() }
                fn write_key(_: &[u8], _: &mut ::std::vec::Vec<u8>) { ::core::unreachable!() }
                fn write_normalized_key(_: &[u8], _: &mut [u8]) { ::core::unreachable!() }
            }
        };
    }
}

/// Stub `SegmentEnum` impl whose functions are unreachable.
pub fn enumeration(input: &DeriveInput, krate: Option<syn::Path>) -> TokenStream {
    let ident = &input.ident;
    let core = krate.unwrap_or_else(default_crate);
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
    quote! {
        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl #impl_g #core::SegmentEnum for #ident #ty_g #where_c {
                const BITS: u32 = 1;
                const VARIANTS: u32 = 1;
                fn to_index(self) -> u32 { ::core::unreachable!() }
                fn from_index(_: u32) -> ::core::option::Option<Self> { ::core::unreachable!() }
            }
        };
    }
}
