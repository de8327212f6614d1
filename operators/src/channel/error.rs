//! Errors of channels and of the buffer pool. Send errors give the value back
//! (`into_inner`), as crossbeam-channel's do, and their `Debug` does not
//! require `T: Debug`.

use core::fmt;
use std::time::Duration;

use segrec_core::{DecodeError, EncodeError, MemoryError};
use thiserror::Error;

/// Why a send failed, without the value: the shared core of the public errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No credit now (non-blocking send).
    Full,
    /// No credit before the deadline.
    Timeout,
    /// The receiver is gone.
    Disconnected,
    /// The pipeline (or pool) was cancelled.
    Cancelled,
    /// The record could not be encoded.
    Encode(EncodeError),
}

macro_rules! common_send_error_impls {
    ($name:ident, $what:literal) => {
        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}::{}(..)", stringify!($name), self.kind_name())
            }
        }

        impl<T> std::error::Error for $name<T> {}
    };
}

/// A blocking [`send`](crate::channel::Sender::send) failed; the value is
/// handed back.
pub enum SendError<T> {
    /// Every receiver is gone: nobody will read the value.
    Disconnected(T),
    /// The buffer pool (the pipeline) was cancelled.
    Cancelled(T),
    /// The value could not be encoded; nothing was sent.
    Encode(T, EncodeError),
}

impl<T> SendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            Self::Disconnected(v) | Self::Cancelled(v) | Self::Encode(v, _) => v,
        }
    }

    /// Whether the receiver is gone.
    #[must_use]
    pub fn is_disconnected(&self) -> bool {
        matches!(self, Self::Disconnected(_))
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Self::Disconnected(_) => "Disconnected",
            Self::Cancelled(_) => "Cancelled",
            Self::Encode(..) => "Encode",
        }
    }

    pub(crate) fn from_failure(value: T, failure: Failure) -> Self {
        match failure {
            Failure::Encode(e) => Self::Encode(value, e),
            Failure::Cancelled => Self::Cancelled(value),
            // A blocking send neither times out nor finds the channel full.
            Failure::Disconnected | Failure::Full | Failure::Timeout => Self::Disconnected(value),
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Disconnected(_) => f.write_str("sending on a disconnected channel"),
            Self::Cancelled(_) => f.write_str("sending on a cancelled channel"),
            Self::Encode(_, e) => write!(f, "record could not be encoded for sending: {e}"),
        }
    }
}
common_send_error_impls!(SendError, "send");

/// A [`try_send`](crate::channel::Sender::try_send) failed; the value is
/// handed back.
pub enum TrySendError<T> {
    /// No credit: the receiver has not freed a buffer yet (backpressure).
    Full(T),
    /// Every receiver is gone.
    Disconnected(T),
    /// The buffer pool (the pipeline) was cancelled.
    Cancelled(T),
    /// The value could not be encoded; nothing was sent.
    Encode(T, EncodeError),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(v) | Self::Disconnected(v) | Self::Cancelled(v) | Self::Encode(v, _) => v,
        }
    }

    /// Whether the send failed only for lack of credit.
    #[must_use]
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// Whether the receiver is gone.
    #[must_use]
    pub fn is_disconnected(&self) -> bool {
        matches!(self, Self::Disconnected(_))
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Self::Full(_) => "Full",
            Self::Disconnected(_) => "Disconnected",
            Self::Cancelled(_) => "Cancelled",
            Self::Encode(..) => "Encode",
        }
    }

    pub(crate) fn from_failure(value: T, failure: Failure) -> Self {
        match failure {
            Failure::Full | Failure::Timeout => Self::Full(value),
            Failure::Disconnected => Self::Disconnected(value),
            Failure::Cancelled => Self::Cancelled(value),
            Failure::Encode(e) => Self::Encode(value, e),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("sending on a channel without credit"),
            Self::Disconnected(_) => f.write_str("sending on a disconnected channel"),
            Self::Cancelled(_) => f.write_str("sending on a cancelled channel"),
            Self::Encode(_, e) => write!(f, "record could not be encoded for sending: {e}"),
        }
    }
}
common_send_error_impls!(TrySendError, "try_send");

