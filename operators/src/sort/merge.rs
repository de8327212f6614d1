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

use segrec_core::{MemoryReservation, ReadAhead, SegmentRecord, SpillFile};

use super::SortError;
use super::keys::KeyCodec;
use super::run::{RunCursor, run_writer, write_record};

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
    /// Sort words: `tree[0]` the winner's, `tree[1..k]` the losers' of the
    /// internal nodes. A run's word is its head's key prefix (top 96 bits)
    /// with the run index in the low 32 bits, or `DONE`; comparing words
    /// orders by prefix, then run (the stable order). Keeping the words in
    /// the nodes (not run indexes) spares each match a dependent load.
    /// Its length is a power of two (the entries past `k` unused; see
    /// `replay`).
    tree: Vec<u128>,
    keys: KeyCodec<T>,
    /// The winner was handed out and must advance before the next record.
    pending: bool,
    /// The run of the record handed out last.
    winner: usize,
}

/// The sort word of a finished run: after every live one (live words have
/// a run index below `u32::MAX` in their low bits).
pub(crate) const DONE: u128 = u128::MAX;

/// The run a live word belongs to.
#[inline]
fn run_of(word: u128) -> usize {
    word as u32 as usize
}

impl<T: SegmentRecord> Merger<T> {
    /// Opens every run (in order) and plays the initial tournament.
    pub(crate) fn new(
        runs: &[SpillFile],
        reservation: &MemoryReservation,
        read_ahead: usize,
        prefix_len: usize,
    ) -> Result<Self, SortError> {
        let mut keys = KeyCodec::new(prefix_len);
        // One thread reads every run's pages ahead (the same pages the
        // readers would buffer); without one, each reader reads its own.
        let thread = if read_ahead > 0 && runs.len() > 1 { ReadAhead::new().ok() } else { None };
        let cursors = runs
            .iter()
            .enumerate()
            .map(|(i, f)| RunCursor::open(f, i, reservation, read_ahead, thread.as_ref(), &mut keys))
            .collect::<Result<Vec<_>, _>>()?;
        let k = cursors.len();
        let tree = vec![DONE; k.max(1).next_power_of_two()];
        let mut merger = Self { tree, cursors, keys, pending: false, winner: 0 };
        merger.build();
        Ok(merger)
    }

    /// Run `i`'s sort word.
    #[inline]
    fn word(&self, i: usize) -> u128 {
        self.cursors[i].word
    }

    /// Whether word `a` comes before word `b`.
    #[inline]
    fn before(&self, a: u128, b: u128) -> bool {
        if self.keys.tiebreak() && a >> 32 == b >> 32 && a != DONE && b != DONE {
            // Equal prefixes of live runs: the full keys, then run order.
            let (ra, rb) = (run_of(a), run_of(b));
            let (ca, cb) = (&self.cursors[ra], &self.cursors[rb]);
            return T::compare_key(&ca.head, &cb.head).then(ra.cmp(&rb)) == Ordering::Less;
        }
        a < b
    }

    fn build(&mut self) {
        let k = self.cursors.len();
        if k == 0 {
            return;
        }
        // winners[n] is the winner of the subtree at node n; leaves at k..2k.
        let mut winners = vec![DONE; 2 * k];
        for i in 0..k {
            winners[k + i] = self.word(i);
        }
        for n in (1..k).rev() {
            let (a, b) = (winners[2 * n], winners[2 * n + 1]);
            let (w, l) = if self.before(b, a) { (b, a) } else { (a, b) };
            winners[n] = w;
            self.tree[n] = l;
        }
        self.tree[0] = winners[1];
    }

    /// Replays the matches on the path of leaf `i` after its head changed;
    /// returns the new winner's word (also in `tree[0]`).
    #[inline]
    fn replay(&mut self, i: usize) -> u128 {
        let k = self.cursors.len();
        let mut w = self.word(i);
        let mut n = (i + k) / 2;
        if !self.keys.tiebreak() {
            // The tree's length is a power of two above every node index,
            // so masking leaves an index as it is and shows the compiler it
            // is in bounds: the loop goes without bounds checks. (The tree
            // is never empty; saying so lets the mask prove it.)
            let tree = &mut self.tree[..];
            if tree.is_empty() {
                return DONE;
            }
            let mask = tree.len() - 1;
            // Words decide alone: the smaller goes on, the larger stays,
            // without branches (the outcomes are random, a branch would
            // mispredict half the time).
            while n >= 1 {
                let node = &mut tree[n & mask];
                let l = *node;
                let swap = l < w;
                // Selected by 64-bit halves: a `u128` select becomes a
                // branch, and the outcomes are random.
                let pick = |a: u128, b: u128| {
                    let hi = core::hint::select_unpredictable(swap, (a >> 64) as u64, (b >> 64) as u64);
                    let lo = core::hint::select_unpredictable(swap, a as u64, b as u64);
                    u128::from(hi) << 64 | u128::from(lo)
                };
                *node = pick(w, l);
                w = pick(l, w);
                n /= 2;
            }
        } else {
            while n >= 1 {
                if self.before(self.tree[n], w) {
                    core::mem::swap(&mut self.tree[n], &mut w);
                }
                n /= 2;
            }
        }
        self.tree[0] = w;
        w
    }

    /// The next record's encoded bytes, `None` when every run is done.
    #[inline]
    pub(crate) fn next(&mut self) -> Result<Option<&[u8]>, SortError> {
        // No runs: the root is `DONE` and nothing is pending.
        let top = if self.pending {
            let w = self.winner;
            self.cursors[w].advance(&mut self.keys)?;
            self.pending = false;
            // The word from the replay, not reloaded from `tree[0]`: a
            // 16-byte load of a just-stored `u128` would stall forwarding.
            self.replay(w)
        } else {
            self.tree[0]
        };
        if top == DONE {
            return Ok(None);
        }
        self.pending = true;
        self.winner = run_of(top);
        Ok(Some(&self.cursors[self.winner].head))
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
        write_record::<T>(&mut writer, bytes)?;
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
