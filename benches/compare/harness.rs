//! Shared plumbing of the comparison harness: configuration, timing, medians
// Helpers are shared by workloads that may be compiled out of a given run.
#![allow(dead_code)]
//! and the `RATIO` lines.

use std::time::{Duration, Instant};

/// What to run and at which size.
pub struct Config {
    /// Substring filters from the command line (none = everything).
    filters: Vec<String>,
    /// Records per workload (`SEGREC_BENCH_N`, default 10M).
    pub n: usize,
    /// Runs per side; the median is reported.
    pub runs: usize,
}

impl Config {
    /// Reads `SEGREC_BENCH_N` and the filters (cargo's own `--bench` flag is
    /// ignored).
    pub fn from_env() -> Self {
        let filters = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
        let n = std::env::var("SEGREC_BENCH_N")
            .ok()
            .and_then(|v| v.replace('_', "").parse().ok())
            .unwrap_or(10_000_000);
        Self { filters, n, runs: 3 }
    }

    /// Whether the workload `name` was asked for.
    pub fn enabled(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

/// Times `f` once.
pub fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let start = Instant::now();
    let r = f();
    (r, start.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs both sides `cfg.runs` times, alternating, and prints
/// `RATIO <workload> <segrec ns/rec> <baseline ns/rec> <ratio>` from the
/// medians. Each closure does its own setup and returns the time of the part
/// being compared (the whole job, from records in hand to results read back).
pub fn ratio(
    cfg: &Config,
    name: &str,
    records: usize,
    mut segrec: impl FnMut() -> Duration,
    mut baseline: impl FnMut() -> Duration,
) {
    let mut s = Vec::new();
    let mut b = Vec::new();
    for _ in 0..cfg.runs {
        s.push(segrec());
        b.push(baseline());
    }
    let per = |d: Duration| d.as_nanos() as f64 / records.max(1) as f64;
    let (sn, bn) = (per(median(s)), per(median(b)));
    println!("RATIO {name} {sn:.2} {bn:.2} {:.3}", sn / bn);
}

/// Prints an extra fact about a workload: `INFO <workload> <text>`.
pub fn info(name: &str, text: impl std::fmt::Display) {
    println!("INFO {name} {text}");
}

/// A seeded xorshift generator: benchmarks need real, repeatable data.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
