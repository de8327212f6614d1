//! segrec-core: the memory discipline under segrec.
//!
//! * [`MemorySegment`]: a fixed-size, aligned page with typed and bit-level
//!   access;
//! * [`MemoryManager`]: the budget, handing out pooled pages through
//!   [`MemoryReservation`]s and refusing (never aborting) past the budget;
//! * [`PagedWriter`] / [`PagedReader`]: a list of pages seen as one byte stream
//!   in which records may straddle page boundaries;
//! * [`SpillWriter`] / [`SpillReader`]: checksummed page files in a temp
//!   directory, removed when their owner drops;
//! * [`SegmentRecord`]: the contract `#[derive(SegmentRecord)]` implements;
//! * [`frame`]: how records are laid into byte streams;
//! * [`process`]: the process's peak resident set size, to check budgets
//!   against what the operating system saw.
#![warn(missing_docs, missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod bits;
pub mod frame;
pub mod memory;
pub mod process;
pub mod record;
pub mod segment;
mod slab;
pub mod spill;
pub mod view;

pub use memory::{MemoryError, MemoryManager, MemoryManagerBuilder, MemoryReservation, MemoryStats, Page};
pub use record::{
    DecodeError, EncodeError, FieldKind, FieldLayout, KeyOrder, KeyPartLayout, Layout, NullOrder, RecordRef,
    SegmentEnum, SegmentRecord,
};
pub use segment::{MemorySegment, SegmentError};
pub use spill::{ReadAhead, SpillError, SpillFile, SpillReader, SpillWriter};
pub use view::{ByteSink, ByteSource, PagedReader, PagedWriter, RecordPointer, ViewError};
