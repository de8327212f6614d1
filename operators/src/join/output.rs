//! The two output forms of a join: zero-copy views lent to a callback, and
//! an iterator of owned pairs.
//!
//! Both join algorithms are state machines advanced by [`Stepper::step`],
//! which hands results as encoded bytes to an internal callback; this module
//! turns the bytes into views (validated once) or owned values.

use core::fmt;
use std::collections::VecDeque;

use segrec_core::SegmentRecord;

use super::error::{JoinError, Side};

/// One result row: the left and the right record, either absent in outer
/// results.
pub type Pair<L, R> = (Option<L>, Option<R>);

/// A join advanced in bounded steps.
pub trait Stepper {
    /// The left record type.
    type Left: SegmentRecord;
    /// The right record type.
    type Right: SegmentRecord;

    /// Does a bounded amount of work (about `max` input rows), handing every
    /// result to `out` as encoded bytes; `false` once the join is finished.
    ///
    /// # Errors
    ///
    /// Any [`JoinError`], or what `out` returns.
    fn step<F>(&mut self, max: usize, out: &mut F) -> Result<bool, JoinError>
    where
        F: FnMut(Option<&[u8]>, Option<&[u8]>) -> Result<(), JoinError>;
}

impl<J: Stepper> Stepper for &mut J {
    type Left = J::Left;
    type Right = J::Right;

    fn step<F>(&mut self, max: usize, out: &mut F) -> Result<bool, JoinError>
    where
        F: FnMut(Option<&[u8]>, Option<&[u8]>) -> Result<(), JoinError>,
    {
        (**self).step(max, out)
    }
}

/// Rows per step when running to the end.
const RUN_STEP: usize = 4096;

/// Rows per step when filling the owned iterator's queue.
const ITER_STEP: usize = 16;

/// Runs `join` to the end, lending views to `f`.
pub(crate) fn for_each<L, R, J, E, F>(mut join: J, mut f: F) -> Result<(), E>
where
    L: SegmentRecord,
    R: SegmentRecord,
    J: Stepper<Left = L, Right = R>,
    E: From<JoinError>,
    F: FnMut(Option<L::Ref<'_>>, Option<R::Ref<'_>>) -> Result<(), E>,
{
    let mut user_error = None;
    let mut out = |l: Option<&[u8]>, r: Option<&[u8]>| -> Result<(), JoinError> {
        let lv = l.map(L::view).transpose().map_err(JoinError::decode(Side::Left))?;
        let rv = r.map(R::view).transpose().map_err(JoinError::decode(Side::Right))?;
        f(lv, rv).map_err(|e| {
            user_error = Some(e);
            JoinError::Stopped
        })
    };
    loop {
        match join.step(RUN_STEP, &mut out) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(JoinError::Stopped) => {
                return Err(user_error.unwrap_or_else(|| E::from(JoinError::Stopped)));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The results of a join as owned `(Option<L>, Option<R>)` pairs. Results are
/// decoded a few input rows at a time; dropping the iterator stops the join
/// and removes its spill files.
pub struct OwnedJoin<L, R, J> {
    join: J,
    queue: VecDeque<(Option<L>, Option<R>)>,
    done: bool,
}

impl<L, R, J> fmt::Debug for OwnedJoin<L, R, J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedJoin").field("queued", &self.queue.len()).field("done", &self.done).finish()
    }
}

impl<L, R, J> OwnedJoin<L, R, J> {
    pub(crate) fn new(join: J) -> Self {
        Self { join, queue: VecDeque::new(), done: false }
    }
}

impl<L, R, J> Iterator for OwnedJoin<L, R, J>
where
    L: SegmentRecord,
    R: SegmentRecord,
    J: Stepper<Left = L, Right = R>,
{
    type Item = Result<(Option<L>, Option<R>), JoinError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.queue.is_empty() && !self.done {
            let queue = &mut self.queue;
            let mut out = |l: Option<&[u8]>, r: Option<&[u8]>| -> Result<(), JoinError> {
                let lo = l.map(L::decode).transpose().map_err(JoinError::decode(Side::Left))?;
                let ro = r.map(R::decode).transpose().map_err(JoinError::decode(Side::Right))?;
                queue.push_back((lo, ro));
                Ok(())
            };
            match self.join.step(ITER_STEP, &mut out) {
                Ok(more) => self.done = !more,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        self.queue.pop_front().map(Ok)
    }
}