/// A [`send_timeout`](crate::channel::Sender::send_timeout) failed; the value
/// is handed back.
pub enum SendTimeoutError<T> {
    /// No credit arrived before the timeout.
    Timeout(T),
    /// Every receiver is gone.
    Disconnected(T),
    /// The buffer pool (the pipeline) was cancelled.
    Cancelled(T),
    /// The value could not be encoded; nothing was sent.
    Encode(T, EncodeError),
}

impl<T> SendTimeoutError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            Self::Timeout(v) | Self::Disconnected(v) | Self::Cancelled(v) | Self::Encode(v, _) => v,
        }
    }

    /// Whether the send timed out waiting for credit.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "Timeout",
            Self::Disconnected(_) => "Disconnected",
            Self::Cancelled(_) => "Cancelled",
            Self::Encode(..) => "Encode",
        }
    }

    pub(crate) fn from_failure(value: T, failure: Failure) -> Self {
        match failure {
            Failure::Full | Failure::Timeout => Self::Timeout(value),
            Failure::Disconnected => Self::Disconnected(value),
            Failure::Cancelled => Self::Cancelled(value),
            Failure::Encode(e) => Self::Encode(value, e),
        }
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout(_) => f.write_str("timed out waiting for credit on a channel"),
            Self::Disconnected(_) => f.write_str("sending on a disconnected channel"),
            Self::Cancelled(_) => f.write_str("sending on a cancelled channel"),
            Self::Encode(_, e) => write!(f, "record could not be encoded for sending: {e}"),
        }
    }
}
common_send_error_impls!(SendTimeoutError, "send_timeout");

/// Receiving failed. The end of the stream is not an error: receive methods
/// return `Ok(None)` once every sender has closed and all data was read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RecvError {
    /// The buffer pool (the pipeline) was cancelled.
    #[error("receiving on a cancelled channel")]
    Cancelled,
    /// A sender went away in the middle of a record.
    #[error("input channel {channel} ended inside a record ({missing} bytes missing)")]
    Truncated {
        /// Index of the input channel of the receiver.
        channel: usize,
        /// Bytes of the record that never arrived.
        missing: usize,
    },
    /// The bytes received are not a valid record.
    #[error("input channel {channel} delivered an invalid record: {error}")]
    Decode {
        /// Index of the input channel of the receiver.
        channel: usize,
        /// What was wrong with it.
        error: DecodeError,
    },
    /// No record arrived before the timeout (only from the `_timeout` and
    /// `try_` methods).
    #[error("no record arrived within {0:?}")]
    Timeout(Duration),
}

impl RecvError {
    /// Whether this is only a timeout.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }
}

/// A buffer pool or channel could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PoolError {
    /// The memory manager could not supply the pool's pages.
    #[error("buffer pool of {pages} pages could not take its memory: {source}")]
    Memory {
        /// Pages the pool asked for.
        pages: usize,
        /// The manager's refusal.
        source: MemoryError,
    },
    /// The pool has too few free buffers for the exclusive buffers of a new
    /// channel group: the pipeline has more channels than the pool can serve.
    #[error(
        "buffer pool cannot serve `{edge}`: {channels} channels x {exclusive} exclusive buffers \
         need {needed} buffers, {available} of {total} are free (enlarge the pool or lower the \
         exclusive buffers per channel)"
    )]
    Insufficient {
        /// Name of the edge being built.
        edge: String,
        /// Logical channels of the edge's receiver.
        channels: usize,
        /// Exclusive buffers per channel.
        exclusive: usize,
        /// Buffers needed.
        needed: usize,
        /// Buffers free in the pool.
        available: usize,
        /// Buffers in the pool.
        total: usize,
    },
    /// A configuration value is out of range.
    #[error("invalid channel configuration: {0}")]
    Config(&'static str),
}
