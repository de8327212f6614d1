//! [`Sender`]: the typed, routing layer over one or more raw senders.

use core::fmt;
use core::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use segrec_core::frame::LENGTH_PREFIX;
use segrec_core::{EncodeError, SegmentRecord};

use super::error::{Failure, SendError, SendTimeoutError, TrySendError};
use super::gate::Wait;
use super::metrics::{EdgeMetrics, EdgeSnapshot};
use super::raw::RawSender;

/// Seed of the key hash that picks a partition; fixed so that every sender of
/// an edge routes a key the same way.
pub const PARTITION_SEED: u64 = 0x5E6_2EC0_FFEE;

/// How a sender routes records to its receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// Everything to one receiver (one-to-one, or one of many senders of a
    /// fan-in).
    Forward,
    /// By the hash of the record's key: every key to exactly one receiver.
    Hash,
    /// Every record to every receiver.
    Broadcast,
    /// Records dealt to the receivers in turn.
    RoundRobin,
}

/// The sending end of an edge. Records are encoded straight into the current
/// buffer of their logical channel; a full buffer, [`flush`](Self::flush),
/// the buffer timeout or [`close`](Self::close) (also on drop) hands it to
/// the receiver. A send that needs a new buffer and has no credit blocks:
/// that is the backpressure.
pub struct Sender<T> {
    outs: Vec<RawSender>,
    route: Route,
    next: usize,
    scratch: Vec<u8>,
    metrics: Arc<EdgeMetrics>,
    _record: PhantomData<fn(T) -> T>,
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("edge", &self.metrics.name())
            .field("route", &self.route)
            .field("receivers", &self.outs.len())
            .finish()
    }
}

impl<T: SegmentRecord> Sender<T> {
    pub(crate) fn new(outs: Vec<RawSender>, route: Route, metrics: Arc<EdgeMetrics>) -> Self {
        Self { outs, route, next: 0, scratch: Vec::new(), metrics, _record: PhantomData }
    }

    /// Sends `value`, blocking while the channel has no credit.
    ///
    /// # Errors
    ///
    /// [`SendError::Disconnected`] when the receiver is gone,
    /// [`SendError::Cancelled`] when the pool was cancelled,
    /// [`SendError::Encode`] when `value` cannot be encoded.
    pub fn send(&mut self, value: T) -> Result<(), SendError<T>> {
        self.send_with(&value, Wait::Forever).map_err(|f| SendError::from_failure(value, f))
    }

