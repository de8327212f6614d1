//! The hybrid hash join driver: build, probe, then the spilled partition
//! pairs one by one, recursively with a new hash seed, or by a
//! block-nested-loop join when a partition will not shrink.
//!
//! The run is a state machine advanced in small steps, so the same code
//! serves the callback form ([`HashJoinRun::for_each`]) and the owned
//! iterator ([`HashJoinRun::into_owned`]).
//!
//! **Recursion.** After the probe pass, every spilled partition pair becomes
//! a task. A task's build file is read into fresh partitions hashed with the
//! seed of its level, and its probe file probes them; partitions that spill
//! again become tasks of the next level.
//!
//! **Fallback.** A task deeper than [`MAX_LEVEL`], or one that kept more than
//! 90% of its parent's bytes (one key repeated far past the budget: no seed
//! can split it), is joined block by block: as many build rows as fit form a
//! block with its table, the whole probe file is scanned against it, and the
//! probe file is rewritten with a "matched" flag per row when left rows'
//! fates must be remembered across blocks (left outer, full outer, semi,
//! anti). Unmatched left rows are returned in the last block's pass.

use core::fmt;
use core::marker::PhantomData;

use segrec_core::{MemoryManager, MemoryReservation, SegmentRecord, SpillFile, SpillReader, SpillWriter};

use super::error::{JoinError, Side};
use super::frame::{self, MATCHED};
use super::output::{self, OwnedJoin, Pair, Stepper};
use super::partition::{KeyBufs, Partitions, Task, partitions_for, seed_for};
use super::source::{RecordSource, Records};
use super::types::JoinType;

/// Deepest recursion level before the nested-loop fallback.
pub(crate) const MAX_LEVEL: u32 = 8;

/// Probe rows hashed and prefetched together.
const BATCH: usize = 32;

/// A batch of probe rows copied out of the source.
#[derive(Default)]
struct Batch {
    rows: Vec<u8>,
    ends: Vec<usize>,
    hashes: Vec<u64>,
}

impl Batch {
    /// Refills the batch with up to [`BATCH`] rows, each appended to `rows`
    /// by `next` (which returns `false` at the end of its input); `true`
    /// when the input ended.
    fn refill(
        &mut self,
        mut next: impl FnMut(&mut Vec<u8>) -> Result<bool, JoinError>,
    ) -> Result<bool, JoinError> {
        self.rows.clear();
        self.ends.clear();
        while self.ends.len() < BATCH {
            if !next(&mut self.rows)? {
                return Ok(true);
            }
            self.ends.push(self.rows.len());
        }
        Ok(false)
    }

