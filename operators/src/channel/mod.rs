//! Backpressured channels: records move between threads in filled pages
//! from a fixed [`BufferPool`], with credit-based flow control after Flink's
//! network stack (Flink 1.5+, "credit-based flow control": exclusive buffers
//! per input channel, floating buffers per gate requested by the sender's
//! backlog, a sender without credit waits).
//!
//! * [`BufferPool`] (`pool.rs`): the network buffers, taken from the
//!   [`MemoryManager`](segrec_core::MemoryManager) once;
//! * the gate (`gate.rs`): a receiver's input channels and the credit
//!   algorithm; endpoint lifetimes live apart in `counter.rs`;
//! * [`Sender`] / [`Receiver`]: typed endpoints; records are framed as in
//!   [`segrec_core::frame`] and may span buffers;
//! * [`edge`] and the shapes [`channel`], [`fan_in`], [`partitioned`],
//!   [`broadcast`], [`rebalance`];
//! * [`EdgeMetrics`]: records, bytes, buffers, blocked and idle time, and
//!   Flink's backpressure levels.
//!
//! Every blocking wait observes disconnection and [`BufferPool::cancel`].

mod counter;
mod edge;
mod error;
mod gate;
mod metrics;
mod pool;
mod raw;
mod receiver;
mod sender;

use std::time::Duration;

pub use edge::{EdgeEnds, broadcast, channel, edge, fan_in, partitioned, rebalance};
pub use error::{PoolError, RecvError, SendError, SendTimeoutError, TrySendError};
pub(crate) use metrics::ratio as metrics_ratio;
pub use metrics::{BackpressureLevel, EdgeMetrics, EdgeSnapshot};
pub use pool::{BufferPool, DEFAULT_POOL_PAGES};
pub use receiver::Receiver;
pub use sender::{PARTITION_SEED, Route, Sender};

/// Buffers and timing of the channels of an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelConfig {
    /// Buffers each logical channel owns (default 2, at least 1).
    pub exclusive_buffers: usize,
    /// Buffers each receiver may borrow from the pool while its senders have
    /// a backlog (default 8).
    pub floating_buffers: usize,
    /// How long a partly filled buffer may wait before it is handed over
    /// (default 100 ms, Flink's `execution.buffer-timeout`); zero hands over
    /// every record.
    pub buffer_timeout: Duration,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        Self { exclusive_buffers: 2, floating_buffers: 8, buffer_timeout: Duration::from_millis(100) }
    }
}

impl ChannelConfig {
    /// Sets the exclusive buffers per channel.
    #[must_use]
    pub fn exclusive(mut self, n: usize) -> Self {
        self.exclusive_buffers = n;
        self
    }

    /// Sets the floating buffers per receiver.
    #[must_use]
    pub fn floating(mut self, n: usize) -> Self {
        self.floating_buffers = n;
        self
    }

    /// Sets the buffer timeout.
    #[must_use]
    pub fn buffer_timeout(mut self, t: Duration) -> Self {
        self.buffer_timeout = t;
        self
    }
}
