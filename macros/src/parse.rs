//! From `syn::DeriveInput` to the raw model: the struct, its fields, each
//! field's type classified and its `#[segment(...)]` attributes read. Rules
//! between attributes and types are checked in `check.rs`.

use proc_macro2::Span;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, GenericArgument, LitInt, LitStr, PathArguments, Type};

/// Collects errors so that all of them are reported at once.
#[derive(Default)]
pub struct Ctxt {
    errors: Vec<syn::Error>,
}

impl Ctxt {
    pub fn error(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.errors.push(syn::Error::new(span, msg));
    }

    /// An error spanning all of `tokens` (a type such as `HashMap<u32, u32>`,
    /// an attribute such as `bits = 9`).
    pub fn error_spanned(&mut self, tokens: impl ToTokens, msg: impl std::fmt::Display) {
        self.errors.push(syn::Error::new_spanned(tokens, msg));
    }

    pub fn push(&mut self, e: syn::Error) {
        self.errors.push(e);
    }

    /// All errors combined into one, `Ok` when there were none.
    pub fn finish(self) -> Result<(), syn::Error> {
        let mut it = self.errors.into_iter();
        match it.next() {
            None => Ok(()),
            Some(mut first) => {
                for e in it {
                    first.combine(e);
                }
                Err(first)
            }
        }
    }
}

/// A primitive the macro knows the width of.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Prim {
    Bool,
    /// Unsigned integer of the given width.
    U(u32),
    /// Signed integer of the given width.
    I(u32),
    F32,
    F64,
    Char,
}

impl Prim {
    pub fn from_ident(s: &str) -> Option<Self> {
        Some(match s {
            "bool" => Prim::Bool,
            "u8" => Prim::U(8),
            "u16" => Prim::U(16),
            "u32" => Prim::U(32),
            "u64" => Prim::U(64),
            "u128" => Prim::U(128),
            "i8" => Prim::I(8),
            "i16" => Prim::I(16),
            "i32" => Prim::I(32),
            "i64" => Prim::I(64),
            "i128" => Prim::I(128),
            "f32" => Prim::F32,
            "f64" => Prim::F64,
            "char" => Prim::Char,
            _ => return None,
        })
    }

    /// Natural width in bits.
    pub fn width(self) -> u32 {
        match self {
            Prim::Bool => 1,
            Prim::U(w) | Prim::I(w) => w,
            Prim::F32 | Prim::Char => 32,
            Prim::F64 => 64,
        }
    }

    pub fn is_int(self) -> bool {
        matches!(self, Prim::U(_) | Prim::I(_))
    }

    pub fn name(self) -> String {
        match self {
            Prim::Bool => "bool".into(),
            Prim::U(w) => format!("u{w}"),
            Prim::I(w) => format!("i{w}"),
            Prim::F32 => "f32".into(),
            Prim::F64 => "f64".into(),
            Prim::Char => "char".into(),
        }
    }
}

/// What a field's type is, `Option` aside.
#[derive(Clone)]
pub enum Shape {
    Prim(Prim),
    /// `[prim; len]`.
    Array(Prim, Expr),
    /// `String`.
    Str,
    /// `Vec<u8>`.
    Bytes,
    /// A type the macro cannot see through: a `SegmentEnum`, an embedded
    /// `SegmentRecord`, or a generic parameter standing for one.
    Nested(Type),
}

impl Shape {
    pub fn prim(&self) -> Option<Prim> {
        match self {
            Shape::Prim(p) | Shape::Array(p, _) => Some(*p),
            _ => None,
        }
    }
}

/// A classified field type.
#[derive(Clone)]
pub struct FieldType {
    pub shape: Shape,
    pub optional: bool,
}

/// A `#[segment(...)]` flag as written, with its span.
pub type Flag = Option<Span>;

/// The attributes of one field, as written.
#[derive(Default)]
pub struct FieldAttrs {
    pub key: Flag,
    pub desc: Flag,
    pub nulls_last: Flag,
    pub skip: Flag,
    /// `bits = N`: the value and the span of the whole `bits = N`.
    pub bits: Option<(u32, proc_macro2::TokenStream)>,
}

/// Reads the container's `#[segment(...)]` attributes: only `crate = "path"`.
pub fn container_attrs(cx: &mut Ctxt, attrs: &[Attribute], derive: &str) -> Option<syn::Path> {
    let mut krate: Option<syn::Path> = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("segment")) {
        let r = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let lit: LitStr = meta.value()?.parse()?;
                if krate.is_some() {
                    cx.error(meta.path.span(), "duplicate `crate` attribute");
                }
                match lit.parse::<syn::Path>() {
                    Ok(p) => krate = Some(p),
                    Err(_) => cx.error(lit.span(), "`crate` must be a path such as \"segrec::core\""),
                }
                Ok(())
            } else {
                let name = meta.path.to_token_stream().to_string();
                cx.error(
                    meta.path.span(),
                    format!("unknown attribute `{name}` on a `{derive}` type: only `crate = \"...\"` is allowed here"),
                );
                skip_value(&meta);
                Ok(())
            }
        });
        if let Err(e) = r {
            cx.push(e);
        }
    }
    krate
}

/// Consumes `= value` or `(...)` after an unknown attribute so parsing goes on.
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) {
    if meta.input.peek(syn::Token![=]) {
        let _ = meta.value().and_then(|v| v.parse::<Expr>());
    } else if meta.input.peek(syn::token::Paren) {
        let _ = meta.parse_nested_meta(|m| {
            skip_value(&m);
            Ok(())
        });
    }
}

