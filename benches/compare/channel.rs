//! Channel workloads, one producer thread and consumer thread(s):
//!
//! * `channel_records`: benchmark records sent one by one, read as views,
//!   vs a crossbeam `bounded(1024)` channel of owned structs;
//! * `channel_bytes`: pre-encoded 200-byte records (GB/s of encoded bytes)
//!   vs crossbeam `bounded(8)` of 32 KiB `Vec<u8>` buffers (recycled);
//! * `shuffle_4`: one producer partitioning by key hash to four consumers
//!   vs four crossbeam `bounded(1024)` channels of owned structs.

use std::hint::black_box;
use std::time::Duration;

use segrec::MemoryManager;
use segrec::operators::channel::{self, BufferPool, ChannelConfig, EdgeSnapshot};
use segrec::prelude::*;

use crate::harness::{Config, Rng, info, ratio, timed};
use crate::record::Rec;

/// A record carrying an opaque body, for the bytes workload.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Blob {
    #[segment(key)]
    key: u64,
    body: Vec<u8>,
}

fn setup() -> (MemoryManager, BufferPool) {
    let memory = MemoryManager::builder().budget(16 << 20).preallocate(true).build().expect("memory");
    let pool = BufferPool::new(&memory, 64).expect("pool");
    (memory, pool)
}

fn report(name: &str, m: Option<EdgeSnapshot>) {
    if let Some(m) = m {
        info(
            name,
            format_args!(
                "segrec: {} buffers, max {} of {} buffers in flight per channel, producer blocked {:.1?} ({}), consumer idle {:.1?}",
                m.buffers,
                m.max_buffers_in_flight,
                m.credit_limit,
                m.blocked,
                m.backpressure(),
                m.idle
            ),
        );
    }
}

pub fn run(cfg: &Config) {
    records(cfg);
    bytes(cfg);
    shuffle(cfg);
}

fn records(cfg: &Config) {
    const NAME: &str = "channel_records";
    if !cfg.enabled(NAME) {
        return;
    }
    let n = cfg.n;
    let (_memory, pool) = setup();
    let mut last = None;
    ratio(
        cfg,
        NAME,
        n,
        || {
            let (mut tx, mut rx) = channel::channel::<Rec>(&pool, ChannelConfig::default()).expect("channel");
            let (sum, t) = timed(|| {
                std::thread::scope(|s| {
                    s.spawn(move || {
                        let mut rng = Rng::new(3);
                        for _ in 0..n {
                            tx.send(Rec::random(&mut rng)).expect("receiver alive");
                        }
                    });
                    let mut sum = 0u64;
                    while let Some(v) = rx.next_ref().expect("receive") {
                        sum = sum.wrapping_add(v.key() ^ u64::from(v.a()));
                    }
                    sum
                })
            });
            black_box(sum);
            last = Some(rx.metrics());
            t
        },
        || {
            let (tx, rx) = crossbeam_channel::bounded::<Rec>(1024);
            let (sum, t) = timed(|| {
                std::thread::scope(|s| {
                    s.spawn(move || {
                        let mut rng = Rng::new(3);
                        for _ in 0..n {
                            tx.send(Rec::random(&mut rng)).expect("receiver alive");
                        }
                    });
                    let mut sum = 0u64;
                    for r in rx {
                        sum = sum.wrapping_add(r.key ^ u64::from(r.a));
                    }
                    sum
                })
            });
            black_box(sum);
            t
        },
    );
    report(NAME, last);
}

