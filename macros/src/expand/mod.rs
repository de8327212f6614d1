//! Code generation from the validated model.
//!
//! Every stored field gets a bit offset in the fixed part, by alignment
//! first (see `alignment`), then declaration order. Offsets are
//! computed here as a literal plus the widths the macro cannot know (a
//! `SegmentEnum`'s bits, an array's length written as a const expression), so
//! a record of primitives gets plain literals and the others constant
//! expressions the compiler folds.

mod encode;
mod key;
mod layout;
mod view;
mod words;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote};
use syn::Ident;
use syn::ext::IdentExt;

use crate::check::{Field, KeyPart, Record, Stored};
use crate::parse::{Prim, Shape};

/// A bit count: a literal plus constant expressions.
#[derive(Clone, Default)]
pub struct Bits {
    pub lit: usize,
    pub terms: Vec<TokenStream>,
}

impl Bits {
    pub fn lit(n: usize) -> Self {
        Bits { lit: n, terms: Vec::new() }
    }

    pub fn add(&self, other: &Bits) -> Bits {
        let mut terms = self.terms.clone();
        terms.extend(other.terms.iter().cloned());
        Bits { lit: self.lit + other.lit, terms }
    }

    pub fn plus(&self, n: usize) -> Bits {
        Bits { lit: self.lit + n, terms: self.terms.clone() }
    }
}

