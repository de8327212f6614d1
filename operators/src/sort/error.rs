//! [`SortError`]: everything a sort can fail with, each naming what failed.

use segrec_core::{DecodeError, EncodeError, MemoryError, SpillError};
use thiserror::Error;

/// A sort could not push, spill, merge or read back a record.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SortError {
    /// A single record needs more memory than the sorter can ever have.
    #[error(
        "sorter `{sorter}`: a record of {size} bytes (plus its index entry) does not fit in the \
         sort's memory budget of {budget} bytes"
    )]
    RecordTooLarge {
        /// The sorter's reservation name.
        sorter: String,
        /// The record's framed size in bytes.
        size: usize,
        /// The bytes the sorter may hold at most.
        budget: usize,
    },
    /// The budget cannot hold the two run readers and the output a merge
    /// needs at the very least.
    #[error(
        "sorter `{sorter}`: merging needs {needed} bytes (two run readers and an output page), \
         only {available} are available"
    )]
    BudgetTooSmall {
        /// The sorter's reservation name.
        sorter: String,
        /// Bytes a two-way merge needs.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// Encoded bytes handed to `push_encoded` are not one record of the type.
    #[error("sorter `{sorter}`: pushed bytes are not a record: {source}")]
    InvalidRecord {
        /// The sorter's reservation name.
        sorter: String,
        /// Why the bytes were refused.
        #[source]
        source: DecodeError,
    },
    /// A record read back (from memory or a run file) failed validation.
    #[error("sorter output: record does not decode: {0}")]
    Decode(#[from] DecodeError),
    /// A record could not be encoded.
    #[error("sorter: record could not be encoded: {0}")]
    Encode(#[from] EncodeError),
    /// Memory for pages or buffers was refused where spilling cannot help.
    #[error("sorter: {0}")]
    Memory(#[from] MemoryError),
    /// Writing or reading a run file failed (disk full, unwritable
    /// directory, damaged file); the error names the file and frame.
    #[error("sorter run file: {0}")]
    Spill(#[from] SpillError),
}