fn bytes(cfg: &Config) {
    const NAME: &str = "channel_bytes";
    if !cfg.enabled(NAME) {
        return;
    }
    // Records of about 200 bytes: n / 4 of them, ~500 MB at the default n.
    let n = cfg.n / 4;
    let mut rng = Rng::new(9);
    let encoded: Vec<Vec<u8>> = (0..64)
        .map(|i| {
            let body: Vec<u8> = (0..180 + (i % 32)).map(|_| rng.next_u64() as u8).collect();
            let r = Blob { key: rng.next_u64(), body };
            let mut out = vec![0u8; r.encoded_len()];
            r.encode(&mut out).expect("encode");
            out
        })
        .collect();
    let total: usize = (0..n).map(|i| encoded[i & 63].len()).sum();
    let (_memory, pool) = setup();
    let mut last = None;
    let enc = &encoded;
    let segrec_t = std::cell::Cell::new(Duration::ZERO);
    let base_t = std::cell::Cell::new(Duration::ZERO);
    ratio(
        cfg,
        NAME,
        n,
        || {
            let (mut tx, mut rx) =
                channel::channel::<Blob>(&pool, ChannelConfig::default()).expect("channel");
            let (sum, t) = timed(|| {
                std::thread::scope(|s| {
                    s.spawn(move || {
                        for i in 0..n {
                            tx.send_encoded(&enc[i & 63]).expect("receiver alive");
                        }
                    });
                    let mut sum = 0u64;
                    while let Some(v) = rx.next_ref().expect("receive") {
                        sum = sum.wrapping_add(v.key() ^ v.body().len() as u64);
                    }
                    sum
                })
            });
            black_box(sum);
            last = Some(rx.metrics());
            segrec_t.set(t);
            t
        },
        || {
            const BUF: usize = 32 << 10;
            let (tx, rx) = crossbeam_channel::bounded::<Vec<u8>>(8);
            let (back_tx, back_rx) = crossbeam_channel::bounded::<Vec<u8>>(16);
            let (sum, t) = timed(|| {
                std::thread::scope(|s| {
                    s.spawn(move || {
                        let mut buf = Vec::with_capacity(BUF);
                        for i in 0..n {
                            let r = &enc[i & 63];
                            if buf.len() + r.len() + 4 > BUF {
                                let next = back_rx.try_recv().unwrap_or_else(|_| Vec::with_capacity(BUF));
                                tx.send(std::mem::replace(&mut buf, next)).expect("receiver alive");
                            }
                            buf.extend_from_slice(&(r.len() as u32).to_le_bytes());
                            buf.extend_from_slice(r);
                        }
                        tx.send(buf).expect("receiver alive");
                    });
                    let mut sum = 0u64;
                    for mut buf in rx {
                        let mut at = 0;
                        while at < buf.len() {
                            let len =
                                u32::from_le_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
                            let v = Blob::view(&buf[at + 4..at + 4 + len]).expect("valid");
                            sum = sum.wrapping_add(v.key() ^ v.body().len() as u64);
                            at += 4 + len;
                        }
                        buf.clear();
                        let _ = back_tx.try_send(buf);
                    }
                    sum
                })
            });
            black_box(sum);
            base_t.set(t);
            t
        },
    );
    report(NAME, last);
    let gbs = |t: Duration| total as f64 / t.as_secs_f64() / 1e9;
    info(
        NAME,
        format_args!(
            "last run: segrec {:.2} GB/s, crossbeam buffers {:.2} GB/s",
            gbs(segrec_t.get()),
            gbs(base_t.get())
        ),
    );
}

fn shuffle(cfg: &Config) {
    const NAME: &str = "shuffle_4";
    if !cfg.enabled(NAME) {
        return;
    }
    let n = cfg.n;
    let (_memory, pool) = setup();
    let mut last = None;
    ratio(
        cfg,
        NAME,
        n,
        || {
            let (mut tx, rxs) =
                channel::partitioned::<Rec>(&pool, 4, ChannelConfig::default()).expect("edge");
            let metrics = tx.metrics_handle();
            let (sum, t) = timed(|| {
                std::thread::scope(|s| {
                    let hs: Vec<_> = rxs
                        .into_iter()
                        .map(|mut rx| {
                            s.spawn(move || {
                                let mut sum = 0u64;
                                while let Some(v) = rx.next_ref().expect("receive") {
                                    sum = sum.wrapping_add(v.key() ^ u64::from(v.a()));
                                }
                                sum
                            })
                        })
                        .collect();
                    let mut rng = Rng::new(3);
                    for _ in 0..n {
                        tx.send(Rec::random(&mut rng)).expect("receivers alive");
                    }
                    drop(tx);
                    hs.into_iter().map(|h| h.join().expect("consumer")).fold(0u64, u64::wrapping_add)
                })
            });
            black_box(sum);
            last = Some(metrics.snapshot());
            t
        },
        || {
            let (txs, rxs): (Vec<_>, Vec<_>) =
                (0..4).map(|_| crossbeam_channel::bounded::<Rec>(1024)).unzip();
            let (sum, t) = timed(|| {
                std::thread::scope(|s| {
                    let hs: Vec<_> = rxs
                        .into_iter()
                        .map(|rx| {
                            s.spawn(move || {
                                let mut sum = 0u64;
                                for r in rx {
                                    sum = sum.wrapping_add(r.key ^ u64::from(r.a));
                                }
                                sum
                            })
                        })
                        .collect();
                    let mut rng = Rng::new(3);
                    for _ in 0..n {
                        let r = Rec::random(&mut rng);
                        let h = r.key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                        txs[(h >> 62) as usize].send(r).expect("receivers alive");
                    }
                    drop(txs);
                    hs.into_iter().map(|h| h.join().expect("consumer")).fold(0u64, u64::wrapping_add)
                })
            });
            black_box(sum);
            t
        },
    );
    report(NAME, last);
}
