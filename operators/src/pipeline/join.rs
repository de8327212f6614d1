//! The hash join as a two-input stage: both flows are partitioned by key to
//! the same `n` instances (equal keys hash equal across record types whose
//! key fields match), each instance builds a [`HashJoin`] from its right
//! input and probes it with its left input, sending what `f` makes of each
//! result pair.

use segrec_core::{MemoryManager, SegmentRecord};

use super::error::StageError;
use super::run::{StageStats, Task};
use super::{Flow, Producer};
use crate::channel::{Receiver, RecvError, Route, Sender};
use crate::join::{HashJoin, JoinError, JoinType, RecordSource, Side};

impl From<JoinError> for StageError {
    fn from(e: JoinError) -> Self {
        Self::Failed(Box::new(e))
    }
}

/// A receiver seen as the probe input of a join; remembers cancellation so
/// the stage reports it as such.
struct ProbeInput<'a, L> {
    rx: &'a mut Receiver<L>,
    cancelled: bool,
}

impl<L: SegmentRecord> RecordSource<L> for ProbeInput<'_, L> {
    fn next_record(&mut self) -> Result<Option<&[u8]>, JoinError> {
        match self.rx.next_encoded() {
            Ok(r) => Ok(r),
            Err(e) => {
                self.cancelled = e == RecvError::Cancelled;
                Err(JoinError::Input { side: Side::Left, source: Box::new(e) })
            }
        }
    }
}

fn run_join<L, R, U, F>(
    mut left: Receiver<L>,
    mut right: Receiver<R>,
    mut out: Sender<U>,
    memory: &MemoryManager,
    join_type: JoinType,
    f: F,
    stats: &mut StageStats,
) -> Result<(), StageError>
where
    L: SegmentRecord,
    R: SegmentRecord,
    U: SegmentRecord,
    F: for<'a, 'b> Fn(Option<L::Ref<'a>>, Option<R::Ref<'b>>) -> Option<U>,
{
    let mut cancelled = false;
    let result = (|| {
        let mut join = HashJoin::<L, R>::new(memory, join_type)?;
        while let Some(bytes) = right.next_encoded()? {
            join.push_encoded(bytes)?;
        }
        let mut input = ProbeInput { rx: &mut left, cancelled: false };
        let run = join.probe(&mut input)?;
        let r = run.for_each(|l, r| -> Result<(), StageError> {
            if let Some(u) = f(l, r) {
                out.send(u)?;
            }
            Ok(())
        });
        cancelled = input.cancelled;
        r
    })();
    stats.input(&left);
    stats.output(&out);
    match result {
        Err(_) if cancelled => Err(StageError::Cancelled),
        Err(e) => Err(e),
        Ok(()) => {
            out.close();
            Ok(())
        }
    }
}

impl<'p, 'env, L: SegmentRecord + 'env> Flow<'p, 'env, L> {
    /// Joins this flow (the left, probe side) with `right` (the build side)
    /// on their keys with a hybrid hash join that spills past the budget.
    /// Both flows are partitioned by key to the parallelism declared on this
    /// flow with [`partition_by_key`](Self::partition_by_key) (one instance
    /// otherwise). `f` turns each result pair (either side `None` for outer
    /// rows) into at most one output record.
    pub fn hash_join<R, U, F>(
        self,
        name: &str,
        right: Flow<'p, 'env, R>,
        join_type: JoinType,
        f: F,
    ) -> Flow<'p, 'env, U>
    where
        R: SegmentRecord + 'env,
        U: SegmentRecord + 'env,
        F: for<'a, 'b> Fn(Option<L::Ref<'a>>, Option<R::Ref<'b>>) -> Option<U> + Clone + Send + 'env,
    {
        let n = self.fan_out.unwrap_or(1);
        let route = if n == 1 { Route::Forward } else { Route::Hash };
        let (mut left, mut right) = (self, right);
        (left.route, left.fan_out, right.route, right.fan_out) = (route, Some(n), route, Some(n));
        let (pipeline, lefts) = left.connect(name);
        let (_, rights) = right.connect(name);
        let memory = pipeline.memory.clone();
        let mut producers: Vec<Producer<'env, U>> = Vec::with_capacity(n);
        for (i, (l, r)) in lefts.into_iter().zip(rights).enumerate() {
            let stage = name.to_owned();
            let f = f.clone();
            let memory = memory.clone();
            producers.push(Box::new(move |tx: Sender<U>| {
                Task::new(stage, i, move |stats| run_join(l, r, tx, &memory, join_type, f, stats))
            }));
        }
        Flow { pipeline, name: name.to_owned(), producers, route: Route::Forward, fan_out: None }
    }
}