    /// Sends a borrowed value; as [`send`](Self::send).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send), handing the reference back.
    pub fn send_ref<'a>(&mut self, value: &'a T) -> Result<(), SendError<&'a T>> {
        self.send_with(value, Wait::Forever).map_err(|f| SendError::from_failure(value, f))
    }

    /// Sends already encoded record bytes (e.g. a received view's
    /// [`bytes`](segrec_core::RecordRef::bytes)) without decoding them.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send); `Encode` when the bytes are too long to frame.
    pub fn send_encoded<'a>(&mut self, encoded: &'a [u8]) -> Result<(), SendError<&'a [u8]>> {
        self.route_encoded(encoded, Wait::Forever).map_err(|f| SendError::from_failure(encoded, f))
    }

    /// Sends `value` only if it does not have to wait for credit.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] when a new buffer is needed and no credit is
    /// left; otherwise as [`send`](Self::send). A record larger than a buffer
    /// may wait for the buffers after its first.
    pub fn try_send(&mut self, value: T) -> Result<(), TrySendError<T>> {
        self.send_with(&value, Wait::No).map_err(|f| TrySendError::from_failure(value, f))
    }

    /// Sends `value`, waiting at most `timeout` for credit.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] when no credit came in time; otherwise
    /// as [`send`](Self::send).
    pub fn send_timeout(&mut self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        let wait = Instant::now().checked_add(timeout).map_or(Wait::Forever, Wait::Until);
        self.send_with(&value, wait).map_err(|f| SendTimeoutError::from_failure(value, f))
    }

    #[inline]
    fn send_with(&mut self, value: &T, wait: Wait) -> Result<(), Failure> {
        let len = value.encoded_len();
        let framed = framed_len::<T>(len)?;
        if self.route == Route::Forward || self.outs.len() == 1 {
            let Some(out) = self.outs.first_mut() else { return Err(Failure::Disconnected) };
            return out.write(framed, wait, |buf| encode_framed(value, len, buf));
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.resize(len, 0);
        let result = value
            .encode(&mut scratch)
            .map_err(Failure::Encode)
            .and_then(|_| self.route_encoded(&scratch, wait));
        self.scratch = scratch;
        result
    }

    #[inline]
    fn route_encoded(&mut self, encoded: &[u8], wait: Wait) -> Result<(), Failure> {
        let len = encoded.len();
        if let Some(size) = T::ENCODED_SIZE
            && size != len
        {
            return Err(Failure::Encode(EncodeError::BufferTooSmall { needed: size, available: len }));
        }
        let framed = framed_len::<T>(len)?;
        let n = self.outs.len();
        let target = match self.route {
            _ if n == 1 => 0,
            Route::Forward => 0,
            Route::Hash => pick(T::hash_key(encoded, PARTITION_SEED), n),
            Route::RoundRobin => {
                let t = self.next;
                self.next = if t + 1 == n { 0 } else { t + 1 };
                t
            }
            Route::Broadcast => {
                // `wait` applies until the first receiver took the record;
                // then every other live receiver must get it too, so the
                // rest wait as long as it takes (or until cancellation).
                let mut delivered = 0;
                let mut wait = wait;
                let mut last = Failure::Disconnected;
                for out in &mut self.outs {
                    if out.is_disconnected() {
                        continue;
                    }
                    match out.write(framed, wait, |buf| copy_framed::<T>(encoded, buf)) {
                        Ok(()) => {
                            delivered += 1;
                            wait = Wait::Forever;
                        }
                        Err(Failure::Disconnected) => {}
                        Err(e @ Failure::Cancelled) => return Err(e),
                        Err(e) if delivered == 0 => return Err(e),
                        Err(e) => last = e,
                    }
                }
                return if delivered > 0 { Ok(()) } else { Err(last) };
            }
        };
        let Some(out) = self.outs.get_mut(target) else { return Err(Failure::Disconnected) };
        out.write(framed, wait, |buf| copy_framed::<T>(encoded, buf))
    }

    /// Hands every partly filled buffer to its receiver now.
    pub fn flush(&mut self) {
        for out in &mut self.outs {
            out.hand_over();
        }
    }

    /// Flushes and tells the receivers that no more records come. Dropping
    /// the sender does the same.
    pub fn close(self) {
        drop(self);
    }

    /// Whether every receiver is gone.
    #[must_use]
    pub fn is_disconnected(&self) -> bool {
        self.outs.iter().all(RawSender::is_disconnected)
    }

    /// Records this sender has sent (counting those still in its buffers).
    #[must_use]
    pub fn records_sent(&self) -> u64 {
        self.outs.iter().map(|o| o.records).sum()
    }

    /// Time this sender spent blocked waiting for credit.
    #[must_use]
    pub fn blocked_time(&self) -> Duration {
        self.outs.iter().map(|o| o.blocked).sum()
    }

    /// The live counters of the edge this sender belongs to.
    #[must_use]
    pub fn metrics(&self) -> EdgeSnapshot {
        self.metrics.snapshot()
    }

    /// A handle to the edge's live counters.
    #[must_use]
    pub fn metrics_handle(&self) -> Arc<EdgeMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Receivers this sender routes to.
    #[must_use]
    pub fn receivers(&self) -> usize {
        self.outs.len()
    }

    /// How this sender routes records.
    #[must_use]
    pub fn route(&self) -> Route {
        self.route
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        for out in &mut self.outs {
            out.close();
        }
    }
}

/// Lemire's multiply-shift range reduction: `hash` to `0..n` without a
/// division.
#[inline]
fn pick(hash: u64, n: usize) -> usize {
    ((u128::from(hash) * n as u128) >> 64) as usize
}

#[inline]
fn framed_len<T: SegmentRecord>(len: usize) -> Result<usize, Failure> {
    if T::ENCODED_SIZE.is_some() {
        return Ok(len);
    }
    if u32::try_from(len).is_err() {
        return Err(Failure::Encode(EncodeError::LengthOverflow { field: "<record>", len }));
    }
    Ok(len + LENGTH_PREFIX)
}

#[inline]
fn encode_framed<T: SegmentRecord>(value: &T, len: usize, out: &mut [u8]) -> Result<(), EncodeError> {
    if T::ENCODED_SIZE.is_some() {
        value.encode(out)?;
    } else {
        // `framed_len` checked that `len` fits in a u32.
        out[..LENGTH_PREFIX].copy_from_slice(&(len as u32).to_le_bytes());
        value.encode(&mut out[LENGTH_PREFIX..])?;
    }
    Ok(())
}

#[inline]
fn copy_framed<T: SegmentRecord>(encoded: &[u8], out: &mut [u8]) -> Result<(), EncodeError> {
    if T::ENCODED_SIZE.is_some() {
        out.copy_from_slice(encoded);
    } else {
        out[..LENGTH_PREFIX].copy_from_slice(&(encoded.len() as u32).to_le_bytes());
        out[LENGTH_PREFIX..].copy_from_slice(encoded);
    }
    Ok(())
}
