//! segrec: process more data than fits in memory, in budgeted memory segments.
#![warn(missing_docs, missing_debug_implementations)]

pub use segrec_core as core;
pub use segrec_core::*;
#[doc = include_str!("../docs/derive.md")]
pub use segrec_macros::{SegmentEnum, SegmentRecord};
pub use segrec_operators as operators;

/// Items generated code refers to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use segrec_core;
}

/// The names most programs need: `use segrec::prelude::*;`.
pub mod prelude {
    pub use segrec_core::{RecordRef, SegmentEnum, SegmentRecord};
    pub use segrec_macros::{SegmentEnum, SegmentRecord};
    pub use segrec_operators::channel::{BufferPool, ChannelConfig, Receiver, Sender};
    pub use segrec_operators::group::GroupByKey;
    pub use segrec_operators::join::{HashJoin, JoinError, JoinType, MergeJoin, RecordSource, Records};
    pub use segrec_operators::pipeline::{Pipeline, PipelineError, PipelineReport};
    pub use segrec_operators::sort::{SortError, SortedStream, Sorter, SorterConfig};
}

/// The README's code, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
