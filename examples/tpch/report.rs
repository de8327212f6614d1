//! The job's report: rows, bytes, time and spills per step, memory against
//! the budget, backpressure per pipeline edge.

use std::fmt::Write as _;
use std::time::Duration;

use segrec::memory::human_bytes;

/// What one step did.
#[derive(Debug, Default, Clone)]
pub struct StepReport {
    pub name: String,
    pub rows: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    pub spilled_bytes: u64,
    pub spill_files: u64,
    /// Spilled partition pairs a hash join joined after its first pass.
    pub join_tasks: u64,
    /// Runs a sorter spilled (sorted or partitioned).
    pub sort_runs: u64,
    pub notes: Vec<String>,
}

impl StepReport {
    pub fn new(name: &str) -> Self {
        Self { name: name.to_string(), ..Self::default() }
    }

    pub fn rows_per_sec(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The steps as an aligned table.
pub fn steps_table(steps: &[StepReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<22} {:>11} {:>11} {:>9} {:>12} {:>11} {:>6}",
        "step", "rows", "bytes", "time", "rows/s", "spilled", "files"
    );
    for s in steps {
        let _ = writeln!(
            out,
            "{:<22} {:>11} {:>11} {:>8.2}s {:>12.0} {:>11} {:>6}",
            s.name,
            s.rows,
            human_bytes(s.bytes as usize),
            s.elapsed.as_secs_f64(),
            s.rows_per_sec(),
            human_bytes(s.spilled_bytes as usize),
            s.spill_files
        );
        for note in &s.notes {
            let _ = writeln!(out, "    {note}");
        }
    }
    out
}

/// Parses `64MiB`, `512KiB`, `1GiB`, `100MB` or plain bytes.
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a size like 64MiB"))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" | "kb" => 1024.0,
        "m" | "mib" | "mb" => 1024.0 * 1024.0,
        "g" | "gib" | "gb" => 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("unknown unit `{other}` in `{text}` (use KiB, MiB or GiB)")),
    };
    Ok((value * scale) as usize)
}
