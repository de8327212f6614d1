//! Running stage instances on scoped threads: the stage loops, panic
//! capture, cancellation of the whole pipeline on the first failure, and
//! collection of the report.

use core::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use segrec_core::SegmentRecord;

use super::error::{BoxError, PipelineError, StageError};
use super::operator::{Operator, user};
use super::report::{PipelineReport, StageReport};
use crate::channel::{BufferPool, EdgeMetrics, Receiver, Sender};

/// Counters a stage loop fills in.
#[derive(Debug, Default)]
pub(crate) struct StageStats {
    records_in: u64,
    records_out: u64,
    idle: Duration,
    backpressured: Duration,
}

impl StageStats {
    pub(crate) fn input<T: SegmentRecord>(&mut self, rx: &Receiver<T>) {
        self.records_in = rx.records_received();
        self.idle = rx.idle_time();
    }

    pub(crate) fn output<T: SegmentRecord>(&mut self, tx: &Sender<T>) {
        self.records_out = tx.records_sent();
        self.backpressured = tx.blocked_time();
    }
}

type Body<'env> = Box<dyn FnOnce(&mut StageStats) -> Result<(), StageError> + Send + 'env>;

/// One stage instance, ready to run.
pub(crate) struct Task<'env> {
    name: String,
    instance: usize,
    body: Body<'env>,
}

impl fmt::Debug for Task<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Task({}[{}])", self.name, self.instance)
    }
}

impl<'env> Task<'env> {
    pub(crate) fn new(
        name: String,
        instance: usize,
        body: impl FnOnce(&mut StageStats) -> Result<(), StageError> + Send + 'env,
    ) -> Self {
        Self { name, instance, body: Box::new(body) }
    }
}

/// The source loop: every item of the iterator into the output.
pub(crate) fn source<T: SegmentRecord, I: Iterator<Item = T>>(
    iter: I,
    mut tx: Sender<T>,
    stats: &mut StageStats,
) -> Result<(), StageError> {
    let result = iter.into_iter().try_for_each(|r| tx.send(r));
    stats.output(&tx);
    result?;
    tx.close();
    Ok(())
}

/// The loop of a one-input stage.
pub(crate) fn operator<T: SegmentRecord, U: SegmentRecord, O: Operator<T, U>>(
    mut rx: Receiver<T>,
    mut tx: Sender<U>,
    mut op: O,
    stats: &mut StageStats,
) -> Result<(), StageError> {
    let result = (|| {
        loop {
            if !rx.is_ready() {
                // Nothing to do until input arrives: do not let finished
                // records wait in a partly filled buffer meanwhile.
                tx.flush();
            }
            let Some(v) = rx.next_ref()? else { break };
            op.on_record(v, &mut tx)?;
        }
        op.on_end(&mut tx)
    })();
    stats.input(&rx);
    stats.output(&tx);
    result?;
    tx.close();
    Ok(())
}

/// The loop of a sink.
pub(crate) fn sink<T: SegmentRecord, E: Into<BoxError>>(
    mut rx: Receiver<T>,
    f: impl for<'a> Fn(T::Ref<'a>) -> Result<(), E>,
    stats: &mut StageStats,
) -> Result<(), StageError> {
    let result = (|| {
        while let Some(v) = rx.next_ref()? {
            f(v).map_err(user)?;
        }
        Ok(())
    })();
    stats.input(&rx);
    result
}

/// The first failure seen; an echo of another failure (cancelled,
/// disconnected) only when nothing better is known.
#[derive(Default)]
struct FirstFailure(Mutex<Option<(bool, PipelineError)>>);

impl FirstFailure {
    fn record(&self, consequence: bool, e: PipelineError) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match &*slot {
            Some((false, _)) => {}
            Some((true, _)) if consequence => {}
            _ => *slot = Some((consequence, e)),
        }
    }

    fn take(self) -> Option<PipelineError> {
        self.0.into_inner().unwrap_or_else(PoisonError::into_inner).map(|(_, e)| e)
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Runs every task on a scoped thread; the first failure cancels `pool`.
pub(crate) fn run_all(
    pool: &BufferPool,
    tasks: Vec<Task<'_>>,
    edges: &[Arc<EdgeMetrics>],
) -> Result<PipelineReport, PipelineError> {
    let start = Instant::now();
    let failure = FirstFailure::default();
    let stages = std::thread::scope(|s| {
        let handles: Vec<_> = tasks
            .into_iter()
            .map(|task| {
                let failure = &failure;
                s.spawn(move || {
                    let Task { name, instance, body } = task;
                    let t0 = Instant::now();
                    let mut stats = StageStats::default();
                    match catch_unwind(AssertUnwindSafe(|| body(&mut stats))) {
                        Ok(Ok(())) => {}
                        Ok(Err(source)) => {
                            let consequence = source.is_consequence();
                            failure.record(
                                consequence,
                                PipelineError::Stage { stage: name.clone(), instance, source },
                            );
                            pool.cancel();
                        }
                        Err(payload) => {
                            let message = panic_message(payload.as_ref());
                            failure.record(
                                false,
                                PipelineError::Panicked { stage: name.clone(), instance, message },
                            );
                            pool.cancel();
                        }
                    }
                    StageReport {
                        name,
                        instance,
                        records_in: stats.records_in,
                        records_out: stats.records_out,
                        wall: t0.elapsed(),
                        idle: stats.idle,
                        backpressured: stats.backpressured,
                    }
                })
            })
            .collect();
        // The bodies catch their panics, so joining cannot fail; a report
        // is lost only if the reporting code itself panicked.
        handles.into_iter().filter_map(|h| h.join().ok()).collect::<Vec<_>>()
    });
    if let Some(e) = failure.take() {
        return Err(e);
    }
    Ok(PipelineReport { stages, edges: edges.iter().map(|e| e.snapshot()).collect(), wall: start.elapsed() })
}
