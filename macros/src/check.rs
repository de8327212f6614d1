//! Rules between attributes and types, producing the validated model that
//! `expand` generates code from. Every violation is reported, spanned at the
//! offending attribute or field.

use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, GenericParam, Ident, Type, Visibility};

use crate::parse::{self, Ctxt, FieldType, Prim, Shape};

/// A validated record.
pub struct Record {
    pub ident: Ident,
    pub vis: Visibility,
    pub generics: syn::Generics,
    /// Path of the runtime crate (`segrec_core`).
    pub krate: syn::Path,
    pub fields: Vec<Field>,
}

/// A validated field.
pub struct Field {
    pub ident: Ident,
    pub ty: Type,
    /// `None` for `#[segment(skip)]`.
    pub stored: Option<Stored>,
}

/// How a stored field is laid out.
pub struct Stored {
    pub ftype: FieldType,
    /// Bits per element for `Prim` and `Array` shapes (the natural width or
    /// `bits = N`), unused otherwise.
    pub bits: u32,
    pub key: Option<KeyPart>,
}

/// A key field's ordering.
#[derive(Clone, Copy)]
pub struct KeyPart {
    pub position: usize,
    pub desc: bool,
    pub nulls_last: bool,
}

pub fn default_crate() -> syn::Path {
    syn::parse_quote!(::segrec::__private::segrec_core)
}

/// Checks a `#[derive(SegmentRecord)]` input.
pub fn record(input: &DeriveInput) -> Result<Record, syn::Error> {
    let mut cx = Ctxt::default();
    let krate = parse::container_attrs(&mut cx, &input.attrs, "SegmentRecord").unwrap_or_else(default_crate);
    let named = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(n) => Some(n),
            Fields::Unnamed(u) => {
                cx.error(
                    u.span(),
                    "`SegmentRecord` needs named fields: a tuple struct has no field names for the layout and the view's getters",
                );
                None
            }
            Fields::Unit => {
                cx.error(
                    input.ident.span(),
                    "`SegmentRecord` needs named fields: a unit struct has nothing to store",
                );
                None
            }
        },
        Data::Enum(e) => {
            cx.error(
                e.enum_token.span,
                "`SegmentRecord` can only be derived for structs with named fields; for a fieldless enum use `#[derive(SegmentEnum)]`",
            );
            None
        }
        Data::Union(u) => {
            cx.error(u.union_token.span, "`SegmentRecord` cannot be derived for unions");
            None
        }
    };
    for p in &input.generics.params {
        if let GenericParam::Lifetime(l) = p {
            cx.error(
                l.span(),
                "`SegmentRecord` does not support lifetime parameters: records own their data (use `String`, not `&str`)",
            );
        }
    }
    let mut fields = Vec::new();
    let mut position = 0;
    for f in named.map(|n| n.named.iter()).into_iter().flatten() {
        let ident = f.ident.clone().expect("named field");
        let attrs = parse::field_attrs(&mut cx, &f.attrs);
        if let Some(skip) = attrs.skip {
            for (flag, name) in [(attrs.key, "key"), (attrs.desc, "desc"), (attrs.nulls_last, "nulls_last")] {
                if let Some(s) = flag {
                    cx.error(
                        s,
                        format!("`{name}` cannot be combined with `skip`: a skipped field is not stored"),
                    );
                }
            }
            if let Some((_, s)) = &attrs.bits {
                cx.error_spanned(s, "`bits` cannot be combined with `skip`: a skipped field is not stored");
            }
            let _ = skip;
            fields.push(Field { ident, ty: f.ty.clone(), stored: None });
            continue;
        }
        let ftype = parse::classify(&mut cx, &f.ty);
        if attrs.key.is_none() {
            if let Some(s) = attrs.desc {
                cx.error(
                    s,
                    "`desc` needs `key`: only key fields have a sort order; write `#[segment(key, desc)]`",
                );
            }
            if let Some(s) = attrs.nulls_last {
                cx.error(
                    s,
                    "`nulls_last` needs `key`: only key fields have a sort order; write `#[segment(key, nulls_last)]`",
                );
            }
        }
        let Some(ftype) = ftype else { continue };
        if let (Some(s), false) = (attrs.nulls_last, ftype.optional) {
            cx.error(
                s,
                format!(
                    "`nulls_last` applies to `Option` key fields only: `{}` is never null",
                    parse::type_name(&f.ty)
                ),
            );
        }
        let bits = check_bits(&mut cx, &ftype, &f.ty, attrs.bits.as_ref());
        let key = attrs.key.map(|_| {
            position += 1;
            KeyPart {
                position: position - 1,
                desc: attrs.desc.is_some(),
                nulls_last: attrs.nulls_last.is_some(),
            }
        });
        fields.push(Field { ident, ty: f.ty.clone(), stored: Some(Stored { ftype, bits, key }) });
    }
    cx.finish()?;
    Ok(Record {
        ident: input.ident.clone(),
        vis: input.vis.clone(),
        generics: input.generics.clone(),
        krate,
        fields,
    })
}

