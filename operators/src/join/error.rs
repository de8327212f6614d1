//! What can go wrong in a join.

use core::fmt;

use segrec_core::{DecodeError, EncodeError, MemoryError, SpillError, ViewError};
use thiserror::Error;

/// Which input of a join a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The left input (the probe side of a hash join).
    Left,
    /// The right input (the build side of a hash join).
    Right,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Left => "left",
            Self::Right => "right",
        })
    }
}

/// A join failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum JoinError {
    /// The budget refused memory the join could not do without.
    #[error("join: {0}")]
    Memory(#[from] MemoryError),
    /// A spill file could not be written or read back intact (it names the
    /// file and the frame).
    #[error("join: {0}")]
    Spill(#[from] SpillError),
    /// The join's own pages were read out of bounds (a bug, never bad input).
    #[error("join: internal paging error: {0}")]
    View(#[from] ViewError),
    /// A record handed to the join could not be encoded.
    #[error("join: {side} record could not be encoded: {source}")]
    Encode {
        /// The input.
        side: Side,
        /// Why.
        #[source]
        source: EncodeError,
    },
    /// Bytes handed to the join, or read back, are not a valid record.
    #[error("join: {side} record could not be decoded: {source}")]
    Decode {
        /// The input.
        side: Side,
        /// Why.
        #[source]
        source: DecodeError,
    },
    /// One record is larger than the join can hold within its budget.
    #[error("join: a {side} record of {len} bytes is larger than the join can hold ({limit} bytes)")]
    RecordTooLarge {
        /// The input.
        side: Side,
        /// The record's framed length.
        len: usize,
        /// The largest record the budget allows.
        limit: usize,
    },
    /// The budget cannot even hold the join's fixed working pages.
    #[error("join: a budget of {budget} bytes is too small, at least {needed} bytes are needed")]
    BudgetTooSmall {
        /// The budget.
        budget: usize,
        /// The least that works.
        needed: usize,
    },
    /// An input of a merge join is not sorted on the key.
    #[error("join: the {side} input is not sorted on the key (at its record {index})")]
    Unsorted {
        /// The input.
        side: Side,
        /// 0-based index of the first record out of order.
        index: u64,
    },
    /// An input source failed.
    #[error("join: the {side} input failed: {source}")]
    Input {
        /// The input.
        side: Side,
        /// The source's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The output callback returned an error; the join stopped (the callback's
    /// own error is what [`for_each`](crate::join::HashJoinRun::for_each)
    /// returns).
    #[error("join: stopped by the output callback")]
    Stopped,
}

impl JoinError {
    pub(crate) fn decode(side: Side) -> impl FnOnce(DecodeError) -> JoinError {
        move |source| JoinError::Decode { side, source }
    }
}
