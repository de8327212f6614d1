//! Generated code is clean under strict lints in the user's crate.
#![deny(missing_docs, missing_debug_implementations, unused, unsafe_code)]

use segrec::prelude::*;

/// A documented enum.
#[derive(SegmentEnum, Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A.
    A,
    /// B.
    B,
}

/// A documented record.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Documented {
    /// The key.
    #[segment(key)]
    pub id: u64,
    /// A name.
    pub name: String,
    /// A kind.
    pub kind: Kind,
    /// Generic-free embedded record.
    pub inner: Option<Inner>,
}

/// Embedded; names the runtime crate explicitly.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
#[segment(crate = "segrec::core")]
pub struct Inner {
    /// A value.
    pub v: i8,
    /// A raw identifier.
    #[segment(key)]
    pub r#type: Option<[u8; 2]>,
}

#[test]
fn strict_lints_hold() {
    let d = Documented {
        id: 1,
        name: "n".into(),
        kind: Kind::B,
        inner: Some(Inner { v: -1, r#type: Some([1, 2]) }),
    };
    let mut buf = vec![0; d.encoded_len()];
    d.encode(&mut buf).unwrap();
    let r: DocumentedRef<'_> = Documented::view(&buf).unwrap();
    assert_eq!(r.inner().map(|i| i.v()), Some(-1));
    assert_eq!(r.inner().and_then(|i| i.r#type()), Some([1, 2]));
    assert_eq!(Inner::LAYOUT.fields[1].name, "type");
    assert_eq!(format!("{r:?}"), format!("{d:?}"));
}