/// Reads one field's `#[segment(...)]` attributes.
pub fn field_attrs(cx: &mut Ctxt, attrs: &[Attribute]) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("segment")) {
        let r = attr.parse_nested_meta(|meta| {
            let span = meta.path.span();
            let flag = |cx: &mut Ctxt, slot: &mut Flag, name: &str| {
                if slot.is_some() {
                    cx.error(span, format!("duplicate `{name}` attribute"));
                }
                *slot = Some(span);
            };
            let path = &meta.path;
            if path.is_ident("key") {
                flag(cx, &mut out.key, "key");
            } else if path.is_ident("desc") {
                flag(cx, &mut out.desc, "desc");
            } else if path.is_ident("nulls_last") {
                flag(cx, &mut out.nulls_last, "nulls_last");
            } else if path.is_ident("skip") {
                flag(cx, &mut out.skip, "skip");
            } else if path.is_ident("bits") {
                let lit: LitInt = meta.value()?.parse()?;
                let p = &meta.path;
                let whole = quote::quote!(#p = #lit);
                if out.bits.is_some() {
                    cx.error_spanned(&whole, "duplicate `bits` attribute");
                }
                match lit.base10_parse::<u32>() {
                    Ok(n) => out.bits = Some((n, whole)),
                    Err(_) => {
                        cx.error(lit.span(), "`bits` must be a whole number of bits, such as `bits = 12`")
                    }
                }
            } else {
                let name = path.to_token_stream().to_string().replace(' ', "");
                let hint = if name == "crate" {
                    "`crate` belongs on the struct, not on a field"
                } else {
                    "expected `key`, `desc`, `nulls_last`, `bits = N` or `skip`"
                };
                cx.error(span, format!("unknown attribute `{name}`: {hint}"));
                skip_value(&meta);
            }
            Ok(())
        });
        if let Err(e) = r {
            cx.push(e);
        }
    }
    out
}

/// The type as a person writes it, for messages and the layout table.
pub fn type_name(ty: &Type) -> String {
    let s = ty.to_token_stream().to_string();
    s.replace(" < ", "<")
        .replace("< ", "<")
        .replace(" <", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace("& ", "&")
        .replace(" ;", ";")
        .replace(" :: ", "::")
        .replace(":: ", "::")
}

const SUPPORTED: &str = "a field may be bool, u8..u128, i8..i128, f32, f64, char, an array of those, String, Vec<u8>, an Option of any of these, a `#[derive(SegmentEnum)]` enum or a `#[derive(SegmentRecord)]` struct";

/// Classifies a field type, reporting unsupported ones.
pub fn classify(cx: &mut Ctxt, ty: &Type) -> Option<FieldType> {
    if let Some(inner) = generic_arg(ty, "Option") {
        if generic_arg(inner, "Option").is_some() {
            cx.error(
                ty.span(),
                "unsupported field type: `Option<Option<_>>` has no single null bit; use one `Option`",
            );
            return None;
        }
        return classify_plain(cx, inner).map(|shape| FieldType { shape, optional: true });
    }
    classify_plain(cx, ty).map(|shape| FieldType { shape, optional: false })
}

fn classify_plain(cx: &mut Ctxt, ty: &Type) -> Option<Shape> {
    let unsupported = |cx: &mut Ctxt, why: &str| {
        cx.error_spanned(ty, format!("unsupported field type `{}`: {why}", type_name(ty)));
        None
    };
    match ty {
        Type::Group(g) => classify_plain(cx, &g.elem),
        Type::Paren(p) => classify_plain(cx, &p.elem),
        Type::Array(a) => {
            let elem = match &*a.elem {
                Type::Path(p) if p.qself.is_none() => {
                    p.path.get_ident().and_then(|i| Prim::from_ident(&i.to_string()))
                }
                _ => None,
            };
            match elem {
                Some(p) => Some(Shape::Array(p, a.len.clone())),
                None => unsupported(cx, "arrays may hold bool, integers, floats and char only"),
            }
        }
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            let name = last.ident.to_string();
            let plain = matches!(last.arguments, PathArguments::None);
            if plain && p.path.segments.len() == 1 {
                if let Some(prim) = Prim::from_ident(&name) {
                    return Some(Shape::Prim(prim));
                }
                if name == "usize" || name == "isize" {
                    let fix = if name == "usize" { "u64" } else { "i64" };
                    return unsupported(
                        cx,
                        &format!("its width depends on the platform; use `{fix}` or `u32`/`i32`"),
                    );
                }
                if name == "str" {
                    return unsupported(cx, "use `String`");
                }
            }
            if plain && name == "String" {
                return Some(Shape::Str);
            }
            if name == "Vec" {
                return match generic_arg(ty, "Vec") {
                    Some(Type::Path(e)) if e.path.is_ident("u8") => Some(Shape::Bytes),
                    _ => unsupported(cx, "`Vec` is supported as `Vec<u8>` only"),
                };
            }
            const STD: [&str; 12] = [
                "Box",
                "Rc",
                "Arc",
                "Cow",
                "HashMap",
                "BTreeMap",
                "HashSet",
                "BTreeSet",
                "VecDeque",
                "Cell",
                "RefCell",
                "PhantomData",
            ];
            if STD.contains(&name.as_str()) {
                return unsupported(cx, SUPPORTED);
            }
            Some(Shape::Nested(ty.clone()))
        }
        _ => unsupported(cx, SUPPORTED),
    }
}

/// `T` when `ty` is `Name<T>` (with any path before `Name`).
fn generic_arg<'t>(ty: &'t Type, name: &str) -> Option<&'t Type> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    if args.args.len() != 1 {
        return None;
    }
    match args.args.first()? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}
