//! The untyped endpoints: a sender writing framed record bytes into buffers
//! of one logical channel, and a receiver reading them back across buffers.
//! Compiled once; [`Sender`](super::Sender) and
//! [`Receiver`](super::Receiver) are thin typed layers over them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use segrec_core::EncodeError;

use super::counter::{FLUSH_REQUESTED, RECEIVER_GONE};
use super::error::{Failure, RecvError};
use super::gate::{Filled, Gate, RecvFailure, Wait, Want};
use super::pool::Buffer;

/// Records between two looks at the clock for the buffer timeout.
const TIMEOUT_CHECK_EVERY: u32 = 256;

/// Writes into one logical channel of a gate.
pub(crate) struct RawSender {
    gate: Arc<Gate>,
    channel: usize,
    buf: Option<Buffer>,
    len: usize,
    records_in_buf: u64,
    page_size: usize,
    flush_each: bool,
    countdown: u32,
    buf_started: Instant,
    scratch: Vec<u8>,
    closed: bool,
    /// Records written (whether or not their buffer was handed over yet).
    pub(crate) records: u64,
    /// Time spent waiting for credit.
    pub(crate) blocked: Duration,
}

impl RawSender {
    pub(crate) fn new(gate: Arc<Gate>, channel: usize) -> Self {
        let page_size = gate.pool.page_size();
        let flush_each = gate.config.buffer_timeout.is_zero();
        Self {
            gate,
            channel,
            buf: None,
            len: 0,
            records_in_buf: 0,
            page_size,
            flush_each,
            countdown: TIMEOUT_CHECK_EVERY,
            buf_started: Instant::now(),
            scratch: Vec::new(),
            closed: false,
            records: 0,
            blocked: Duration::ZERO,
        }
    }

    /// Appends one framed record of `len` bytes written by `fill`; all or
    /// nothing for records that fit a buffer.
    #[inline]
    pub(crate) fn write(
        &mut self,
        len: usize,
        wait: Wait,
        fill: impl FnOnce(&mut [u8]) -> Result<(), EncodeError>,
    ) -> Result<(), Failure> {
        if self.gate.pool.is_cancelled() {
            return Err(Failure::Cancelled);
        }
        let signals = self.gate.signals.get(self.channel);
        if signals & RECEIVER_GONE != 0 || self.closed {
            return Err(Failure::Disconnected);
        }
        if len > self.page_size {
            return self.write_spanning(len, wait, fill);
        }
        if self.buf.is_none() || self.len + len > self.page_size {
            self.hand_over();
            self.buf = Some(self.gate.acquire(self.channel, wait, &mut self.blocked)?);
            self.len = 0;
            self.buf_started = Instant::now();
        }
        let Some(buf) = self.buf.as_mut() else {
            // Just ensured above.
            return Err(Failure::Disconnected);
        };
        fill(&mut buf.bytes_mut()[self.len..self.len + len]).map_err(Failure::Encode)?;
        self.len += len;
        self.records_in_buf += 1;
        self.records += 1;
        self.after_write(signals);
        Ok(())
    }

    #[inline]
    fn after_write(&mut self, signals: u8) {
        if self.flush_each {
            self.hand_over();
        } else if signals & FLUSH_REQUESTED != 0 {
            self.gate.signals.clear(self.channel, FLUSH_REQUESTED);
            self.hand_over();
        } else {
            self.countdown -= 1;
            if self.countdown == 0 {
                self.countdown = TIMEOUT_CHECK_EVERY;
                if self.buf_started.elapsed() >= self.gate.config.buffer_timeout {
                    self.hand_over();
                }
            }
        }
    }

    /// A record larger than a buffer: encoded aside, then copied across as
    /// many buffers as it takes, all handed over at once. Only the first
    /// buffer honours `wait`.
    #[cold]
    fn write_spanning(
        &mut self,
        len: usize,
        wait: Wait,
        fill: impl FnOnce(&mut [u8]) -> Result<(), EncodeError>,
    ) -> Result<(), Failure> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.resize(len, 0);
        let result = fill(&mut scratch).map_err(Failure::Encode).and_then(|()| {
            self.hand_over();
            let mut rest = &scratch[..];
            let mut wait = wait;
            while !rest.is_empty() {
                let mut buf = self.gate.acquire(self.channel, wait, &mut self.blocked)?;
                wait = Wait::Forever;
                let n = rest.len().min(self.page_size);
                buf.bytes_mut()[..n].copy_from_slice(&rest[..n]);
                rest = &rest[n..];
                self.buf = Some(buf);
                self.len = n;
                self.buf_started = Instant::now();
                if !rest.is_empty() {
                    self.hand_over();
                }
            }
            self.records_in_buf += 1;
            self.records += 1;
            // Hand the tail over at once: a receiver assembling this record
            // must never wait on a piece that sits in a buffer of a sender
            // blocked elsewhere (two such receivers would wait on each other).
            self.hand_over();
            Ok(())
        });
        self.scratch = scratch;
        result
    }

    /// Hands the current buffer to the receiver if it holds data.
    pub(crate) fn hand_over(&mut self) {
        if self.len == 0 {
            return;
        }
        if let Some(buf) = self.buf.take() {
            self.gate.metrics.add_sent(self.records_in_buf, self.len as u64, 1);
            self.gate.push(self.channel, Filled { buf, len: self.len });
        }
        self.len = 0;
        self.records_in_buf = 0;
    }

    /// Whether the receiver is gone.
    pub(crate) fn is_disconnected(&self) -> bool {
        self.gate.signals.get(self.channel) & RECEIVER_GONE != 0
    }

    /// Flushes and tells the receiver no more data comes. Idempotent.
    pub(crate) fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.hand_over();
        if let Some(buf) = self.buf.take() {
            self.gate.release_unused(buf);
        }
        self.gate.close_sender(self.channel);
    }
}