    /// Probes `parts` with up to `max` rows (rounded up to whole batches),
    /// each appended by `next` as in [`refill`](Self::refill); `true` when
    /// the input ended.
    fn probe<L: SegmentRecord, R: SegmentRecord, F>(
        &mut self,
        max: usize,
        parts: &mut Partitions<R>,
        keys: &mut KeyBufs,
        out: &mut F,
        mut next: impl FnMut(&mut Vec<u8>) -> Result<bool, JoinError>,
    ) -> Result<bool, JoinError>
    where
        F: FnMut(Option<&[u8]>, Option<&[u8]>) -> Result<(), JoinError>,
    {
        for _ in 0..max.div_ceil(BATCH) {
            let end = self.refill(&mut next)?;
            parts.probe_batch::<L, F>(&self.rows, &self.ends, &mut self.hashes, keys, out)?;
            if end {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Fewest budget pages a hash join works with.
const MIN_PAGES: usize = 16;

/// The build phase of a hybrid hash join: push the right (build) input, then
/// [`probe`](Self::probe) with the left input.
///
/// # Examples
///
/// With derived records (the whole program is `examples/join.rs`):
///
/// ```text
/// let mut join = HashJoin::<Order, Customer>::new(&memory, JoinType::Inner)?;
/// for c in &customers { join.push(c)?; }
/// join.probe(Records::left(&orders))?.for_each(|o, c| { /* ... */ Ok::<_, JoinError>(()) })?;
/// ```
pub struct HashJoin<L, R> {
    res: MemoryReservation,
    jt: JoinType,
    parts: Partitions<R>,
    bytes: u64,
    max_record: usize,
    buf: Vec<u8>,
    _l: PhantomData<fn() -> L>,
}

impl<L, R> fmt::Debug for HashJoin<L, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashJoin").field("join_type", &self.jt).field("bytes", &self.bytes).finish()
    }
}

impl<L: SegmentRecord, R: SegmentRecord> HashJoin<L, R> {
    /// A join of type `jt` drawing on `memory`'s whole budget.
    ///
    /// # Errors
    ///
    /// [`JoinError::BudgetTooSmall`] below 16 pages.
    pub fn new(memory: &MemoryManager, jt: JoinType) -> Result<Self, JoinError> {
        Self::with_limit(memory, jt, memory.budget())
    }

    /// A join of type `jt` that takes at most `limit` bytes of `memory`'s
    /// budget (for sharing one budget between operators).
    ///
    /// # Errors
    ///
    /// [`JoinError::BudgetTooSmall`] below 16 pages.
    pub fn with_limit(memory: &MemoryManager, jt: JoinType, limit: usize) -> Result<Self, JoinError> {
        let limit = limit.min(memory.budget());
        let pages = limit / memory.page_size();
        if pages < MIN_PAGES {
            return Err(JoinError::BudgetTooSmall { budget: limit, needed: MIN_PAGES * memory.page_size() });
        }
        let res = memory.reservation_with_limit("hash-join", limit);
        let max_record = (pages / 2 - 4) * memory.page_size();
        let parts = Partitions::new(&res, jt, seed_for(0), partitions_for(pages), max_record)?;
        Ok(Self { res, jt, parts, bytes: 0, max_record, buf: Vec::new(), _l: PhantomData })
    }

    /// Adds one build (right) row.
    ///
    /// # Errors
    ///
    /// [`JoinError::Encode`], [`JoinError::RecordTooLarge`] for a record over
    /// half the budget, or a spill error.
    pub fn push(&mut self, r: &R) -> Result<(), JoinError> {
        let mut buf = core::mem::take(&mut self.buf);
        buf.resize(r.encoded_len(), 0);
        let result = r
            .encode(&mut buf)
            .map_err(|source| JoinError::Encode { side: Side::Right, source })
            .and_then(|n| self.push_encoded(&buf[..n]));
        self.buf = buf;
        result
    }

    /// Adds one build row given as its encoded bytes.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    pub fn push_encoded(&mut self, encoded: &[u8]) -> Result<(), JoinError> {
        self.parts.insert(encoded)?;
        self.bytes += frame::frame_len::<R>(encoded.len()) as u64;
        Ok(())
    }

    /// Adds every row of a source.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push), or the source's error.
    pub fn push_all<S: RecordSource<R>>(&mut self, mut source: S) -> Result<(), JoinError> {
        while let Some(rec) = source.next_record()? {
            self.parts.insert(rec)?;
            self.bytes += frame::frame_len::<R>(rec.len()) as u64;
        }
        Ok(())
    }

    /// Ends the build and prepares the probe with the left input `source`.
    ///
    /// # Errors
    ///
    /// A spill error, or [`JoinError::BudgetTooSmall`].
    pub fn probe<S: RecordSource<L>>(mut self, source: S) -> Result<HashJoinRun<L, R, S>, JoinError> {
        self.parts.finish_build()?;
        self.parts.release_reserve();
        Ok(HashJoinRun {
            res: self.res,
            jt: self.jt,
            max_record: self.max_record,
            parts: Some(self.parts),
            stage: Stage::Probe,
            source,
            round: Round { level: 0, bytes: self.bytes },
            tasks: Vec::new(),
            fallback: None,
            keys: KeyBufs::default(),
            stats: HashJoinStats::default(),
            batch: Batch::default(),
            _l: PhantomData,
        })
    }
}

/// Joins `left` and `right` with a hash join building on `right` and
/// returns every result as owned values.
///
/// # Errors
///
/// Any [`JoinError`].
pub fn hash_join_owned<L, R>(
    memory: &MemoryManager,
    jt: JoinType,
    left: impl IntoIterator<Item = L>,
    right: impl IntoIterator<Item = R>,
) -> Result<Vec<Pair<L, R>>, JoinError>
where
    L: SegmentRecord,
    R: SegmentRecord,
{
    let mut join = HashJoin::<L, R>::new(memory, jt)?;
    for r in right {
        join.push(&r)?;
    }
    join.probe(Records::left(left))?.into_owned().collect()
}

enum Stage {
    /// Probing with the user's source.
    Probe,
    /// Probing with a task's probe file (`rewrite` in fallback blocks).
    ProbeFile(Box<ProbeFile>),
    /// Returning unmatched build rows of the current partitions.
    Unmatched {
        part: usize,
        pos: u64,
    },
    /// The current round is done.
    EndOfRound,
    Done,
}

/// What a hash join did, for tests and tuning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HashJoinStats {
    /// Spilled partition pairs joined after the first pass (recursion tasks).
    pub tasks: u64,
    /// Deepest recursion level reached (0: nothing spilled).
    pub max_level: u32,
    /// Blocks joined by the block-nested-loop fallback.
    pub fallback_blocks: u64,
}

