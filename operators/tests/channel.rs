//! Channel scenarios: exactly-once in-order delivery, backpressure with a
//! slow consumer, shuffle, broadcast, rebalance, fan-in, disconnection and
//! pool sizing; every scenario runs under a timeout guard.

mod chan;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chan::{Fixed, Rng, Var, memory, var_records, within};
use proptest::prelude::*;
use segrec_core::{RecordRef, SegmentRecord};
use segrec_operators::channel::{
    self, BackpressureLevel, BufferPool, ChannelConfig, PoolError, RecvError, Route, SendError, TrySendError,
};

const LIMIT: Duration = Duration::from_secs(30);

fn fixed_records(seed: u64, n: usize) -> Vec<Fixed> {
    let mut rng = Rng::new(seed);
    (0..n).map(|i| Fixed { key: rng.below(1000), payload: i as u32 }).collect()
}

#[test]
fn one_to_one_delivers_every_record_once_in_order_including_records_larger_than_a_buffer() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let mem = memory(256 << 10, dir.path());
        let pool = BufferPool::new(&mem, 12).unwrap();
        // Keys of 10 000 bytes span three 4 KiB buffers.
        let input = var_records(7, 20_000, 97, 10_000);
        let (mut tx, rx) = channel::channel::<Var>(&pool, ChannelConfig::default().floating(2)).unwrap();
        let mut rx = rx;
        let expected = input.clone();
        let got = std::thread::scope(|s| {
            s.spawn(move || {
                for r in input {
                    tx.send(r).unwrap();
                }
            });
            let mut got = Vec::new();
            while let Some(v) = rx.next_ref().unwrap() {
                got.push(RecordRef::to_owned(&v));
            }
            got
        });
        assert_eq!(got, expected);
        drop(rx);
        assert_eq!(pool.available(), 12, "every buffer went back to the pool");
        let s = mem.stats();
        assert!(s.peak <= s.budget);
        drop(pool);
        assert_eq!(mem.stats().in_use, 0);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    });
}

#[test]
fn slow_consumer_backpressures_the_producer_within_its_credits() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let mem = memory(1 << 20, dir.path());
        let pool = BufferPool::new(&mem, 16).unwrap();
        let config = ChannelConfig::default().exclusive(2).floating(3);
        let (mut tx, mut rx) = channel::channel::<Fixed>(&pool, config).unwrap();
        let input = fixed_records(3, 40_000); // 12 bytes: 341 per buffer, ~117 buffers
        let expected = input.clone();
        let metrics = tx.metrics_handle();
        let got = std::thread::scope(|s| {
            s.spawn(move || {
                for r in input {
                    tx.send(r).unwrap();
                }
            });
            let mut got = Vec::new();
            let mut i = 0u64;
            while let Some(v) = rx.next_ref().unwrap() {
                got.push(RecordRef::to_owned(&v));
                i += 1;
                if i.is_multiple_of(341) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            got
        });
        assert_eq!(got, expected);
        let m = metrics.snapshot();
        assert_eq!(m.records, 40_000);
        assert!(m.blocked > Duration::from_millis(20), "producer was not backpressured: {m}");
        assert!(m.backpressure() >= BackpressureLevel::Low, "{m}");
        assert!(m.max_buffers_in_flight <= 5, "more buffers in flight than credits: {m}");
        assert_eq!(m.credit_limit, 5);
        let s = mem.stats();
        assert!(s.peak <= 16 * 4096, "memory grew past the pool: {s}");
    });
}

#[test]
fn shuffle_sends_each_key_to_exactly_one_receiver_and_loses_nothing() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let mem = memory(1 << 20, dir.path());
        let pool = BufferPool::new(&mem, 64).unwrap();
        let input = var_records(11, 30_000, 0, 0);
        let (mut tx, rxs) = channel::partitioned::<Var>(&pool, 4, ChannelConfig::default()).unwrap();
        let parts: Vec<Vec<Var>> = std::thread::scope(|s| {
            let handles: Vec<_> = rxs
                .into_iter()
                .map(|mut rx| {
                    s.spawn(move || {
                        let mut v = Vec::new();
                        while let Some(r) = rx.recv().unwrap() {
                            v.push(r);
                        }
                        v
                    })
                })
                .collect();
            for r in &input {
                tx.send_ref(r).unwrap();
            }
            drop(tx);
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut owner: HashMap<&str, usize> = HashMap::new();
        for (i, part) in parts.iter().enumerate() {
            assert!(!part.is_empty(), "partition {i} got nothing");
            for r in part {
                assert_eq!(*owner.entry(&r.key).or_insert(i), i, "key {:?} in two partitions", r.key);
            }
            // In order within a partition.
            assert!(part.windows(2).all(|w| w[0].n < w[1].n));
        }
        let mut all: Vec<Var> = parts.into_iter().flatten().collect();
        all.sort_by_key(|r| r.n);
        assert_eq!(all, input);
    });
}

