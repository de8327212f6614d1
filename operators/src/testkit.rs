//! Records for the crate's unit tests: derived, of several shapes, with key
//! fields of matching types across pairs (`Fx`/`Fy`, `Vs`/`Vt`, `Ox`/`Oy`)
//! so joins can match rows of different structs.

use segrec_macros::SegmentRecord;

/// Fixed size, `u64` key.
#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[segment(crate = "segrec_core")]
pub struct Fx {
    #[segment(key)]
    pub key: u64,
    pub payload: u32,
}

/// Fixed size, `u64` key, a different shape than [`Fx`].
#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[segment(crate = "segrec_core")]
pub struct Fy {
    pub tag: u8,
    #[segment(key)]
    pub key: u64,
}

/// Variable size, `String` key.
#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[segment(crate = "segrec_core")]
pub struct Vs {
    #[segment(key)]
    pub key: String,
    pub n: u32,
}

/// Variable size, `String` key, with a blob.
#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[segment(crate = "segrec_core")]
pub struct Vt {
    #[segment(key)]
    pub key: String,
    pub blob: Vec<u8>,
}

/// Fixed size, `Option<u32>` key.
#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[segment(crate = "segrec_core")]
pub struct Ox {
    #[segment(key)]
    pub key: Option<u32>,
    pub v: u16,
}

/// Fixed size, `Option<u32>` key alone.
#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[segment(crate = "segrec_core")]
pub struct Oy {
    #[segment(key)]
    pub key: Option<u32>,
}
