//! Per-edge counters, readable while the edge runs: records, bytes and
//! buffers sent, time the senders were blocked on credit (backpressured),
//! time the receiver waited for data (idle), and the most buffers one logical
//! channel had in flight.
//!
//! The backpressure ratio is blocked time over elapsed time, classified with
//! Flink's levels: OK up to 10 %, LOW up to 50 %, HIGH above.

use core::fmt;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Flink's classification of a backpressure ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BackpressureLevel {
    /// Blocked at most 10 % of the time.
    Ok,
    /// Blocked more than 10 % and at most 50 % of the time.
    Low,
    /// Blocked more than half of the time.
    High,
}

impl BackpressureLevel {
    /// The level of `ratio` (blocked time / elapsed time).
    #[must_use]
    pub fn of(ratio: f64) -> Self {
        if ratio <= 0.10 {
            Self::Ok
        } else if ratio <= 0.50 {
            Self::Low
        } else {
            Self::High
        }
    }
}

impl fmt::Display for BackpressureLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ok => "OK",
            Self::Low => "LOW",
            Self::High => "HIGH",
        })
    }
}

/// Live counters of one edge (all its logical channels), shared by its
/// senders and receivers. Senders publish their counts once per buffer.
#[derive(Debug)]
pub struct EdgeMetrics {
    name: String,
    started: Instant,
    credit_limit: usize,
    records: AtomicU64,
    bytes: AtomicU64,
    buffers: AtomicU64,
    blocked_ns: AtomicU64,
    idle_ns: AtomicU64,
    in_flight_max: AtomicUsize,
}

impl EdgeMetrics {
    pub(crate) fn new(name: impl Into<String>, credit_limit: usize) -> Self {
        Self {
            name: name.into(),
            started: Instant::now(),
            credit_limit,
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            buffers: AtomicU64::new(0),
            blocked_ns: AtomicU64::new(0),
            idle_ns: AtomicU64::new(0),
            in_flight_max: AtomicUsize::new(0),
        }
    }

    pub(crate) fn add_sent(&self, records: u64, bytes: u64, buffers: u64) {
        self.records.fetch_add(records, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.buffers.fetch_add(buffers, Ordering::Relaxed);
    }

    pub(crate) fn add_blocked(&self, d: Duration) {
        self.blocked_ns.fetch_add(nanos(d), Ordering::Relaxed);
    }

    pub(crate) fn add_idle(&self, d: Duration) {
        self.idle_ns.fetch_add(nanos(d), Ordering::Relaxed);
    }

    pub(crate) fn observe_in_flight(&self, n: usize) {
        self.in_flight_max.fetch_max(n, Ordering::Relaxed);
    }

    /// The edge's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A consistent-enough copy of the counters now.
    #[must_use]
    pub fn snapshot(&self) -> EdgeSnapshot {
        EdgeSnapshot {
            name: self.name.clone(),
            elapsed: self.started.elapsed(),
            records: self.records.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            buffers: self.buffers.load(Ordering::Relaxed),
            blocked: Duration::from_nanos(self.blocked_ns.load(Ordering::Relaxed)),
            idle: Duration::from_nanos(self.idle_ns.load(Ordering::Relaxed)),
            max_buffers_in_flight: self.in_flight_max.load(Ordering::Relaxed),
            credit_limit: self.credit_limit,
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The counters of an edge at one moment.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EdgeSnapshot {
    /// The edge's name.
    pub name: String,
    /// Time since the edge was built.
    pub elapsed: Duration,
    /// Records sent (published per buffer).
    pub records: u64,
    /// Bytes sent, framing included.
    pub bytes: u64,
    /// Buffers handed to receivers.
    pub buffers: u64,
    /// Total time senders were blocked waiting for credit.
    pub blocked: Duration,
    /// Total time the receivers waited for data.
    pub idle: Duration,
    /// Most buffers one logical channel held at once (being written, queued
    /// or being read).
    pub max_buffers_in_flight: usize,
    /// Buffers one logical channel may hold: exclusive plus floating.
    pub credit_limit: usize,
}

impl EdgeSnapshot {
    /// Blocked time over elapsed time, in `[0, 1]` for one sender (more
    /// than 1 is possible when several senders block at once).
    #[must_use]
    pub fn backpressure_ratio(&self) -> f64 {
        ratio(self.blocked, self.elapsed)
    }

    /// The Flink level of [`backpressure_ratio`](Self::backpressure_ratio).
    #[must_use]
    pub fn backpressure(&self) -> BackpressureLevel {
        BackpressureLevel::of(self.backpressure_ratio())
    }
}

pub(crate) fn ratio(part: Duration, whole: Duration) -> f64 {
    if whole.is_zero() { 0.0 } else { part.as_secs_f64() / whole.as_secs_f64() }
}

impl fmt::Display for EdgeSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "edge {}: {} records, {} bytes, {} buffers, blocked {:.1?} ({:.0}% {}), idle {:.1?}, \
             max {} of {} buffers in flight",
            self.name,
            self.records,
            self.bytes,
            self.buffers,
            self.blocked,
            self.backpressure_ratio() * 100.0,
            self.backpressure(),
            self.idle,
            self.max_buffers_in_flight,
            self.credit_limit,
        )
    }
}
