//! `#[derive(SegmentRecord)]` and `#[derive(SegmentEnum)]`.
//!
//! Use them through the `segrec` crate, which re-exports them; the generated
//! code names runtime items as `::segrec::__private::segrec_core::...`, or
//! under the path given with `#[segment(crate = "path::to::segrec_core")]`.
//!
//! The derive runs in three steps: `parse` reads the input into a small model,
//! `check` applies the rules between attributes and types (collecting every
//! error, each spanned at its attribute or field), and `expand` generates the
//! code from a valid model only. On errors, `fallback` emits a stub impl next
//! to them.

mod check;
mod enumeration;
mod expand;
mod fallback;
mod parse;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `SegmentRecord` for a struct with named fields: its binary layout,
/// encoding, a zero-copy view type `FooRef<'a>`, and the key functions. See
/// the `segrec` crate for the attributes.
#[proc_macro_derive(SegmentRecord, attributes(segment))]
pub fn derive_segment_record(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match check::record(&input) {
        Ok(rec) => expand::record(&rec).into(),
        Err(e) => {
            let mut cx = parse::Ctxt::default();
            let krate = parse::container_attrs(&mut cx, &input.attrs, "SegmentRecord");
            let mut out = e.to_compile_error();
            out.extend(fallback::record(&input, krate));
            out.into()
        }
    }
}

/// Derives `SegmentEnum` for a fieldless enum: stored as its variant index in
/// `ceil(log2(variants))` bits.
#[proc_macro_derive(SegmentEnum, attributes(segment))]
pub fn derive_segment_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match check::enumeration(&input) {
        Ok(e) => enumeration::expand(&e).into(),
        Err(e) => {
            let mut cx = parse::Ctxt::default();
            let krate = parse::container_attrs(&mut cx, &input.attrs, "SegmentEnum");
            let mut out = e.to_compile_error();
            out.extend(fallback::enumeration(&input, krate));
            out.into()
        }
    }
}
