//! Joins of two record streams on their keys, in binary form, within a budget.
//!
//! * [`HashJoin`]: a hybrid hash join after Graefe ("Query Evaluation
//!   Techniques for Large Databases", 1993) and DeWitt et al. (1984), shaped
//!   like Flink's `MutableHashTable`: the build side (right) is partitioned by
//!   key hash into record pages; when the budget refuses a page the largest
//!   in-memory partition is spilled, and from then on its probe rows are
//!   spilled too. Spilled partition pairs are joined afterwards, recursively
//!   with a new hash seed; a partition that will not shrink (one key repeated
//!   past the budget) falls back to a block-nested-loop join of build chunks
//!   against the spilled probe rows. The in-memory table is a bucketed hash
//!   table of 64-byte buckets (8 tags + 8 record pointers).
//! * [`MergeJoin`]: a sort-merge join over two inputs sorted on the key,
//!   handling N:M key groups by buffering the right group in pages and
//!   spilling it (and replaying it from disk) when it outgrows the budget.
//!
//! Keys are compared across the two record types through their canonical
//! key bytes ([`SegmentRecord::write_key`]) and hashed with
//! [`SegmentRecord::hash_key`]; whole records are never decoded. A key with a
//! `None` part ([`SegmentRecord::key_has_null`]) matches nothing (SQL), so such
//! rows appear only in outer and anti results.
//!
//! Results come either through a zero-copy callback that lends
//! `Option<L::Ref>` / `Option<R::Ref>` ([`HashJoinRun::for_each`],
//! [`MergeJoin::for_each`]) or as an iterator of owned
//! `(Option<L>, Option<R>)` pairs ([`HashJoinRun::into_owned`],
//! [`MergeJoin::into_owned`]).

mod error;
mod frame;
mod hash_table;
mod hybrid;
mod merge;
mod output;
mod partition;
mod source;
mod types;

#[cfg(test)]
mod tests;

pub use error::{JoinError, Side};
pub use hybrid::{HashJoin, HashJoinRun, HashJoinStats, hash_join_owned};
pub use merge::MergeJoin;
pub use output::{OwnedJoin, Pair, Stepper};
pub use source::{EncodedRecords, RecordSource, Records};
pub use types::JoinType;

#[allow(unused_imports)]
use segrec_core::SegmentRecord;