/// The stored bits per element, checking `bits = N` against the type.
fn check_bits(
    cx: &mut Ctxt,
    ftype: &FieldType,
    ty: &Type,
    bits: Option<&(u32, proc_macro2::TokenStream)>,
) -> u32 {
    let prim = ftype.shape.prim();
    let natural = prim.map_or(0, Prim::width);
    let Some((n, span)) = bits else { return natural };
    let n = *n;
    match prim {
        Some(p) if p.is_int() => {
            if n == 0 {
                cx.error_spanned(span, "`bits = 0` stores nothing: an integer field needs at least 1 bit");
            } else if n > natural {
                cx.error_spanned(span, format!("`bits = {n}` is wider than `{}` ({natural} bits)", p.name()));
            }
            n.clamp(1, natural)
        }
        _ => {
            let what = match &ftype.shape {
                Shape::Prim(Prim::Bool) | Shape::Array(Prim::Bool, _) => {
                    "a `bool` already takes 1 bit".to_string()
                }
                Shape::Nested(_) => {
                    "a `SegmentEnum` already takes the fewest bits that number its variants".to_string()
                }
                _ => format!("`{}` is not an integer", parse::type_name(ty)),
            };
            cx.error_spanned(span, format!("`bits` applies to integer fields only: {what}"));
            natural
        }
    }
}

/// A validated `#[derive(SegmentEnum)]` input.
pub struct Enum {
    pub ident: Ident,
    pub krate: syn::Path,
    pub variants: Vec<Ident>,
}

/// Checks a `#[derive(SegmentEnum)]` input.
pub fn enumeration(input: &DeriveInput) -> Result<Enum, syn::Error> {
    let mut cx = Ctxt::default();
    let krate = parse::container_attrs(&mut cx, &input.attrs, "SegmentEnum").unwrap_or_else(default_crate);
    let mut variants = Vec::new();
    match &input.data {
        Data::Enum(e) => {
            if e.variants.is_empty() {
                cx.error(input.ident.span(), "`SegmentEnum` needs at least one variant: an empty enum has no values to store");
            }
            for v in &e.variants {
                if !matches!(v.fields, Fields::Unit) {
                    cx.error(
                        v.fields.span(),
                        format!(
                            "`SegmentEnum` variants cannot carry data: `{}` has fields; use `#[derive(SegmentRecord)]` on a struct instead",
                            v.ident
                        ),
                    );
                }
                for a in v.attrs.iter().filter(|a| a.path().is_ident("segment")) {
                    cx.error(a.span(), "`segment` attributes are not allowed on enum variants");
                }
                variants.push(v.ident.clone());
            }
        }
        Data::Struct(s) => cx.error(
            s.struct_token.span,
            "`SegmentEnum` can only be derived for fieldless enums; for a struct use `#[derive(SegmentRecord)]`",
        ),
        Data::Union(u) => cx.error(u.union_token.span, "`SegmentEnum` can only be derived for fieldless enums"),
    }
    if !input.generics.params.is_empty() {
        cx.error(input.generics.span(), "`SegmentEnum` does not support generic parameters");
    }
    cx.finish()?;
    Ok(Enum { ident: input.ident.clone(), krate, variants })
}

/// Whether `ty` mentions one of the generic type or const parameters.
pub fn mentions_generic(ty: &Type, generics: &syn::Generics) -> bool {
    let names: Vec<String> = generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) => Some(t.ident.to_string()),
            GenericParam::Const(c) => Some(c.ident.to_string()),
            GenericParam::Lifetime(_) => None,
        })
        .collect();
    if names.is_empty() {
        return false;
    }
    let s = quote::ToTokens::to_token_stream(ty).to_string();
    s.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|w| names.iter().any(|n| n == w))
}
