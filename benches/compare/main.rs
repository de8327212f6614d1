//! The comparison harness: segrec and the plain-Rust alternative on the same
//! data in one process, one `RATIO` line per workload.
//!
//! `cargo bench --bench compare -- [filter...]`; `SEGREC_BENCH_N` sets the
//! record count (default 10M).

mod channel;
mod derive;
mod harness;
mod join;
mod paged;
mod record;
mod sort;

fn main() {
    let cfg = harness::Config::from_env();
    println!("# segrec comparison harness, n = {}", cfg.n);
    paged::run(&cfg);
    derive::run(&cfg);
    sort::run(&cfg);
    join::run(&cfg);
    channel::run(&cfg);
}
