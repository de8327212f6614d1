//! Building edges: `m` senders to `n` receivers with a [`Route`], and the
//! usual shapes (one-to-one, fan-in, hash partitioning, broadcast,
//! rebalance) as one-line constructors.
//!
//! Every receiver gets its own gate with one logical channel per sender, so
//! credits are per logical channel: a congested receiver stalls a sender only
//! when the sender has a record for it and that channel's credits are spent.

use std::sync::Arc;

use segrec_core::SegmentRecord;

use super::ChannelConfig;
use super::error::PoolError;
use super::gate::Gate;
use super::metrics::EdgeMetrics;
use super::pool::BufferPool;
use super::raw::{RawReceiver, RawSender};
use super::receiver::Receiver;
use super::sender::{Route, Sender};

/// The endpoints of an edge: its senders and its receivers.
pub type EdgeEnds<T> = (Vec<Sender<T>>, Vec<Receiver<T>>);

/// Builds an edge of `senders` senders and `receivers` receivers named
/// `name`. With [`Route::Forward`] sender `i` feeds receiver `i % receivers`
/// only (one-to-one when both counts match, fan-in when there is one
/// receiver); the other routes connect every sender to every receiver.
///
/// # Errors
///
/// [`PoolError::Insufficient`] when the pool cannot give every logical
/// channel its exclusive buffers; [`PoolError::Config`] for zero senders,
/// receivers or exclusive buffers.
pub fn edge<T: SegmentRecord>(
    pool: &BufferPool,
    name: &str,
    route: Route,
    senders: usize,
    receivers: usize,
    config: ChannelConfig,
) -> Result<EdgeEnds<T>, PoolError> {
    if senders == 0 || receivers == 0 {
        return Err(PoolError::Config("an edge needs at least one sender and one receiver"));
    }
    if config.exclusive_buffers == 0 {
        return Err(PoolError::Config("a channel needs at least one exclusive buffer"));
    }
    let metrics = Arc::new(EdgeMetrics::new(name, config.exclusive_buffers + config.floating_buffers));
    // Input channels of each receiver's gate, and which sender owns each.
    let inputs: Vec<Vec<usize>> = (0..receivers)
        .map(|r| match route {
            Route::Forward => (0..senders).filter(|s| s % receivers == r).collect(),
            _ => (0..senders).collect(),
        })
        .collect();
    let channels: usize = inputs.iter().map(Vec::len).sum();
    let needed = channels * config.exclusive_buffers;
    let shared = &pool.shared;
    if pool.available() < needed {
        return Err(insufficient(pool, name, channels, &config, needed));
    }
    let mut gates = Vec::with_capacity(receivers);
    for ins in &inputs {
        let gate = Gate::new(shared, ins.len().max(1), config, Arc::clone(&metrics))
            .ok_or_else(|| insufficient(pool, name, channels, &config, needed))?;
        gates.push(Arc::new(gate));
    }
    let mut outs: Vec<Vec<RawSender>> = (0..senders).map(|_| Vec::new()).collect();
    for (gate, ins) in gates.iter().zip(&inputs) {
        for (channel, &s) in ins.iter().enumerate() {
            outs[s].push(RawSender::new(Arc::clone(gate), channel));
        }
    }
    let senders =
        outs.into_iter().map(|o| Sender::new(o, route, Arc::clone(&metrics))).collect::<Vec<Sender<T>>>();
    let receivers =
        gates.into_iter().map(|g| Receiver::new(RawReceiver::new(g, T::ENCODED_SIZE))).collect::<Vec<_>>();
    Ok((senders, receivers))
}

fn insufficient(
    pool: &BufferPool,
    name: &str,
    channels: usize,
    config: &ChannelConfig,
    needed: usize,
) -> PoolError {
    PoolError::Insufficient {
        edge: name.to_owned(),
        channels,
        exclusive: config.exclusive_buffers,
        needed,
        available: pool.available(),
        total: pool.total(),
    }
}

fn single<X>(v: Vec<X>) -> Result<X, PoolError> {
    v.into_iter().next().ok_or(PoolError::Config("edge built without endpoints"))
}

/// A one-to-one channel.
///
/// # Errors
///
/// As [`edge`].
///
/// # Examples
///
/// ```
/// use segrec_core::{MemoryManager, RecordRef};
/// use segrec_macros::SegmentRecord;
/// use segrec_operators::channel::{BufferPool, ChannelConfig, channel};
///
/// #[derive(SegmentRecord, Debug, Clone, PartialEq)]
/// #[segment(crate = "segrec_core")]
/// struct Row {
///     #[segment(key)]
///     id: u64,
///     name: String,
/// }
///
/// let memory = MemoryManager::new(4 << 20);
/// let pool = BufferPool::new(&memory, 16)?;
/// let (mut tx, mut rx) = channel::<Row>(&pool, ChannelConfig::default())?;
/// std::thread::scope(|s| {
///     s.spawn(move || {
///         for id in 0..1000 {
///             tx.send(Row { id, name: format!("row {id}") }).expect("receiver alive");
///         }
///         // Dropping the sender flushes and closes the channel.
///     });
///     let mut expected = 0;
///     while let Some(row) = rx.next_ref().expect("channel intact") {
///         assert_eq!((row.id(), row.name()), (expected, format!("row {expected}").as_str()));
///         expected += 1;
///     }
///     assert_eq!(expected, 1000);
/// });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn channel<T: SegmentRecord>(
    pool: &BufferPool,
    config: ChannelConfig,
) -> Result<(Sender<T>, Receiver<T>), PoolError> {
    let (s, r) = edge(pool, "channel", Route::Forward, 1, 1, config)?;
    Ok((single(s)?, single(r)?))
}

/// `senders` senders into one receiver, each on its own logical channel.
///
/// # Errors
///
/// As [`edge`].
pub fn fan_in<T: SegmentRecord>(
    pool: &BufferPool,
    senders: usize,
    config: ChannelConfig,
) -> Result<(Vec<Sender<T>>, Receiver<T>), PoolError> {
    let (s, r) = edge(pool, "fan-in", Route::Forward, senders, 1, config)?;
    Ok((s, single(r)?))
}

/// One sender partitioning records by key hash over `receivers` receivers.
///
/// # Errors
///
/// As [`edge`].
pub fn partitioned<T: SegmentRecord>(
    pool: &BufferPool,
    receivers: usize,
    config: ChannelConfig,
) -> Result<(Sender<T>, Vec<Receiver<T>>), PoolError> {
    let (s, r) = edge(pool, "partition", Route::Hash, 1, receivers, config)?;
    Ok((single(s)?, r))
}

/// One sender copying every record to each of `receivers` receivers.
///
/// # Errors
///
/// As [`edge`].
pub fn broadcast<T: SegmentRecord>(
    pool: &BufferPool,
    receivers: usize,
    config: ChannelConfig,
) -> Result<(Sender<T>, Vec<Receiver<T>>), PoolError> {
    let (s, r) = edge(pool, "broadcast", Route::Broadcast, 1, receivers, config)?;
    Ok((single(s)?, r))
}

/// One sender dealing records round robin over `receivers` receivers.
///
/// # Errors
///
/// As [`edge`].
pub fn rebalance<T: SegmentRecord>(
    pool: &BufferPool,
    receivers: usize,
    config: ChannelConfig,
) -> Result<(Sender<T>, Vec<Receiver<T>>), PoolError> {
    let (s, r) = edge(pool, "rebalance", Route::RoundRobin, 1, receivers, config)?;
    Ok((single(s)?, r))
}
