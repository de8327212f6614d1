//! The receiving side's shared state and the credit algorithm.
//!
//! A *gate* (Flink's `InputGate`) belongs to one receiver and holds one or
//! more logical input channels, one per sender. Each channel owns
//! `exclusive` buffers taken from the pool when the gate is built; the gate
//! may borrow up to `floating` more from the pool, shared by its channels.
//! A free buffer held by a channel is a *credit*: the sender takes one to
//! fill, hands it back full (it is queued for the receiver), and when none is
//! left it first asks for a floating buffer (its backlog is the request) and
//! otherwise blocks: that is the backpressure. The receiver reads a buffer,
//! then returns it: an exclusive buffer becomes a credit of its channel again,
//! a floating one stays with the gate while a sender still waits and goes
//! back to the pool otherwise. So the buffers one channel holds (being
//! written, queued, being read) never exceed `exclusive + floating`.
//!
//! One mutex guards the gate; it is taken once per buffer, never per record.
//! Every wait is sliced (a few milliseconds) so that it also observes
//! cancellation of the pool.

use core::sync::atomic::{AtomicU32, Ordering};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::ChannelConfig;
use super::counter::{Endpoints, FLUSH_REQUESTED, RECEIVER_GONE, Signals};
use super::error::Failure;
use super::metrics::EdgeMetrics;
use super::pool::{Buffer, PoolShared};

/// Longest single sleep of a blocked endpoint before it re-checks
/// cancellation.
const WAIT_SLICE: Duration = Duration::from_millis(10);

/// Before an endpoint sleeps on the condition variable it spins (1, 2, 4,
/// ... `spin_loop` hints per round) and then yields a few times, watching a
/// sequence number without taking the lock: a buffer or a credit usually
/// comes back within microseconds, and a futex sleep and wake-up costs more
/// than that (crossbeam's `Backoff` does the same). Measured on the channel
/// benches: spinning on the lock itself, or longer, made things worse.
const SPIN_ROUNDS: u32 = 7;

/// Spins until `seq` moves away from `seen` or the spin budget is spent,
/// without touching the gate's lock (spinning on the lock would fight the
/// other side for it).
fn spin_until_changed(seq: &AtomicU32, seen: u32) {
    for round in 0..SPIN_ROUNDS {
        for _ in 0..(1u32 << round) {
            core::hint::spin_loop();
        }
        if seq.load(Ordering::Acquire) != seen {
            return;
        }
    }
    for _ in 0..YIELDS {
        std::thread::yield_now();
        if seq.load(Ordering::Acquire) != seen {
            return;
        }
    }
}

/// Yields after spinning, before sleeping (as crossbeam's `Backoff`).
const YIELDS: u32 = 4;

/// How long a blocking call may wait.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wait {
    /// Not at all.
    No,
    /// Until this instant.
    Until(Instant),
    /// Until something happens (still observing cancellation).
    Forever,
}

/// A buffer with data, queued for the receiver.
pub(crate) struct Filled {
    pub(crate) buf: Buffer,
    pub(crate) len: usize,
}

struct ChannelState {
    queue: VecDeque<Filled>,
    free: Vec<Buffer>,
    in_flight: usize,
}

struct GateState {
    channels: Vec<ChannelState>,
    floating_free: Vec<Buffer>,
    floating_held: usize,
    ends: Endpoints,
    senders_waiting: usize,
    receiver_waiting: bool,
    cursor: usize,
}

/// What the receiver asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Want {
    /// The next buffer of any channel (round robin).
    Any,
    /// The next buffer of this channel (a record continues there).
    Channel(usize),
}

/// Why the receiver got no buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecvFailure {
    Cancelled,
    Timeout,
}

pub(crate) struct Gate {
    state: Mutex<GateState>,
    /// Bumped whenever data is queued or a sender closes (receivers spin on it).
    data_seq: AtomicU32,
    /// Bumped whenever a buffer comes back (senders spin on it).
    credit_seq: AtomicU32,
    data: Condvar,
    credit: Condvar,
    pub(crate) pool: Arc<PoolShared>,
    pub(crate) signals: Signals,
    pub(crate) metrics: Arc<EdgeMetrics>,
    pub(crate) config: ChannelConfig,
}

