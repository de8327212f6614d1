//! Lifetime of a gate's endpoints, apart from the flow-control algorithm (as
//! crossbeam-channel keeps its `counter.rs` beside its flavours): which
//! senders are still open and whether the receiver is alive, plus the
//! per-channel signal word a sender polls without taking the lock.

use core::sync::atomic::{AtomicU8, Ordering};

/// Signal bit: the receiver waited longer than the buffer timeout and asks
/// the sender to hand over its partly filled buffer.
pub(crate) const FLUSH_REQUESTED: u8 = 1;
/// Signal bit: the receiver is gone.
pub(crate) const RECEIVER_GONE: u8 = 2;

/// Which endpoints of a gate are alive. Lives inside the gate's mutex.
#[derive(Debug)]
pub(crate) struct Endpoints {
    sender_open: Vec<bool>,
    open_senders: usize,
    receiver_alive: bool,
}

impl Endpoints {
    pub(crate) fn new(channels: usize) -> Self {
        Self { sender_open: vec![true; channels], open_senders: channels, receiver_alive: true }
    }

    /// Marks the sender of `channel` closed; `true` the first time.
    pub(crate) fn close_sender(&mut self, channel: usize) -> bool {
        match self.sender_open.get_mut(channel) {
            Some(open) if *open => {
                *open = false;
                self.open_senders -= 1;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn sender_open(&self, channel: usize) -> bool {
        self.sender_open.get(channel).copied().unwrap_or(false)
    }

    pub(crate) fn all_senders_closed(&self) -> bool {
        self.open_senders == 0
    }

    pub(crate) fn close_receiver(&mut self) {
        self.receiver_alive = false;
    }

    pub(crate) fn receiver_alive(&self) -> bool {
        self.receiver_alive
    }
}

/// One signal word per logical channel, read by the sender on every record.
#[derive(Debug)]
pub(crate) struct Signals(Box<[AtomicU8]>);

impl Signals {
    pub(crate) fn new(channels: usize) -> Self {
        Self((0..channels).map(|_| AtomicU8::new(0)).collect())
    }

    #[inline]
    pub(crate) fn get(&self, channel: usize) -> u8 {
        self.0.get(channel).map_or(RECEIVER_GONE, |s| s.load(Ordering::Relaxed))
    }

    pub(crate) fn raise_all(&self, bit: u8) {
        for s in self.0.iter() {
            s.fetch_or(bit, Ordering::Release);
        }
    }

    pub(crate) fn clear(&self, channel: usize, bit: u8) {
        if let Some(s) = self.0.get(channel) {
            s.fetch_and(!bit, Ordering::Relaxed);
        }
    }
}