impl ToTokens for Bits {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let lit = self.lit;
        if self.terms.is_empty() {
            tokens.extend(quote!(#lit));
        } else {
            let terms = &self.terms;
            tokens.extend(quote!((#lit #(+ #terms)*)));
        }
    }
}

/// Where a field of `width` bits goes in the fixed part: fields of a
/// multiple of 64 bits first, then of 32, 16 and 8, then the others (bit
/// fields, `Option`s' null bits with their values), and those whose width
/// the macro cannot know last (so the others keep literal offsets, which
/// `key_has_null` groups by byte). A whole-byte field then lies at a
/// multiple of the largest power of two (up to 8 bytes) dividing its size,
/// whatever comes before it in the struct, and encoding and decoding a
/// primitive is a plain load or store, not shifts across words.
fn alignment(width: &Bits) -> u32 {
    if !width.terms.is_empty() {
        return 5;
    }
    match width.lit {
        w if w % 64 == 0 => 0,
        w if w % 32 == 0 => 1,
        w if w % 16 == 0 => 2,
        w if w % 8 == 0 => 3,
        _ => 4,
    }
}

/// One stored field with its place in the fixed part.
pub struct Plan<'r> {
    pub field: &'r Field,
    pub s: &'r Stored,
    pub name: String,
    /// Start of the field's bits (its null bit when optional).
    pub off: Bits,
    /// Start of the value bits.
    pub val_off: Bits,
    /// Total bits in the fixed part.
    pub width: Bits,
    /// Position among the fields with a variable part (strings, bytes,
    /// nested), which are read in declaration order after the fixed part.
    pub var: Option<usize>,
}

impl Plan<'_> {
    pub fn ident(&self) -> &Ident {
        &self.field.ident
    }
    pub fn optional(&self) -> bool {
        self.s.ftype.optional
    }
    pub fn shape(&self) -> &Shape {
        &self.s.ftype.shape
    }
    pub fn key(&self) -> Option<KeyPart> {
        self.s.key
    }
    /// Name of the view's stored variable-part value.
    pub fn slot(&self) -> Ident {
        format_ident!("__v_{}", self.field.ident.unraw())
    }
}

/// Everything the expand modules share.
pub struct Ctx<'r> {
    pub rec: &'r Record,
    /// The runtime crate.
    pub core: TokenStream,
    /// `core::record::codec`.
    pub rt: TokenStream,
    pub plans: Vec<Plan<'r>>,
    pub fixed_bits: Bits,
    /// `<Foo<T> as SegmentRecord>`.
    pub owner: TokenStream,
    pub ref_ident: Ident,
}

impl<'r> Ctx<'r> {
    pub fn new(rec: &'r Record) -> Self {
        let krate = &rec.krate;
        let core = quote!(#krate);
        let rt = quote!(#core::record::codec);
        let mut plans = Vec::new();
        let mut off = Bits::default();
        let mut nvar = 0;
        for field in &rec.fields {
            let Some(s) = &field.stored else { continue };
            let opt = usize::from(s.ftype.optional);
            let value = match &s.ftype.shape {
                Shape::Prim(_) => Bits::lit(s.bits as usize),
                Shape::Array(_, len) => match array_len(len) {
                    Some(n) => Bits::lit(n * s.bits as usize),
                    None => {
                        let b = s.bits as usize;
                        Bits { lit: 0, terms: vec![quote!((#b * (#len) as usize))] }
                    }
                },
                Shape::Str | Shape::Bytes => Bits::lit(32),
                Shape::Nested(ty) => {
                    let c = codec(&core, ty);
                    Bits { lit: 0, terms: vec![quote!((#c::FIXED_BITS as usize))] }
                }
            };
            let var = matches!(s.ftype.shape, Shape::Str | Shape::Bytes | Shape::Nested(_)).then(|| {
                nvar += 1;
                nvar - 1
            });
            let width = value.plus(opt);
            plans.push(Plan {
                field,
                s,
                name: field.ident.unraw().to_string(),
                off: Bits::default(),
                val_off: Bits::default(),
                width,
                var,
            });
        }
        // Offsets by alignment, then declaration order (see `alignment`).
        let mut order: Vec<usize> = (0..plans.len()).collect();
        order.sort_by_key(|&i| alignment(&plans[i].width));
        for i in order {
            let p = &mut plans[i];
            p.off = off.clone();
            p.val_off = off.plus(usize::from(p.optional()));
            off = off.add(&p.width);
        }
        let ident = &rec.ident;
        let (_, ty_g, _) = rec.generics.split_for_impl();
        let owner = quote!(<#ident #ty_g as #core::SegmentRecord>);
        Ctx { rec, core, rt, plans, fixed_bits: off, owner, ref_ident: format_ident!("{}Ref", rec.ident) }
    }

    /// Whether some field is a string or byte vector (surely variable).
    pub fn has_str(&self) -> bool {
        self.plans.iter().any(|p| matches!(p.shape(), Shape::Str | Shape::Bytes))
    }

    /// Fields with a variable part.
    pub fn var_plans(&self) -> impl Iterator<Item = &Plan<'r>> {
        self.plans.iter().filter(|p| p.var.is_some())
    }

    /// Key fields in significance order.
    pub fn key_plans(&self) -> Vec<&Plan<'r>> {
        let mut k: Vec<_> = self.plans.iter().filter(|p| p.key().is_some()).collect();
        k.sort_by_key(|p| p.key().map(|k| k.position));
        k
    }

    /// `let` statements binding `#prefix<i>` to the variable-part slice of
    /// each variable field of `buf`, never out of bounds (an empty slice
    /// when the stored lengths reach past the end).
    pub fn var_slices(&self, buf: &TokenStream, prefix: &str, upto: usize) -> TokenStream {
        let owner = &self.owner;
        let pos = format_ident!("{}pos", prefix);
        let mut out = quote!(let mut #pos: usize = #owner::FIXED_LEN;);
        for p in self.var_plans().take(upto) {
            let name = format_ident!("{}{}", prefix, p.var.unwrap_or(0));
            let len = self.var_len(p, buf);
            out.extend(quote! {
                let #name: &[u8] = {
                    let start = #pos;
                    #pos = #pos.saturating_add(#len);
                    #buf.get(start..#pos).unwrap_or(&[])
                };
            });
        }
        quote!(#out let _ = #pos;)
    }

    /// The stored length of a variable field's bytes, read from `buf`.
    pub fn var_len(&self, p: &Plan<'_>, buf: &TokenStream) -> TokenStream {
        let rt = &self.rt;
        let off = &p.val_off;
        match p.shape() {
            Shape::Nested(ty) => {
                let c = codec(&self.core, ty);
                quote!(#c::var_len_of(#rt::get_bits(#buf, #off, #c::FIXED_BITS)))
            }
            _ => quote!((#rt::get_bits(#buf, #off, 32) as usize)),
        }
    }

    /// The fixed bits of a nested field in `buf`.
    pub fn nested_fixed(&self, p: &Plan<'_>, buf: &TokenStream) -> TokenStream {
        let (rt, off) = (&self.rt, &p.val_off);
        let Shape::Nested(ty) = p.shape() else { return quote!(0u64) };
        let c = codec(&self.core, ty);
        quote!(#rt::get_bits(#buf, #off, #c::FIXED_BITS))
    }

    /// Whether the optional field's value is present in `buf`.
    pub fn present(&self, p: &Plan<'_>, buf: &TokenStream) -> TokenStream {
        let (rt, off) = (&self.rt, &p.off);
        quote!((#rt::get_bits(#buf, #off, 1) != 0))
    }
}

/// `<<T as Nested>::Codec as NestedCodec<T>>`.
///
/// Spanned at the field's type, so that a type that is neither an enum nor a
/// record is reported there (once: the compiler merges identical errors).
pub fn codec(core: &TokenStream, ty: &syn::Type) -> TokenStream {
    let span = syn::spanned::Spanned::span(ty);
    quote::quote_spanned!(span=> <<#ty as #core::record::nested::Nested>::Codec as #core::record::nested::NestedCodec<#ty>>)
}

/// The value of a literal array length.
pub fn array_len(len: &syn::Expr) -> Option<usize> {
    match len {
        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) => i.base10_parse().ok(),
        _ => None,
    }
}

/// The Rust type of a primitive.
pub fn prim_ty(p: Prim) -> TokenStream {
    let i = Ident::new(&p.name(), Span::call_site());
    quote!(#i)
}

/// Reads `w` bits at `off` of `buf`: a `u64` for `w <= 64`, else a `u128`.
pub fn read_raw(rt: &TokenStream, buf: &TokenStream, off: &TokenStream, w: u32) -> TokenStream {
    if w <= 64 {
        quote!(#rt::get_bits(#buf, #off, #w))
    } else if w == 128 {
        quote!(#rt::get_bits128(#buf, #off))
    } else {
        let hi = w - 64;
        quote!(((#rt::get_bits(#buf, #off, 64) as u128) | ((#rt::get_bits(#buf, #off + 64, #hi) as u128) << 64)))
    }
}

/// Writes the raw value `v` (`u64` or `u128` as [`read_raw`]) in `w` bits.
pub fn write_raw(
    rt: &TokenStream,
    buf: &TokenStream,
    off: &TokenStream,
    w: u32,
    v: &TokenStream,
) -> TokenStream {
    if w <= 64 {
        quote!(#rt::put_bits(#buf, #off, #w, (#v) as u64);)
    } else if w == 128 {
        quote!(#rt::put_bits128(#buf, #off, #v);)
    } else {
        let hi = w - 64;
        quote! {
            let __raw: u128 = #v;
            #rt::put_bits(#buf, #off, 64, __raw as u64);
            #rt::put_bits(#buf, #off + 64, #hi, (__raw >> 64) as u64);
        }
    }
}

/// The raw bits of a primitive value `v`.
pub fn to_raw(p: Prim, v: &TokenStream) -> TokenStream {
    match p {
        Prim::U(128) | Prim::I(128) => quote!((#v as u128)),
        Prim::F32 => quote!((#v.to_bits() as u64)),
        Prim::F64 => quote!(#v.to_bits()),
        _ => quote!((#v as u64)),
    }
}

/// The value of a primitive from its raw bits (`bits` of them). A `char`
/// that is not one (which `view` rules out) reads as U+FFFD.
pub fn from_raw(p: Prim, bits: u32, raw: &TokenStream, rt: &TokenStream) -> TokenStream {
    let _ = rt;
    let ty = prim_ty(p);
    match p {
        Prim::Bool => quote!((#raw != 0)),
        Prim::U(_) => quote!((#raw as #ty)),
        Prim::I(w) if bits == w => quote!((#raw as #ty)),
        Prim::I(128) => {
            let s = 128 - bits;
            quote!((((#raw << #s) as i128) >> #s))
        }
        Prim::I(_) => {
            let s = 64 - bits;
            quote!(((((#raw << #s) as i64) >> #s) as #ty))
        }
        Prim::F32 => quote!(f32::from_bits(#raw as u32)),
        Prim::F64 => quote!(f64::from_bits(#raw)),
        Prim::Char => {
            quote!(::core::char::from_u32(#raw as u32).unwrap_or(::core::char::REPLACEMENT_CHARACTER))
        }
    }
}

/// The whole derive output for a checked record.
pub fn record(rec: &Record) -> TokenStream {
    let cx = Ctx::new(rec);
    let ident = &rec.ident;
    let core = &cx.core;
    let (impl_g, ty_g, where_c) = rec.generics.split_for_impl();
    let where_c = extra_bounds(&cx, where_c, quote!('static));
    let ref_ident = &cx.ref_ident;
    let ref_args = ref_args(rec);
    let consts = layout::consts(&cx);
    let encode = encode::methods(&cx);
    let view_struct = view::ref_struct(&cx);
    let view_methods = view::methods(&cx);
    let view_impls = view::impls(&cx);
    let key = key::items(&cx);
    let asserts = asserts(&cx);
    quote! {
        #view_struct
        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl #impl_g #core::SegmentRecord for #ident #ty_g #where_c {
                type Ref<'a> = #ref_ident #ref_args;
                #consts
                #encode
                #view_methods
                #key
            }
            #[automatically_derived]
            impl #impl_g #core::record::nested::Nested for #ident #ty_g #where_c {
                type Codec = #core::record::nested::RecordCodec<Self>;
            }
            #view_impls
            #asserts
        };
    }
}

/// Layout facts checked at compile time (for records without generic
/// parameters, whose constants are known here).
fn asserts(cx: &Ctx<'_>) -> TokenStream {
    if !cx.rec.generics.params.is_empty() {
        return quote!();
    }
    let owner = &cx.owner;
    quote! {
        const _: () = {
            let bits = #owner::LAYOUT.fixed_bits;
            ::core::assert!(#owner::FIXED_LEN * 8 >= bits && #owner::FIXED_LEN * 8 < bits + 8);
            ::core::assert!(#owner::FIXED_LEN <= u32::MAX as usize, "the fixed part must fit a 32-bit length");
            ::core::assert!(
                !#owner::NORMALIZED_KEY_IS_PREFIX || #owner::NORMALIZED_KEY_LEN % 8 == 0,
                "a prefix normalized key is a whole number of 8-byte words"
            );
            match #owner::ENCODED_SIZE {
                ::core::option::Option::Some(n) => ::core::assert!(n == #owner::FIXED_LEN),
                ::core::option::Option::None => ::core::assert!(#owner::LAYOUT.has_variable_part),
            }
        };
    }
}

/// `<'a, T, ...>` for the view type.
pub fn ref_args(rec: &Record) -> TokenStream {
    let args = rec.generics.params.iter().map(|p| match p {
        syn::GenericParam::Type(t) => t.ident.to_token_stream(),
        syn::GenericParam::Const(c) => c.ident.to_token_stream(),
        syn::GenericParam::Lifetime(l) => l.lifetime.to_token_stream(),
    });
    quote!(<'a #(, #args)*>)
}

/// The where clause plus `Ty: Nested + #life` for nested fields that mention
/// a generic parameter.
pub fn extra_bounds(cx: &Ctx<'_>, where_c: Option<&syn::WhereClause>, life: TokenStream) -> TokenStream {
    let core = &cx.core;
    let mut preds: Vec<TokenStream> =
        where_c.map(|w| w.predicates.iter().map(|p| quote!(#p)).collect()).unwrap_or_default();
    for p in &cx.plans {
        if let Shape::Nested(ty) = p.shape()
            && crate::check::mentions_generic(ty, &cx.rec.generics)
        {
            preds.push(quote!(#ty: #core::record::nested::Nested + #life));
        }
    }
    if preds.is_empty() { quote!() } else { quote!(where #(#preds,)*) }
}
