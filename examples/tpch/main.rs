//! The main job: TPC-H data, generated in-process by `tpchgen`, through
//! segrec's derive, sort, join and pipeline under one memory budget.
//!
//! `cargo run --release --example tpch -- --help`

mod job;
mod oracle;
mod q3;
mod records;
mod report;
mod shuffle_step;
mod sort_step;
mod spool;
mod tables;

use std::process::ExitCode;

use clap::Parser;

/// Run TPC-H Q3, a full external sort of lineitem and a 4-way shuffle under a
/// fixed memory budget, and report what it cost.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// TPC-H scale factor (0.1 ≈ 600k line items; 1 ≈ 6M).
    #[arg(long, default_value_t = 0.1, value_parser = parse_sf)]
    sf: f64,
    /// Memory budget for all operators, e.g. `64MiB`, `512KiB`, `1GiB`.
    #[arg(long, default_value = "64MiB", value_parser = report::parse_bytes)]
    memory: usize,
    /// Directory for spill files (default: the system temp directory).
    #[arg(long)]
    spill_dir: Option<std::path::PathBuf>,
    /// Page size, e.g. `32KiB` (a power of two from 4 KiB to 16 MiB).
    #[arg(long, value_parser = report::parse_bytes)]
    page_size: Option<usize>,
    /// Skip the plain-Rust cross-check of Q3.
    #[arg(long)]
    no_verify: bool,
    /// Run only Q3 (skip the generation pass, the sort and the shuffle).
    #[arg(long)]
    q3_only: bool,
    /// No progress bars (they are also hidden when stdout is not a terminal).
    #[arg(long)]
    quiet: bool,
}

fn parse_sf(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(sf) if sf > 0.0 && sf <= 1000.0 => Ok(sf),
        _ => Err(format!("`{text}` is not a scale factor between 0 (exclusive) and 1000")),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let options = job::Options {
        sf: args.sf,
        memory: args.memory,
        spill_dir: args.spill_dir,
        page_size: args.page_size,
        verify: !args.no_verify,
        progress: !args.quiet,
        q3_only: args.q3_only,
    };
    match job::run(&options) {
        Ok(outcome) => {
            print!("{}", outcome.render());
            if outcome.verified == Some(false) {
                eprintln!("error: Q3 differs from the plain-Rust answer");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&*e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}
