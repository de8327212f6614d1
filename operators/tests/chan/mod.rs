//! Records and helpers shared by the channel and pipeline tests.
#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

use segrec_core::MemoryManager;
use segrec_macros::SegmentRecord;

/// `{ key: u64, payload: u32 }`, 12 bytes.
#[derive(SegmentRecord, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[segment(crate = "segrec_core")]
pub struct Fixed {
    #[segment(key)]
    pub key: u64,
    pub payload: u32,
}

/// `{ key: String, n: u32 }`: 8 fixed bytes, then the key's bytes.
#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[segment(crate = "segrec_core")]
pub struct Var {
    #[segment(key)]
    pub key: String,
    pub n: u32,
}

/// A 64-bit finalizer (splitmix64).
pub fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A seeded xorshift generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(mix(seed) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// `n` Var records with keys of random length; every `big_every`-th has a
/// key of `big_len` bytes (larger than a buffer when `big_len` > page size).
pub fn var_records(seed: u64, n: usize, big_every: usize, big_len: usize) -> Vec<Var> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let len = if big_every > 0 && i % big_every == big_every - 1 {
                big_len
            } else {
                rng.below(40) as usize
            };
            let key: String = (0..len).map(|j| char::from(b'a' + ((i + j) % 26) as u8)).collect();
            Var { key, n: i as u32 }
        })
        .collect()
}

/// A memory manager with 4 KiB pages and the given budget.
pub fn memory(budget: usize, dir: &std::path::Path) -> MemoryManager {
    MemoryManager::builder().budget(budget).page_size(4096).spill_dir(dir).build().unwrap()
}

/// Runs `f` on a thread and fails the test if it does not finish within
/// `limit` (a deadlock fails instead of hanging CI).
pub fn within<R: Send + 'static>(limit: Duration, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = f();
        let _ = tx.send(r);
    });
    match rx.recv_timeout(limit) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("scenario did not finish within {limit:?}: deadlock?"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("scenario panicked"),
    }
}
