//! The zero-copy view `FooRef<'a>`, `view` and `decode`.
//!
//! `view` validates the bytes once: the length of the fixed part, every
//! variable length within bounds and adding up to the record's length, UTF-8
//! of strings, `char` values, enum indexes and embedded records. The view keeps
//! what validation produced (the `&'a str`s, the nested views), so its getters
//! cannot fail and never re-validate; fixed fields are read straight from the
//! bytes at constant offsets.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Ctx, Plan, codec, from_raw, prim_ty, read_raw};
use crate::parse::{Prim, Shape};

/// The type a getter returns.
fn getter_ty(cx: &Ctx<'_>, p: &Plan<'_>) -> TokenStream {
    let inner = match p.shape() {
        Shape::Prim(pr) => prim_ty(*pr),
        Shape::Array(pr, len) => {
            let t = prim_ty(*pr);
            quote!([#t; #len])
        }
        Shape::Str => quote!(&'a str),
        Shape::Bytes => quote!(&'a [u8]),
        Shape::Nested(ty) => {
            let c = codec(&cx.core, ty);
            quote!(#c::View<'a>)
        }
    };
    if p.optional() { quote!(::core::option::Option<#inner>) } else { inner }
}

/// The view struct, defined beside the record.
pub fn ref_struct(cx: &Ctx<'_>) -> TokenStream {
    let rec = cx.rec;
    let (vis, ident, ref_ident) = (&rec.vis, &rec.ident, &cx.ref_ident);
    let mut generics = rec.generics.clone();
    generics.params.insert(0, syn::parse_quote!('a));
    let (_, ty_g, _) = rec.generics.split_for_impl();
    let params = &generics.params;
    let where_c = super::extra_bounds(cx, rec.generics.where_clause.as_ref(), quote!('a));
    let slots = cx.var_plans().map(|p| {
        let (slot, ty) = (p.slot(), getter_ty(cx, p));
        quote!(#slot: #ty,)
    });
    let doc = format!(
        "A zero-copy view of an encoded [`{ident}`], made by `SegmentRecord::view`: its getters, named like \
         the fields, read from the bytes without allocating."
    );
    quote! {
        #[doc = #doc]
        #[allow(missing_docs)]
        #vis struct #ref_ident<#params> #where_c {
            __bytes: &'a [u8],
            #(#slots)*
            __marker: ::core::marker::PhantomData<fn() -> #ident #ty_g>,
        }
    }
}

/// `view` and `decode`.
pub fn methods(cx: &Ctx<'_>) -> TokenStream {
    let (core, rt, ref_ident) = (&cx.core, &cx.rt, &cx.ref_ident);
    let buf = quote!(encoded);
    let mut checks = Vec::new();
    let mut var = Vec::new();
    let mut slots = Vec::new();
    for p in &cx.plans {
        let name = &p.name;
        // chars must be Unicode scalar values
        if let Some(Prim::Char) = p.shape().prim() {
            let check = |off: TokenStream| {
                quote! {
                    let __c = #rt::get_bits(#buf, #off, 32) as u32;
                    if ::core::char::from_u32(__c).is_none() {
                        return ::core::result::Result::Err(#core::DecodeError::InvalidChar { field: #name, value: __c });
                    }
                }
            };
            let val_off = &p.val_off;
            let c = match p.shape() {
                Shape::Array(_, len) => {
                    let c = check(quote!(#val_off + __i * 32));
                    quote!(for __i in 0..(#len) as usize { #c })
                }
                _ => check(quote!(#val_off)),
            };
            let present = cx.present(p, &buf);
            checks.push(if p.optional() { quote!(if #present { #c }) } else { c });
        }
        let Some(_) = p.var else { continue };
        let slot = p.slot();
        let len = cx.var_len(p, &buf);
        let value = match p.shape() {
            Shape::Str => quote! {
                match ::core::str::from_utf8(__b) {
                    ::core::result::Result::Ok(s) => s,
                    ::core::result::Result::Err(_) =>
                        return ::core::result::Result::Err(#core::DecodeError::InvalidUtf8 { field: #name }),
                }
            },
            Shape::Bytes => quote!(__b),
            Shape::Nested(ty) => {
                let c = codec(core, ty);
                let fx = cx.nested_fixed(p, &buf);
                quote!(#c::view(#fx, __b, #name)?)
            }
            _ => quote!(),
        };
        let value = if p.optional() {
            let present = cx.present(p, &buf);
            quote! {
                if #present {
                    ::core::option::Option::Some(#value)
                } else if __len != 0 {
                    return ::core::result::Result::Err(#core::DecodeError::NullWithBytes { field: #name, len: __len });
                } else {
                    ::core::option::Option::None
                }
            }
        } else {
            value
        };
        var.push(quote! {
            let #slot = {
                let __len: usize = #len;
                let __end = match __pos.checked_add(__len) {
                    ::core::option::Option::Some(e) if e <= #buf.len() => e,
                    _ => return ::core::result::Result::Err(#core::DecodeError::LengthOutOfBounds {
                        field: #name,
                        offset: __pos,
                        len: __len,
                        available: #buf.len(),
                    }),
                };
                let __b: &[u8] = &#buf[__pos..__end];
                __pos = __end;
                #value
            };
        });
        slots.push(slot);
    }
    quote! {
        #[inline]
        fn view(encoded: &[u8]) -> ::core::result::Result<Self::Ref<'_>, #core::DecodeError> {
            if encoded.len() < Self::FIXED_LEN {
                return ::core::result::Result::Err(#core::DecodeError::Truncated {
                    needed: Self::FIXED_LEN,
                    available: encoded.len(),
                });
            }
            #(#checks)*
            #[allow(unused_mut)]
            let mut __pos: usize = Self::FIXED_LEN;
            #(#var)*
            if __pos != encoded.len() {
                return ::core::result::Result::Err(#core::DecodeError::TrailingBytes { extra: encoded.len() - __pos });
            }
            ::core::result::Result::Ok(#ref_ident {
                __bytes: encoded,
                #(#slots,)*
                __marker: ::core::marker::PhantomData,
            })
        }

        #[inline]
        fn decode(encoded: &[u8]) -> ::core::result::Result<Self, #core::DecodeError> {
            Self::view(encoded).map(|r| #core::RecordRef::to_owned(&r))
        }
    }
}

/// The view's getters and trait impls (inside the `const _` block).
pub fn impls(cx: &Ctx<'_>) -> TokenStream {
    let rec = cx.rec;
    let (core, rt, ident, ref_ident) = (&cx.core, &cx.rt, &rec.ident, &cx.ref_ident);
    let mut generics = rec.generics.clone();
    generics.params.insert(0, syn::parse_quote!('a));
    let (impl_g, _, _) = generics.split_for_impl();
    let (_, rec_ty_g, _) = rec.generics.split_for_impl();
    let ref_args = super::ref_args(rec);
    // Records own their data: a generic parameter standing for a nested type
    // is `'static`, which also makes the view well-formed for every `'a`.
    let where_static = super::extra_bounds(cx, rec.generics.where_clause.as_ref(), quote!('static));
    let where_ref = &where_static;
    let buf = quote!(self.__bytes);
    let mut getters = Vec::new();
    let mut owned = Vec::new();
    let (word_lets, mut word_values) = match super::words::read_fixed(cx) {
        Some((lets, values)) => (lets, values),
        None => (quote!(), Vec::new()),
    };
    word_values.resize(cx.plans.len(), None);
    let mut debug = Vec::new();
    for (p, word_value) in cx.plans.iter().zip(word_values) {
        let (f, name) = (p.ident(), &p.name);
        let ty = getter_ty(cx, p);
        let bits = p.s.bits;
        let val_off = &p.val_off;
        let body = match p.shape() {
            Shape::Prim(pr) => {
                let raw = read_raw(rt, &buf, &quote!(#val_off), bits);
                from_raw(*pr, bits, &raw, rt)
            }
            Shape::Array(pr, _) => {
                let raw = read_raw(rt, &buf, &quote!(#val_off + __i * #bits as usize), bits);
                let v = from_raw(*pr, bits, &raw, rt);
                quote!(::core::array::from_fn(|__i| #v))
            }
            _ => {
                let slot = p.slot();
                quote!(self.#slot)
            }
        };
        let body = if p.optional() && p.var.is_none() {
            let present = cx.present(p, &buf);
            quote!(if #present { ::core::option::Option::Some(#body) } else { ::core::option::Option::None })
        } else {
            body
        };
        let doc = format!("The `{name}` field.");
        getters.push(quote! {
            #[doc = #doc]
            #[inline]
            pub fn #f(&self) -> #ty { #body }
        });
        let to_owned = match (p.shape(), p.optional()) {
            (Shape::Str, false) => quote!(::std::string::String::from(self.#f())),
            (Shape::Bytes, false) => quote!(::std::vec::Vec::from(self.#f())),
            (Shape::Str, true) => quote!(self.#f().map(::std::string::String::from)),
            (Shape::Bytes, true) => quote!(self.#f().map(::std::vec::Vec::from)),
            (Shape::Nested(t), false) => {
                let c = codec(core, t);
                quote!(#c::to_owned(self.#f()))
            }
            (Shape::Nested(t), true) => {
                let c = codec(core, t);
                quote!(self.#f().map(#c::to_owned))
            }
            _ => word_value.unwrap_or_else(|| quote!(self.#f())),
        };
        owned.push(quote!(#f: #to_owned,));
        debug.push(quote!(.field(#name, &self.#f())));
    }
    for field in rec.fields.iter().filter(|f| f.stored.is_none()) {
        let f = &field.ident;
        owned.push(quote!(#f: ::core::default::Default::default(),));
    }
    let name = ident.to_string();
    // An inherent `to_owned`, so that `r.to_owned()` does not also find
    // `ToOwned::to_owned` (the view is `Clone`), unless a field takes the name.
    if !cx.plans.iter().any(|p| p.name == "to_owned") {
        getters.push(quote! {
            /// Decodes an owned value; cannot fail, the bytes were validated by `view`.
            #[inline]
            pub fn to_owned(&self) -> #ident #rec_ty_g {
                #core::RecordRef::to_owned(self)
            }
        });
    }
    quote! {
        #[automatically_derived]
        impl #impl_g #ref_ident #ref_args #where_ref {
            #(#getters)*
        }
        #[automatically_derived]
        impl #impl_g ::core::clone::Clone for #ref_ident #ref_args #where_ref {
            #[inline]
            fn clone(&self) -> Self { *self }
        }
        #[automatically_derived]
        impl #impl_g ::core::marker::Copy for #ref_ident #ref_args #where_ref {}
        #[automatically_derived]
        impl #impl_g ::core::fmt::Debug for #ref_ident #ref_args #where_ref {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#name) #(#debug)* .finish()
            }
        }
        #[automatically_derived]
        impl #impl_g #core::RecordRef<'a> for #ref_ident #ref_args #where_static {
            type Owned = #ident #rec_ty_g;
            #[inline]
            fn bytes(&self) -> &'a [u8] { self.__bytes }
            #[inline]
            fn to_owned(&self) -> #ident #rec_ty_g {
                #word_lets
                #ident { #(#owned)* }
            }
        }
    }
}