/// A probe pass over a spilled probe file.
struct ProbeFile {
    reader: SpillReader,
    rewrite: Option<SpillWriter>,
}

/// The round being probed: its level and build bytes.
#[derive(Clone, Copy)]
struct Round {
    level: u32,
    bytes: u64,
}

/// A task being joined block by block.
struct Fallback {
    build: SpillReader,
    probe: SpillFile,
    pending: Option<Vec<u8>>,
    last: bool,
}

/// A hash join after its build: drive it with [`for_each`](Self::for_each) or
/// [`into_owned`](Self::into_owned). Dropping it halfway removes its spill
/// files.
pub struct HashJoinRun<L, R, S> {
    res: MemoryReservation,
    jt: JoinType,
    max_record: usize,
    parts: Option<Partitions<R>>,
    stage: Stage,
    source: S,
    round: Round,
    tasks: Vec<Task>,
    fallback: Option<Fallback>,
    keys: KeyBufs,
    stats: HashJoinStats,
    batch: Batch,
    _l: PhantomData<fn() -> L>,
}

impl<L, R, S> fmt::Debug for HashJoinRun<L, R, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashJoinRun").field("join_type", &self.jt).field("tasks", &self.tasks.len()).finish()
    }
}

impl<L: SegmentRecord, R: SegmentRecord, S: RecordSource<L>> HashJoinRun<L, R, S> {
    /// Runs the join to the end, lending each result to `f` as zero-copy
    /// views; `f`'s error stops the join and is returned.
    ///
    /// # Errors
    ///
    /// Any [`JoinError`] (converted into `E`), or `f`'s error.
    pub fn for_each<E, F>(self, f: F) -> Result<(), E>
    where
        E: From<JoinError>,
        F: FnMut(Option<L::Ref<'_>>, Option<R::Ref<'_>>) -> Result<(), E>,
    {
        output::for_each::<L, R, _, E, F>(self, f)
    }

    /// The results as an iterator of owned pairs.
    pub fn into_owned(self) -> OwnedJoin<L, R, Self> {
        OwnedJoin::new(self)
    }

    /// Runs the join to the end, handing each result to `f` as zero-copy
    /// views, and returns what the join did (recursion, fallback).
    ///
    /// # Errors
    ///
    /// As [`for_each`](Self::for_each).
    pub fn for_each_with_stats<E, F>(mut self, f: F) -> Result<HashJoinStats, E>
    where
        E: From<JoinError>,
        F: FnMut(Option<L::Ref<'_>>, Option<R::Ref<'_>>) -> Result<(), E>,
    {
        let stats = output::for_each::<L, R, _, E, F>(&mut self, f);
        stats.map(|()| self.stats)
    }

    /// Pages of the join's share of the budget.
    fn budget_pages(&self) -> usize {
        self.res.capacity() / self.res.page_size()
    }

    fn probe_reader(&self, file: &SpillFile) -> Result<SpillReader, JoinError> {
        let ahead = usize::from(self.budget_pages() >= 64);
        Ok(file.reader(&self.res, ahead)?)
    }

    /// Closes the probe of the current round.
    fn end_probe(&mut self) -> Result<(), JoinError> {
        self.stage = if self.jt.keeps_unmatched_right() {
            Stage::Unmatched { part: 0, pos: 0 }
        } else {
            Stage::EndOfRound
        };
        Ok(())
    }

    /// Starts the next task or the next fallback block; `false` when none is
    /// left.
    fn next_round(&mut self) -> Result<bool, JoinError> {
        if let Some(parts) = self.parts.take() {
            parts.into_tasks(self.round.level + 1, self.round.bytes, &mut self.tasks)?;
        }
        if let Some(fb) = &self.fallback
            && fb.last
        {
            self.fallback = None;
        }
        if self.fallback.is_none() {
            let Some(task) = self.tasks.pop() else { return Ok(false) };
            self.round = Round { level: task.level, bytes: task.bytes };
            self.stats.tasks += 1;
            self.stats.max_level = self.stats.max_level.max(task.level);
            if task.level > MAX_LEVEL || task.bytes * 10 > task.parent_bytes * 9 {
                let build = self.probe_reader(&task.build)?;
                self.fallback = Some(Fallback { build, probe: task.probe, pending: None, last: false });
            } else {
                return self.start_task(task).map(|()| true);
            }
        }
        self.start_block().map(|()| true)
    }

    fn start_task(&mut self, task: Task) -> Result<(), JoinError> {
        let pages = self.budget_pages();
        let mut parts = Partitions::<R>::new(
            &self.res,
            self.jt,
            seed_for(task.level),
            partitions_for(pages),
            self.max_record,
        )?;
        {
            let mut build = self.probe_reader(&task.build)?;
            while let Some((_, rec)) = frame::read::<R, _>(&mut build)? {
                parts.insert(rec)?;
            }
        }
        drop(task.build);
        parts.finish_build()?;
        parts.release_reserve();
        let reader = self.probe_reader(&task.probe)?;
        self.parts = Some(parts);
        self.stage = Stage::ProbeFile(Box::new(ProbeFile { reader, rewrite: None }));
        Ok(())
    }