impl Gate {
    /// A gate of `channels` input channels, taking their exclusive buffers.
    /// `None` when the pool has too few free buffers.
    pub(crate) fn new(
        pool: &Arc<PoolShared>,
        channels: usize,
        config: ChannelConfig,
        metrics: Arc<EdgeMetrics>,
    ) -> Option<Self> {
        let mut states = Vec::with_capacity(channels);
        for ch in 0..channels {
            let free = pool.take_exact(config.exclusive_buffers, ch)?;
            states.push(ChannelState { queue: VecDeque::new(), free, in_flight: 0 });
        }
        Some(Self {
            state: Mutex::new(GateState {
                channels: states,
                floating_free: Vec::new(),
                floating_held: 0,
                ends: Endpoints::new(channels),
                senders_waiting: 0,
                receiver_waiting: false,
                cursor: 0,
            }),
            data_seq: AtomicU32::new(0),
            credit_seq: AtomicU32::new(0),
            data: Condvar::new(),
            credit: Condvar::new(),
            pool: Arc::clone(pool),
            signals: Signals::new(channels),
            metrics,
            config,
        })
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        // No code panics while holding the lock; a poisoned state is still
        // consistent, so recover it rather than propagate a panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An empty buffer for the sender of `channel`: a credit.
    pub(crate) fn acquire(
        &self,
        channel: usize,
        wait: Wait,
        blocked_total: &mut Duration,
    ) -> Result<Buffer, Failure> {
        let mut st = self.lock();
        let mut blocked: Option<Instant> = None;
        let mut spun = false;
        let result = loop {
            if self.pool.is_cancelled() {
                break Err(Failure::Cancelled);
            }
            if !st.ends.receiver_alive() {
                break Err(Failure::Disconnected);
            }
            let Some(state) = st.channels.get_mut(channel) else {
                break Err(Failure::Disconnected);
            };
            let taken = match state.free.pop() {
                Some(b) => Some(b),
                None => match st.floating_free.pop() {
                    Some(b) => Some(b),
                    None if st.floating_held < self.config.floating_buffers => {
                        let b = self.pool.try_take(true, channel);
                        if b.is_some() {
                            st.floating_held += 1;
                        }
                        b
                    }
                    None => None,
                },
            };
            if let Some(mut buf) = taken {
                buf.owner = channel;
                let state = &mut st.channels[channel];
                state.in_flight += 1;
                self.metrics.observe_in_flight(state.in_flight);
                break Ok(buf);
            }
            let slice = match wait {
                Wait::No => break Err(Failure::Full),
                Wait::Until(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break Err(Failure::Timeout);
                    }
                    (deadline - now).min(WAIT_SLICE)
                }
                Wait::Forever => WAIT_SLICE,
            };
            blocked.get_or_insert_with(Instant::now);
            if !spun {
                spun = true;
                let seen = self.credit_seq.load(Ordering::Acquire);
                drop(st);
                spin_until_changed(&self.credit_seq, seen);
                st = self.lock();
                continue;
            }
            st.senders_waiting += 1;
            st = self.credit.wait_timeout(st, slice).unwrap_or_else(PoisonError::into_inner).0;
            st.senders_waiting -= 1;
        };
        drop(st);
        if let Some(t0) = blocked {
            let d = t0.elapsed();
            *blocked_total += d;
            self.metrics.add_blocked(d);
        }
        result
    }

    /// Hands a filled buffer to the receiver (it already holds credit).
    pub(crate) fn push(&self, channel: usize, filled: Filled) {
        let mut st = self.lock();
        if !st.ends.receiver_alive() {
            Self::give_back(&mut st, filled.buf);
            return;
        }
        if let Some(state) = st.channels.get_mut(channel) {
            state.queue.push_back(filled);
        }
        self.data_seq.fetch_add(1, Ordering::Release);
        if st.receiver_waiting {
            self.data.notify_one();
        }
    }

    /// Returns a buffer the sender took but did not fill.
    pub(crate) fn release_unused(&self, buf: Buffer) {
        let mut st = self.lock();
        Self::give_back(&mut st, buf);
        self.credit_seq.fetch_add(1, Ordering::Release);
        if st.senders_waiting > 0 {
            self.credit.notify_all();
        }
    }

    fn give_back(st: &mut GateState, buf: Buffer) {
        if let Some(state) = st.channels.get_mut(buf.owner) {
            state.in_flight = state.in_flight.saturating_sub(1);
        }
        if buf.floating {
            if st.senders_waiting > 0 && st.ends.receiver_alive() {
                st.floating_free.push(buf);
            } else {
                st.floating_held = st.floating_held.saturating_sub(1);
                drop(buf); // back to the pool
            }
        } else if let Some(state) = st.channels.get_mut(buf.owner) {
            state.free.push(buf);
        }
    }

