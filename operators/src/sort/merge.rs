//! K-way merge of sorted runs with a loser tree (Knuth, TAOCP vol. 3,
//! §5.4.1, "tree of losers"), with the fan-in bounded by the pages the budget
//! allows and intermediate passes when there are more runs than that.
//!
//! Each internal node of the tree holds the loser of the match played there
//! and the root's parent the overall winner, so replacing the winner's record
//! costs one match per level, `log2(k)` comparisons. Ties between runs go to
//! the lower run index: runs are numbered in the order they were spilled and
//! every pass merges neighbouring runs into one at their place, so equal keys
//! come out in push order after any number of passes.

use core::cmp::Ordering;
use std::path::Path;

use segrec_core::{MemoryReservation, SegmentRecord, SpillFile, frame};

use super::SortError;
use super::keys::KeyCodec;
use super::run::{RunCursor, run_writer, write_error};

/// How the intermediate merge passes run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pass {
    /// Runs merged at once, at least 2.
    pub(crate) fan_in: usize,
    /// Pages of read-ahead per run reader.
    pub(crate) read_ahead: usize,
    /// Bytes of key prefix compared as words.
    pub(crate) prefix_len: usize,
    /// Pages of the merged run's writer (write-behind from two).
    pub(crate) writer_pages: usize,
}

/// Merges up to `fan_in` runs, yielding records in order.
#[derive(Debug)]
pub(crate) struct Merger<T> {
    cursors: Vec<RunCursor<T>>,
    /// `tree[0]` is the winner; `tree[1..k]` the losers of internal nodes.
    tree: Vec<usize>,
    keys: KeyCodec<T>,
    /// The winner was handed out and must advance before the next record.
    pending: bool,
    /// Per run, contiguous: its head's key prefix (top 96 bits) with the
    /// run index in the low 32 bits, or `DONE`; comparing these orders by
    /// prefix, then run (the stable order).
    order: Vec<u128>,
}

/// The sort word of a finished run: after every live one (live words have
/// a run index below `u32::MAX` in their low bits).
const DONE: u128 = u128::MAX;

impl<T: SegmentRecord> Merger<T> {
    /// Opens every run (in order) and plays the initial tournament.
    pub(crate) fn new(
        runs: &[SpillFile],
        reservation: &MemoryReservation,
        read_ahead: usize,
        prefix_len: usize,
    ) -> Result<Self, SortError> {
        let mut keys = KeyCodec::new(prefix_len);
        let cursors = runs
            .iter()
            .map(|f| RunCursor::open(f, reservation, read_ahead, &mut keys))
            .collect::<Result<Vec<_>, _>>()?;
        let k = cursors.len();
        let mut merger =
            Self { tree: vec![0; k.max(1)], cursors, keys, pending: false, order: vec![DONE; k] };
        for i in 0..k {
            merger.update(i);
        }
        merger.build();
        Ok(merger)
    }

    /// Whether run `a`'s head comes before run `b`'s.
    #[inline]
    fn before(&self, a: usize, b: usize) -> bool {
        let (ka, kb) = (self.order[a], self.order[b]);
        if self.keys.tiebreak() && ka >> 32 == kb >> 32 && ka != DONE {
            // Equal prefixes of live runs: the full keys, then run order.
            let (ca, cb) = (&self.cursors[a], &self.cursors[b]);
            return T::compare_key(&ca.head, &cb.head).then(a.cmp(&b)) == Ordering::Less;
        }
        ka < kb
    }

    /// Run `i`'s sort word after its head changed.
    #[inline]
    fn update(&mut self, i: usize) {
        let c = &self.cursors[i];
        self.order[i] = if c.done { DONE } else { c.key | i as u128 };
    }

    fn build(&mut self) {
        let k = self.cursors.len();
        if k <= 1 {
            self.tree[0] = 0;
            return;
        }
        // winners[n] is the winner of the subtree at node n; leaves at k..2k.
        let mut winners = vec![0usize; 2 * k];
        for (i, w) in winners[k..].iter_mut().enumerate() {
            *w = i;
        }
        for n in (1..k).rev() {
            let (a, b) = (winners[2 * n], winners[2 * n + 1]);
            let (w, l) = if self.before(b, a) { (b, a) } else { (a, b) };
            winners[n] = w;
            self.tree[n] = l;
        }
        self.tree[0] = winners[1];
    }

    /// Replays the matches on the path of leaf `i` after its head changed.
    fn replay(&mut self, i: usize) {
        let k = self.cursors.len();
        let mut winner = i;
        let mut n = (i + k) / 2;
        if !self.keys.tiebreak() {
            // Sort words decide alone: select without branches (the
            // outcomes are random, a branch would mispredict half the time).
            let mut w = self.order[winner];
            while n >= 1 {
                let l = self.tree[n];
                let lw = self.order[l];
                let swap = lw < w;
                self.tree[n] = if swap { winner } else { l };
                winner = if swap { l } else { winner };
                w = if swap { lw } else { w };
                n /= 2;
            }
            self.tree[0] = winner;
            return;
        }
        while n >= 1 {
            if self.before(self.tree[n], winner) {
                core::mem::swap(&mut self.tree[n], &mut winner);
            }
            n /= 2;
        }
        self.tree[0] = winner;
    }

    /// The next record's encoded bytes, `None` when every run is done.
    pub(crate) fn next(&mut self) -> Result<Option<&[u8]>, SortError> {
        if self.cursors.is_empty() {
            return Ok(None);
        }
        if self.pending {
            let w = self.tree[0];
            self.cursors[w].advance(&mut self.keys)?;
            self.update(w);
            self.replay(w);
            self.pending = false;
        }
        let w = self.tree[0];
        if self.cursors[w].done {
            return Ok(None);
        }
        self.pending = true;
        Ok(Some(&self.cursors[w].head))
    }
}

/// Merges `runs` into one new run file.
pub(crate) fn merge_into_run<T: SegmentRecord>(
    runs: &[SpillFile],
    pass: &Pass,
    reservation: &MemoryReservation,
    dir: &Path,
) -> Result<SpillFile, SortError> {
    let mut writer = run_writer(reservation, dir, pass.writer_pages)?;
    let mut merger = Merger::<T>::new(runs, reservation, pass.read_ahead, pass.prefix_len)?;
    while let Some(bytes) = merger.next()? {
        frame::write_encoded::<T, _>(&mut writer, bytes).map_err(write_error)?;
    }
    drop(merger);
    Ok(writer.finish()?)
}

/// Merges neighbouring groups of `fan_in` runs until at most `fan_in` are
/// left, keeping run order (and so stability).
pub(crate) fn reduce_runs<T: SegmentRecord>(
    mut runs: Vec<SpillFile>,
    pass: &Pass,
    reservation: &MemoryReservation,
    dir: &Path,
) -> Result<Vec<SpillFile>, SortError> {
    let fan_in = pass.fan_in;
    debug_assert!(fan_in >= 2);
    while runs.len() > fan_in {
        // Merge just enough runs this pass that the next pass can be final
        // when possible: groups of `fan_in` from the front.
        let mut next = Vec::with_capacity(runs.len().div_ceil(fan_in));
        let mut pending = runs.into_iter();
        loop {
            let group: Vec<SpillFile> = pending.by_ref().take(fan_in).collect();
            match group.len() {
                0 => break,
                1 => next.extend(group),
                // The group's files are removed as soon as it is merged.
                _ => next.push(merge_into_run::<T>(&group, pass, reservation, dir)?),
            }
        }
        runs = next;
    }
    Ok(runs)
}
