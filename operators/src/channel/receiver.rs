//! [`Receiver`]: the typed layer over a raw receiver.

use core::fmt;
use core::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use segrec_core::SegmentRecord;

use super::error::RecvError;
use super::gate::Wait;
use super::metrics::{EdgeMetrics, EdgeSnapshot};
use super::raw::RawReceiver;

/// The receiving end of an edge: reads the records of all its input
/// channels (one per sender), each channel's in the order sent, and returns
/// every buffer once read. Receive methods return `Ok(None)` at the end of
/// the stream, when every sender has closed and everything was read.
pub struct Receiver<T> {
    raw: RawReceiver,
    _record: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("edge", &self.raw.gate().metrics.name()).finish()
    }
}

impl<T: SegmentRecord> Receiver<T> {
    pub(crate) fn new(raw: RawReceiver) -> Self {
        Self { raw, _record: PhantomData }
    }

    /// The next record as a zero-copy view into the buffer (or, for a record
    /// that spans buffers, into a reusable scratch buffer).
    ///
    /// # Errors
    ///
    /// [`RecvError::Decode`] for bytes that are not a record,
    /// [`RecvError::Truncated`] when a sender vanished mid-record,
    /// [`RecvError::Cancelled`] when the pool was cancelled.
    #[inline]
    pub fn next_ref(&mut self) -> Result<Option<T::Ref<'_>>, RecvError> {
        match self.raw.next(Wait::Forever)? {
            None => Ok(None),
            Some((channel, bytes)) => {
                T::view(bytes).map(Some).map_err(|error| RecvError::Decode { channel, error })
            }
        }
    }

    /// The next record's encoded bytes, without framing.
    ///
    /// # Errors
    ///
    /// As [`next_ref`](Self::next_ref), without decoding.
    #[inline]
    pub fn next_encoded(&mut self) -> Result<Option<&[u8]>, RecvError> {
        Ok(self.raw.next(Wait::Forever)?.map(|(_, b)| b))
    }

    /// The next record, decoded into an owned value.
    ///
    /// # Errors
    ///
    /// As [`next_ref`](Self::next_ref).
    pub fn recv(&mut self) -> Result<Option<T>, RecvError> {
        Self::decode(self.raw.next(Wait::Forever)?)
    }

    /// As [`recv`](Self::recv), waiting at most `timeout` for a record to
    /// start arriving.
    ///
    /// # Errors
    ///
    /// [`RecvError::Timeout`] when none did; otherwise as
    /// [`next_ref`](Self::next_ref).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<T>, RecvError> {
        let wait = Instant::now().checked_add(timeout).map_or(Wait::Forever, Wait::Until);
        match self.raw.next(wait) {
            Err(RecvError::Timeout(_)) => Err(RecvError::Timeout(timeout)),
            other => Self::decode(other?),
        }
    }

    /// As [`recv`](Self::recv), without waiting.
    ///
    /// # Errors
    ///
    /// [`RecvError::Timeout`] (of zero) when nothing is there yet.
    pub fn try_recv(&mut self) -> Result<Option<T>, RecvError> {
        Self::decode(self.raw.next(Wait::No)?)
    }

    fn decode(next: Option<(usize, &[u8])>) -> Result<Option<T>, RecvError> {
        match next {
            None => Ok(None),
            Some((channel, bytes)) => {
                T::decode(bytes).map(Some).map_err(|error| RecvError::Decode { channel, error })
            }
        }
    }

    /// Whether a receive would return at once (a record is buffered or the
    /// stream has ended).
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.raw.is_ready()
    }

    /// An iterator of owned records; stops at the end of the stream or at
    /// the first error, which it yields.
    pub fn iter(&mut self) -> impl Iterator<Item = Result<T, RecvError>> + '_ {
        std::iter::from_fn(move || self.recv().transpose())
    }

    /// Records read so far.
    #[must_use]
    pub fn records_received(&self) -> u64 {
        self.raw.records
    }

    /// Time this receiver spent waiting for data.
    #[must_use]
    pub fn idle_time(&self) -> Duration {
        self.raw.idle
    }

    /// The live counters of the edge this receiver belongs to.
    #[must_use]
    pub fn metrics(&self) -> EdgeSnapshot {
        self.raw.gate().metrics.snapshot()
    }

    /// A handle to the edge's live counters.
    #[must_use]
    pub fn metrics_handle(&self) -> Arc<EdgeMetrics> {
        Arc::clone(&self.raw.gate().metrics)
    }
}