    /// Loads the next block of the fallback and opens its probe pass.
    fn start_block(&mut self) -> Result<(), JoinError> {
        let Some(fb) = &mut self.fallback else { return Ok(()) };
        self.stats.fallback_blocks += 1;
        // Room for the probe reader and the rewritten probe file.
        let page = self.res.page_size();
        let limit = self.res.available().saturating_sub(4 * page);
        let block_res = self.res.child("hash-join-block", limit);
        let mut block =
            Partitions::<R>::block(&block_res, self.jt, seed_for(self.round.level), self.max_record);
        if let Some(rec) = fb.pending.take()
            && !block.insert(&rec)?
        {
            return Err(JoinError::RecordTooLarge { side: Side::Right, len: rec.len(), limit });
        }
        loop {
            let Some((_, rec)) = frame::read::<R, _>(&mut fb.build)? else {
                fb.last = true;
                break;
            };
            if !block.insert(rec)? {
                fb.pending = Some(rec.to_vec());
                break;
            }
        }
        block.finish_build()?;
        let reader = fb.probe.reader(&self.res, 0)?;
        let rewrite = if !fb.last && (self.jt.keeps_unmatched_left() || self.jt == JoinType::LeftSemi) {
            Some(SpillWriter::new(&self.res)?)
        } else {
            None
        };
        self.parts = Some(block);
        self.stage = Stage::ProbeFile(Box::new(ProbeFile { reader, rewrite }));
        Ok(())
    }
}

impl<L: SegmentRecord, R: SegmentRecord, S: RecordSource<L>> Stepper for HashJoinRun<L, R, S> {
    type Left = L;
    type Right = R;

    fn step<F>(&mut self, max: usize, out: &mut F) -> Result<bool, JoinError>
    where
        F: FnMut(Option<&[u8]>, Option<&[u8]>) -> Result<(), JoinError>,
    {
        match &mut self.stage {
            Stage::Probe => {
                let Some(parts) = &mut self.parts else { return Ok(false) };
                let source = &mut self.source;
                let ended = self.batch.probe::<L, R, F>(max, parts, &mut self.keys, out, |rows| {
                    Ok(source.next_record()?.map(|rec| rows.extend_from_slice(rec)).is_some())
                })?;
                if ended {
                    return self.end_probe().map(|()| true);
                }
            }
            Stage::ProbeFile(pf) => {
                let ProbeFile { reader, rewrite } = &mut **pf;
                let Some(parts) = &mut self.parts else { return Ok(false) };
                let last = self.fallback.as_ref().is_none_or(|fb| fb.last);
                let skip_matched = matches!(self.jt, JoinType::LeftSemi | JoinType::LeftAnti);
                if self.fallback.is_none() {
                    // A recursion task: flags are all clear, probe in batches.
                    let ended = self.batch.probe::<L, R, F>(max, parts, &mut self.keys, out, |rows| {
                        Ok(frame::read::<L, _>(reader)?.map(|(_, rec)| rows.extend_from_slice(rec)).is_some())
                    })?;
                    if ended {
                        return self.end_probe().map(|()| true);
                    }
                    return Ok(true);
                }
                for _ in 0..max {
                    let Some((flag, rec)) = frame::read::<L, _>(reader)? else {
                        if let (Some(fb), Some(w)) = (&mut self.fallback, rewrite.take()) {
                            fb.probe = w.finish()?;
                        }
                        return self.end_probe().map(|()| true);
                    };
                    let prior = flag & MATCHED != 0;
                    let matched = if prior && skip_matched {
                        false
                    } else {
                        parts.probe::<L, F>(rec, prior, last, &mut self.keys, out)?
                    };
                    if let Some(w) = rewrite {
                        frame::write_sink::<L, _>(w, u8::from(prior || matched) * MATCHED, rec)?;
                    }
                }
            }
            Stage::Unmatched { part, pos } => {
                let Some(parts) = &self.parts else { return Ok(false) };
                if *part >= parts.len() {
                    self.stage = Stage::EndOfRound;
                } else if parts.unmatched(*part, pos, max, out)? {
                    *part += 1;
                    *pos = 0;
                }
            }
            Stage::EndOfRound => {
                if !self.next_round()? {
                    self.stage = Stage::Done;
                }
            }
            Stage::Done => return Ok(false),
        }
        Ok(true)
    }
}