#[test]
fn broadcast_gives_every_receiver_everything_and_rebalance_deals_everything_once() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let mem = memory(1 << 20, dir.path());
        let pool = BufferPool::new(&mem, 64).unwrap();
        let input = fixed_records(5, 20_000);
        for route in [Route::Broadcast, Route::RoundRobin] {
            let (mut txs, rxs) =
                channel::edge::<Fixed>(&pool, "edge", route, 1, 3, ChannelConfig::default()).unwrap();
            let mut tx = txs.pop().unwrap();
            let parts: Vec<Vec<Fixed>> = std::thread::scope(|s| {
                let hs: Vec<_> = rxs
                    .into_iter()
                    .map(|mut rx| s.spawn(move || rx.iter().collect::<Result<Vec<_>, _>>().unwrap()))
                    .collect();
                for r in &input {
                    tx.send(*r).unwrap();
                }
                drop(tx);
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            match route {
                Route::Broadcast => assert!(parts.iter().all(|p| *p == input)),
                _ => {
                    assert!(
                        parts.iter().all(|p| p.len() == input.len() / 3 || p.len() == input.len() / 3 + 1)
                    );
                    let mut all: Vec<Fixed> = parts.into_iter().flatten().collect();
                    all.sort_by_key(|r| r.payload);
                    assert_eq!(all, input);
                }
            }
        }
        assert_eq!(pool.available(), 64);
    });
}

#[test]
fn fan_in_keeps_each_senders_order() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let mem = memory(1 << 20, dir.path());
        let pool = BufferPool::new(&mem, 32).unwrap();
        let (txs, mut rx) = channel::fan_in::<Fixed>(&pool, 4, ChannelConfig::default().floating(4)).unwrap();
        let per = 10_000u32;
        let got = std::thread::scope(|s| {
            for (i, mut tx) in txs.into_iter().enumerate() {
                s.spawn(move || {
                    for p in 0..per {
                        tx.send(Fixed { key: i as u64, payload: p }).unwrap();
                    }
                });
            }
            let mut seen: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
            while let Some(r) = rx.next_ref().unwrap() {
                seen.entry(r.key()).or_default().push(r.payload());
            }
            seen
        });
        assert_eq!(got.len(), 4);
        for v in got.values() {
            assert_eq!(*v, (0..per).collect::<Vec<_>>());
        }
    });
}

#[test]
fn dropped_receiver_disconnects_and_full_channel_reports_full() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let mem = memory(1 << 20, dir.path());
        let pool = BufferPool::new(&mem, 4).unwrap();
        let config = ChannelConfig::default().exclusive(1).floating(0);
        let (mut tx, rx) = channel::channel::<Var>(&pool, config).unwrap();
        // One buffer of credit: fill it, then the next buffer is refused.
        let big = Var { key: "x".repeat(3000), n: 1 };
        tx.try_send(big.clone()).unwrap();
        match tx.try_send(big.clone()) {
            Err(e @ TrySendError::Full(_)) => {
                assert_eq!(format!("{e:?}"), "TrySendError::Full(..)");
                assert_eq!(e.into_inner(), big);
            }
            other => panic!("expected Full, got {:?}", other.err()),
        }
        let err = tx.send_timeout(big.clone(), Duration::from_millis(20)).unwrap_err();
        assert!(err.is_timeout());
        drop(rx);
        match tx.send(big.clone()) {
            Err(SendError::Disconnected(v)) => assert_eq!(v, big),
            other => panic!("expected Disconnected, got {:?}", other.err()),
        }
        assert!(tx.is_disconnected());
        drop(tx);
        assert_eq!(pool.available(), 4);
    });
}

#[test]
fn a_blocked_sender_is_released_when_the_receiver_drops_or_the_pool_is_cancelled() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let mem = memory(1 << 20, dir.path());
        let pool = BufferPool::new(&mem, 8).unwrap();
        let config = ChannelConfig::default().exclusive(1).floating(0);
        let (mut tx, rx) = channel::channel::<Fixed>(&pool, config).unwrap();
        let (mut tx2, mut rx2) = channel::channel::<Fixed>(&pool, config).unwrap();
        std::thread::scope(|s| {
            let h = s.spawn(move || {
                let mut i = 0;
                loop {
                    if let Err(e) = tx.send(Fixed { key: i, payload: 0 }) {
                        return e.is_disconnected();
                    }
                    i += 1;
                }
            });
            std::thread::sleep(Duration::from_millis(30));
            drop(rx);
            assert!(h.join().unwrap());
            let h2 = s.spawn(move || rx2.recv());
            std::thread::sleep(Duration::from_millis(30));
            pool.cancel();
            assert_eq!(h2.join().unwrap(), Err(RecvError::Cancelled));
            assert!(matches!(tx2.send(Fixed { key: 1, payload: 1 }), Err(SendError::Cancelled(_))));
        });
    });
}

