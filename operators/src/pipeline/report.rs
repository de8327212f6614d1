//! What [`Pipeline::run`](super::Pipeline::run) returns: per stage instance
//! and per edge counters.

use core::fmt;
use std::time::Duration;

use crate::channel::{BackpressureLevel, EdgeSnapshot};

/// Counters of one stage instance.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StageReport {
    /// The stage's name.
    pub name: String,
    /// Which parallel instance.
    pub instance: usize,
    /// Records read from the input edge.
    pub records_in: u64,
    /// Records sent on the output edge.
    pub records_out: u64,
    /// From start to finish.
    pub wall: Duration,
    /// Time waiting for input.
    pub idle: Duration,
    /// Time blocked on credit of the output (backpressured).
    pub backpressured: Duration,
}

impl StageReport {
    /// Wall time neither idle nor backpressured.
    #[must_use]
    pub fn busy(&self) -> Duration {
        self.wall.saturating_sub(self.idle).saturating_sub(self.backpressured)
    }

    /// Backpressured time over wall time.
    #[must_use]
    pub fn backpressure_ratio(&self) -> f64 {
        crate::channel::metrics_ratio(self.backpressured, self.wall)
    }

    /// Flink's level of [`backpressure_ratio`](Self::backpressure_ratio).
    #[must_use]
    pub fn backpressure(&self) -> BackpressureLevel {
        BackpressureLevel::of(self.backpressure_ratio())
    }
}

impl fmt::Display for StageReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stage {}[{}]: {} in, {} out, wall {:.1?}, busy {:.1?}, idle {:.1?}, backpressured {:.1?} ({})",
            self.name,
            self.instance,
            self.records_in,
            self.records_out,
            self.wall,
            self.busy(),
            self.idle,
            self.backpressured,
            self.backpressure(),
        )
    }
}

/// The report of a finished pipeline.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PipelineReport {
    /// Every stage instance, in the order stages were added.
    pub stages: Vec<StageReport>,
    /// Every edge.
    pub edges: Vec<EdgeSnapshot>,
    /// From `run` to the last stage's end.
    pub wall: Duration,
}

impl PipelineReport {
    /// The instances of the stage named `name`.
    pub fn stage(&self, name: &str) -> impl Iterator<Item = &StageReport> {
        self.stages.iter().filter(move |s| s.name == name)
    }
}

impl fmt::Display for PipelineReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "pipeline finished in {:.1?}", self.wall)?;
        for s in &self.stages {
            writeln!(f, "  {s}")?;
        }
        for e in &self.edges {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}
