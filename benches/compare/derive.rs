//! The derive's workloads: `encode`, `decode` and `view_sum` of the benchmark
//! record, against a hand-written `to_le_bytes` codec and a `Vec<T>`.

use std::hint::black_box;

use segrec::prelude::*;

use crate::harness::{Config, Rng, info, ratio, timed};
use crate::record::Rec as Bench;

/// Bytes per record of the hand-written codec (bools as bytes).
const HAND: usize = 28;

#[inline]
fn hand_encode(r: &Bench, out: &mut [u8; HAND]) {
    out[0..8].copy_from_slice(&r.key.to_le_bytes());
    out[8..12].copy_from_slice(&r.a.to_le_bytes());
    out[12..16].copy_from_slice(&r.b.to_le_bytes());
    out[16..24].copy_from_slice(&r.price.to_le_bytes());
    out[24] = r.flag1 as u8;
    out[25] = r.flag2 as u8;
    out[26] = r.flag3 as u8;
    out[27] = r.tag;
}

#[inline]
fn hand_decode(b: &[u8; HAND]) -> Bench {
    Bench {
        key: u64::from_le_bytes(b[0..8].try_into().unwrap()),
        a: u32::from_le_bytes(b[8..12].try_into().unwrap()),
        b: i32::from_le_bytes(b[12..16].try_into().unwrap()),
        price: f64::from_le_bytes(b[16..24].try_into().unwrap()),
        flag1: b[24] != 0,
        flag2: b[25] != 0,
        flag3: b[26] != 0,
        tag: b[27],
    }
}

fn records(n: usize) -> Vec<Bench> {
    let mut rng = Rng::new(7);
    (0..n)
        .map(|_| {
            let x = rng.next_u64();
            let y = rng.next_u64();
            Bench {
                key: rng.next_u64(),
                a: x as u32,
                b: (x >> 32) as i32,
                price: (y >> 11) as f64 / 1e6,
                flag1: y & 1 != 0,
                flag2: y & 2 != 0,
                flag3: y & 4 != 0,
                tag: (y >> 3) as u8,
            }
        })
        .collect()
}

pub fn run(cfg: &Config) {
    let names = ["encode", "decode", "view_sum", "normkey"];
    if !names.iter().any(|n| cfg.enabled(n)) {
        return;
    }
    let n = cfg.n;
    const SZ: usize = match Bench::ENCODED_SIZE {
        Some(s) => s,
        None => panic!("fixed-size record"),
    };
    let recs = records(n);
    info(
        "encode",
        format_args!(
            "density: {SZ} encoded bytes per record vs size_of {} ({:.0}%)",
            size_of::<Bench>(),
            100.0 * SZ as f64 / size_of::<Bench>() as f64
        ),
    );
    // Output buffers allocated and touched once, reused by every run.
    let mut enc = vec![1u8; n * SZ];
    let mut hand = vec![1u8; n * HAND];
    for (r, out) in recs.iter().zip(enc.chunks_exact_mut(SZ)) {
        r.encode(out).unwrap();
    }
    for (r, out) in recs.iter().zip(hand.chunks_exact_mut(HAND)) {
        hand_encode(r, out.try_into().unwrap());
    }

    if cfg.enabled("encode") {
        ratio(
            cfg,
            "encode",
            n,
            || {
                timed(|| {
                    for (r, out) in recs.iter().zip(enc.chunks_exact_mut(SZ)) {
                        r.encode(out).unwrap();
                    }
                    black_box(&mut enc);
                })
                .1
            },
            || {
                timed(|| {
                    for (r, out) in recs.iter().zip(hand.chunks_exact_mut(HAND)) {
                        hand_encode(r, out.try_into().unwrap());
                    }
                    black_box(&mut hand);
                })
                .1
            },
        );
    }

    if cfg.enabled("decode") {
        let mut out: Vec<Bench> = Vec::with_capacity(n);
        let mut out2: Vec<Bench> = Vec::with_capacity(n);
        ratio(
            cfg,
            "decode",
            n,
            || {
                out.clear();
                timed(|| {
                    for c in black_box(&enc).chunks_exact(SZ) {
                        out.push(Bench::decode(c).unwrap());
                    }
                    black_box(&mut out);
                })
                .1
            },
            || {
                out2.clear();
                timed(|| {
                    for c in black_box(&hand).chunks_exact(HAND) {
                        out2.push(hand_decode(c.try_into().unwrap()));
                    }
                    black_box(&mut out2);
                })
                .1
            },
        );
        assert!(out == out2, "decoders disagree");
    }

    if cfg.enabled("normkey") {
        // The sorter's per-record step: the normalized key into a sort index,
        // against taking the key from a `Vec<T>` as big-endian bytes.
        const K: usize = Bench::NORMALIZED_KEY_LEN;
        let mut keys = vec![0u8; n * K];
        let mut keys2 = vec![0u8; n * 8];
        ratio(
            cfg,
            "normkey",
            n,
            || {
                timed(|| {
                    for (c, k) in black_box(&enc).chunks_exact(SZ).zip(keys.chunks_exact_mut(K)) {
                        Bench::write_normalized_key(c, k);
                    }
                    black_box(&mut keys);
                })
                .1
            },
            || {
                timed(|| {
                    for (r, k) in black_box(&recs).iter().zip(keys2.chunks_exact_mut(8)) {
                        k.copy_from_slice(&r.key.to_be_bytes());
                    }
                    black_box(&mut keys2);
                })
                .1
            },
        );
        assert!(keys == keys2, "normalized keys differ from the big-endian keys");
    }

    if cfg.enabled("view_sum") {
        let want: u64 = recs.iter().map(|r| u64::from(r.a)).sum();
        ratio(
            cfg,
            "view_sum",
            n,
            || {
                let (s, t) = timed(|| {
                    black_box(&enc)
                        .chunks_exact(SZ)
                        .map(|c| u64::from(Bench::view(c).unwrap().a()))
                        .sum::<u64>()
                });
                assert_eq!(s, want);
                t
            },
            || {
                let (s, t) = timed(|| black_box(&recs).iter().map(|r| u64::from(r.a)).sum::<u64>());
                assert_eq!(s, want);
                t
            },
        );
    }
}