#[test]
fn a_pool_too_small_for_the_channels_fails_at_construction() {
    let dir = tempfile::tempdir().unwrap();
    let mem = memory(1 << 20, dir.path());
    let pool = BufferPool::new(&mem, 7).unwrap();
    let err = channel::partitioned::<Fixed>(&pool, 4, ChannelConfig::default()).unwrap_err();
    assert!(matches!(err, PoolError::Insufficient { needed: 8, available: 7, .. }), "{err}");
    assert!(err.to_string().contains("partition"));
    assert_eq!(pool.available(), 7, "nothing leaked by the failed construction");
    assert!(matches!(BufferPool::new(&mem, 1000), Err(PoolError::Memory { .. })));
    let (_tx, _rx) = channel::partitioned::<Fixed>(&pool, 3, ChannelConfig::default()).unwrap();
    assert_eq!(pool.available(), 1);
}

#[test]
fn a_lone_record_reaches_the_receiver_after_flush_and_buffer_timeout_zero_sends_each_record() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let mem = memory(1 << 20, dir.path());
        let pool = BufferPool::new(&mem, 8).unwrap();
        let (mut tx, mut rx) = channel::channel::<Fixed>(&pool, ChannelConfig::default()).unwrap();
        tx.send(Fixed { key: 1, payload: 2 }).unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(5)).unwrap_err().is_timeout());
        tx.flush();
        assert_eq!(rx.recv_timeout(LIMIT).unwrap(), Some(Fixed { key: 1, payload: 2 }));
        let config = ChannelConfig::default().buffer_timeout(Duration::ZERO);
        let (mut tx, mut rx) = channel::channel::<Fixed>(&pool, config).unwrap();
        for i in 0..5 {
            tx.send(Fixed { key: i, payload: 0 }).unwrap();
            assert_eq!(rx.recv_timeout(LIMIT).unwrap().map(|r| r.key), Some(i));
        }
        assert_eq!(tx.metrics().buffers, 5);
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_pools_credits_and_speeds_neither_deadlock_nor_lose_records(
        seed in any::<u64>(),
        senders in 1usize..4,
        receivers in 1usize..4,
        exclusive in 1usize..3,
        floating in 0usize..4,
        route in prop_oneof![Just(Route::Forward), Just(Route::Hash), Just(Route::RoundRobin), Just(Route::Broadcast)],
        n in 0usize..3000,
        slow_sender in any::<bool>(),
        slow_receiver in any::<bool>(),
    ) {
        let receivers = if route == Route::Forward { 1 } else { receivers };
        let (sent, got) = within(LIMIT, move || {
            let dir = tempfile::tempdir().unwrap();
            let mem = memory(1 << 20, dir.path());
            let spare = floating;
            let pool = BufferPool::new(&mem, senders * receivers * exclusive + spare).unwrap();
            let config = ChannelConfig::default().exclusive(exclusive).floating(floating)
                .buffer_timeout(Duration::from_millis(1));
            let (txs, rxs) = channel::edge::<Var>(&pool, "prop", route, senders, receivers, config).unwrap();
            let inputs: Vec<Vec<Var>> = (0..senders)
                .map(|s| var_records(seed ^ s as u64, n / senders, 50, 5000)
                    .into_iter().map(|mut r| { r.n += (s * 1_000_000) as u32; r }).collect())
                .collect();
            let got = std::thread::scope(|sc| {
                for (tx, input) in txs.into_iter().zip(inputs.clone()) {
                    let mut tx = tx;
                    sc.spawn(move || {
                        for (i, r) in input.into_iter().enumerate() {
                            tx.send(r).unwrap();
                            if slow_sender && i % 200 == 0 {
                                std::thread::sleep(Duration::from_micros(300));
                            }
                        }
                    });
                }
                let hs: Vec<_> = rxs.into_iter().map(|mut rx| sc.spawn(move || {
                    let mut v = Vec::new();
                    while let Some(r) = rx.next_ref().unwrap() {
                        v.push(RecordRef::to_owned(&r));
                        if slow_receiver && v.len() % 200 == 0 {
                            std::thread::sleep(Duration::from_micros(300));
                        }
                    }
                    v
                })).collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
            });
            assert_eq!(pool.available(), pool.total());
            (inputs, got)
        });
        let mut expected: Vec<Var> = sent.into_iter().flatten().collect();
        if route == Route::Broadcast {
            for part in &got {
                let mut p = part.clone();
                p.sort();
                let mut e = expected.clone();
                e.sort();
                prop_assert_eq!(p, e);
            }
        } else {
            let mut all: Vec<Var> = got.into_iter().flatten().collect();
            all.sort();
            expected.sort();
            prop_assert_eq!(all, expected);
        }
    }
}

#[test]
fn send_errors_debug_without_debug_payload() {
    struct Opaque;
    let e: SendError<Opaque> = SendError::Disconnected(Opaque);
    assert_eq!(format!("{e:?}"), "SendError::Disconnected(..)");
    assert_eq!(e.to_string(), "sending on a disconnected channel");
    let _ = Var::ENCODED_SIZE;
}