    /// The sender of `channel` is done: flushes are over, no more data.
    pub(crate) fn close_sender(&self, channel: usize) {
        let mut st = self.lock();
        self.data_seq.fetch_add(1, Ordering::Release);
        if st.ends.close_sender(channel) && st.receiver_waiting {
            self.data.notify_all();
        }
    }

    /// The receiver is gone: drop queued data and wake the senders.
    pub(crate) fn close_receiver(&self) {
        let mut st = self.lock();
        st.ends.close_receiver();
        self.signals.raise_all(RECEIVER_GONE);
        let queued: Vec<Filled> = st.channels.iter_mut().flat_map(|c| c.queue.drain(..)).collect();
        for f in queued {
            Self::give_back(&mut st, f.buf);
        }
        let floating = std::mem::take(&mut st.floating_free);
        st.floating_held = st.floating_held.saturating_sub(floating.len());
        drop(floating);
        self.credit_seq.fetch_add(1, Ordering::Release);
        self.credit.notify_all();
    }

    /// Returns `returned` (the buffer just read) and takes the next buffer
    /// with data. `Ok(None)`: for [`Want::Any`], every sender closed and all
    /// was read; for [`Want::Channel`], that channel's sender closed with
    /// nothing queued.
    pub(crate) fn next(
        &self,
        returned: Option<Buffer>,
        want: Want,
        wait: Wait,
        idle_total: &mut Duration,
    ) -> Result<Option<(usize, Filled)>, RecvFailure> {
        let mut st = self.lock();
        if let Some(buf) = returned {
            Self::give_back(&mut st, buf);
            self.credit_seq.fetch_add(1, Ordering::Release);
            if st.senders_waiting > 0 {
                self.credit.notify_all();
            }
        }
        let mut idle: Option<Instant> = None;
        let mut flush_asked = false;
        let mut spun = false;
        let result = loop {
            let n = st.channels.len();
            match want {
                Want::Any => {
                    let start = st.cursor;
                    let found = (0..n).map(|i| (start + i) % n).find(|&c| !st.channels[c].queue.is_empty());
                    if let Some(c) = found {
                        st.cursor = (c + 1) % n;
                        // `found` has a non-empty queue.
                        if let Some(f) = st.channels[c].queue.pop_front() {
                            break Ok(Some((c, f)));
                        }
                    }
                    if st.ends.all_senders_closed() {
                        break Ok(None);
                    }
                }
                Want::Channel(c) => {
                    if let Some(f) = st.channels.get_mut(c).and_then(|s| s.queue.pop_front()) {
                        break Ok(Some((c, f)));
                    }
                    if !st.ends.sender_open(c) {
                        break Ok(None);
                    }
                }
            }
            if self.pool.is_cancelled() {
                break Err(RecvFailure::Cancelled);
            }
            let slice = match wait {
                Wait::No => break Err(RecvFailure::Timeout),
                Wait::Until(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break Err(RecvFailure::Timeout);
                    }
                    (deadline - now).min(WAIT_SLICE)
                }
                Wait::Forever => WAIT_SLICE,
            };
            let t0 = *idle.get_or_insert_with(Instant::now);
            if !spun {
                spun = true;
                let seen = self.data_seq.load(Ordering::Acquire);
                drop(st);
                spin_until_changed(&self.data_seq, seen);
                st = self.lock();
                continue;
            }
            if !flush_asked && t0.elapsed() >= self.config.buffer_timeout {
                // Flink's buffer timeout: data must not sit in a partly
                // filled buffer while the receiver starves.
                self.signals.raise_all(FLUSH_REQUESTED);
                flush_asked = true;
            }
            st.receiver_waiting = true;
            st = self
                .data
                .wait_timeout(st, slice.min(self.config.buffer_timeout.max(Duration::from_millis(1))))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            st.receiver_waiting = false;
        };
        drop(st);
        if let Some(t0) = idle {
            let d = t0.elapsed();
            *idle_total += d;
            self.metrics.add_idle(d);
        }
        result
    }

    /// Whether a buffer is queued or the stream has ended (a receive would
    /// not block).
    pub(crate) fn has_data_or_ended(&self) -> bool {
        let st = self.lock();
        st.ends.all_senders_closed() || st.channels.iter().any(|c| !c.queue.is_empty())
    }
}
