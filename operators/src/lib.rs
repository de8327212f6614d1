//! segrec-operators: sort, join and backpressured channels on binary records.
#![warn(missing_docs, missing_debug_implementations)]

pub mod channel;