impl Drop for RawSender {
    fn drop(&mut self) {
        self.close();
    }
}

/// Reads framed records from every logical channel of a gate.
pub(crate) struct RawReceiver {
    gate: Arc<Gate>,
    cur: Option<Filled>,
    channel: usize,
    pos: usize,
    scratch: Vec<u8>,
    fixed: Option<usize>,
    /// Records read.
    pub(crate) records: u64,
    /// Time spent waiting for data.
    pub(crate) idle: Duration,
}

impl RawReceiver {
    pub(crate) fn new(gate: Arc<Gate>, fixed: Option<usize>) -> Self {
        Self {
            gate,
            cur: None,
            channel: 0,
            pos: 0,
            scratch: Vec::new(),
            fixed,
            records: 0,
            idle: Duration::ZERO,
        }
    }

    /// The bytes of the next record (without framing) and its channel;
    /// `None` at the end of the stream. `wait` applies to the start of a
    /// record; the rest of a record spanning buffers is always awaited.
    #[inline]
    pub(crate) fn next(&mut self, wait: Wait) -> Result<Option<(usize, &[u8])>, RecvError> {
        let remaining = self.cur.as_ref().map_or(0, |f| f.len - self.pos);
        if remaining == 0 && !self.advance(wait)? {
            return Ok(None);
        }
        let len = match self.fixed {
            Some(n) => n,
            None => {
                let p = self.read(4)?;
                u32::from_le_bytes([p[0], p[1], p[2], p[3]]) as usize
            }
        };
        self.records += 1;
        let channel = self.channel;
        self.read(len).map(|b| Some((channel, b)))
    }

    /// Moves to the next buffer of any channel; `false` at the end.
    #[cold]
    fn advance(&mut self, wait: Wait) -> Result<bool, RecvError> {
        let returned = self.cur.take().map(|f| f.buf);
        match self.gate.next(returned, Want::Any, wait, &mut self.idle) {
            Ok(Some((channel, filled))) => {
                self.channel = channel;
                self.cur = Some(filled);
                self.pos = 0;
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(RecvFailure::Cancelled) => Err(RecvError::Cancelled),
            Err(RecvFailure::Timeout) => Err(RecvError::Timeout(match wait {
                Wait::Until(d) => d.saturating_duration_since(Instant::now()),
                _ => Duration::ZERO,
            })),
        }
    }

    /// `len` contiguous bytes of the current channel: lent from the buffer,
    /// or assembled in scratch when they continue in the next buffers.
    #[inline]
    fn read(&mut self, len: usize) -> Result<&[u8], RecvError> {
        let fits = self.cur.as_ref().is_some_and(|f| self.pos + len <= f.len);
        if !fits {
            return self.assemble(len);
        }
        let start = self.pos;
        self.pos += len;
        match &self.cur {
            Some(f) => Ok(&f.buf.bytes()[start..start + len]),
            // `fits` implies a current buffer.
            None => Err(RecvError::Truncated { channel: self.channel, missing: len }),
        }
    }

    #[cold]
    fn assemble(&mut self, len: usize) -> Result<&[u8], RecvError> {
        self.scratch.clear();
        loop {
            if let Some(f) = &self.cur {
                let n = (f.len - self.pos).min(len - self.scratch.len());
                self.scratch.extend_from_slice(&f.buf.bytes()[self.pos..self.pos + n]);
                self.pos += n;
            }
            if self.scratch.len() == len {
                return Ok(&self.scratch);
            }
            // Give the buffer back before waiting: with one exclusive buffer
            // the sender needs it to send the rest.
            let returned = self.cur.take().map(|f| f.buf);
            match self.gate.next(returned, Want::Channel(self.channel), Wait::Forever, &mut self.idle) {
                Ok(Some((_, filled))) => {
                    self.cur = Some(filled);
                    self.pos = 0;
                }
                Ok(None) => {
                    return Err(RecvError::Truncated {
                        channel: self.channel,
                        missing: len - self.scratch.len(),
                    });
                }
                Err(_) => return Err(RecvError::Cancelled),
            }
        }
    }

    /// Whether a receive would return without blocking.
    pub(crate) fn is_ready(&self) -> bool {
        self.cur.as_ref().is_some_and(|f| f.len > self.pos) || self.gate.has_data_or_ended()
    }

    pub(crate) fn gate(&self) -> &Arc<Gate> {
        &self.gate
    }
}

impl Drop for RawReceiver {
    fn drop(&mut self) {
        if let Some(f) = self.cur.take() {
            drop(f);
        }
        self.gate.close_receiver();
    }
}
