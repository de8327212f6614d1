//! Seeded key distributions and wide-key records for the fixed-path tests.

use crate::common::Rng;
use crate::shapes::{W9, W10, W11, W12};

// Key distributions, as `u64`s (left-aligned: a narrower key takes the top
// bits).

pub(crate) fn random(n: usize, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.next_u64()).collect()
}

pub(crate) fn ascending(n: usize) -> Vec<u64> {
    (0..n as u64).map(|i| (i / 3) << 20 | (i % 3)).collect()
}

pub(crate) fn descending(n: usize) -> Vec<u64> {
    let mut v = ascending(n);
    v.reverse();
    v
}

/// 90% of the keys share their top 40 bits (random below), the rest spread.
pub(crate) fn clustered(n: usize, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let k = rng.next_u64();
            if rng.below(10) == 0 { k } else { (0x0012_3456_789A << 24) | (k >> 40) }
        })
        .collect()
}

/// Clusters inside clusters: 90% share the top 16 bits of `prefix`, 90% of
/// those the top 32, 90% of those the top 48 (so many duplicates at the
/// bottom).
pub(crate) fn nested(n: usize, seed: u64, prefix: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let mut k = rng.next_u64();
            for shared in [16u32, 32, 48] {
                if rng.below(10) == 0 {
                    break;
                }
                let high = !(u64::MAX >> shared);
                k = (prefix & high) | (k & !high);
            }
            k
        })
        .collect()
}

pub(crate) fn duplicates(n: usize, seed: u64, distinct: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    // Spread over the whole key range, so every top bucket sees some.
    (0..n).map(|_| rng.below(distinct).wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect()
}

/// A sample that does not represent the rest: the first 20 000 keys are
/// small (sharing their top bits), then they are random.
pub(crate) fn unrepresentative(n: usize, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    (0..n).map(|i| if i < 20_000 { rng.below(5000) } else { rng.next_u64() }).collect()
}

const SPECIAL: [f64; 10] =
    [f64::NAN, -f64::NAN, 0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, 1.5, -1.5, f64::MIN_POSITIVE, 1e300];

pub(crate) fn float(rng: &mut Rng) -> f64 {
    match rng.below(4) {
        0 => SPECIAL[rng.below(SPECIAL.len() as u64) as usize],
        1 => (rng.below(200) as f64 - 100.0) / 8.0,
        _ => f64::from_bits(rng.next_u64()),
    }
}

pub(crate) fn w9s(n: u32, seed: u64) -> Vec<W9> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| W9 {
            tag: if rng.below(8) == 0 { rng.below(256) as u8 } else { 7 },
            price: float(&mut rng),
            seq: i,
        })
        .collect()
}

pub(crate) fn w10s(n: u32, seed: u64) -> Vec<W10> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| W10 {
            price: if rng.below(5) == 0 { None } else { Some(float(&mut rng)) },
            tag: rng.below(3) as u8,
            seq: i,
        })
        .collect()
}

/// Low-cardinality leading parts (4 ids or `None`, mostly -0.0), as a
/// composite key of a status, a flag and a level is.
pub(crate) fn w11s(n: u32, seed: u64) -> Vec<W11> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| W11 {
            id: if rng.below(10) == 0 { None } else { Some(rng.below(4) as u32 * 1_000_003) },
            x: if rng.below(3) == 0 { f32::from_bits(rng.next_u64() as u32) } else { -0.0 },
            level: rng.below(2000) as i16 - 1000,
            seq: i,
        })
        .collect()
}

/// Many records per `a` (`spread` values of it, the rest 99) and the `b`s
/// mostly sharing their top 36 bits, so the digits reach the last 4 bytes.
pub(crate) fn w12s(n: u32, seed: u64, spread: u64) -> Vec<W12> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let a = if rng.below(20) == 0 { (rng.below(spread) as u32).wrapping_mul(65_537) } else { 99 };
            let b = if rng.below(10) == 0 { rng.next_u64() } else { (5 << 40) | rng.below(1 << 28) };
            W12 { a, b, seq: i }
        })
        .collect()
}
