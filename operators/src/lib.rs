//! segrec-operators: sort, join and backpressured channels on binary records.
#![warn(missing_docs, missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod channel;
pub mod group;
pub mod join;
pub mod pipeline;
pub mod sort;
#[cfg(test)]
pub(crate) mod testkit;

pub use group::GroupByKey;
pub use sort::{SortError, SortedStream, Sorter, SorterConfig};
