//! Partitioned runs: an external distribution sort for the fixed path.
//!
//! The buffer's top buckets partition the keys in order (every key of a
//! bucket sorts before every key of the next), so a full buffer need not be
//! sorted to be spilled: its bucket chains are written as they are, bucket
//! after bucket, with the entry count of each, and the top digit is kept
//! for the runs after it, so that bucket `b` means the same keys in every
//! run. Reading back, bucket `b` of every run (in run order) is loaded,
//! split by its next digit as it is read when larger than the in-cache
//! capacity, and its chains sorted in cache like any others:
//! the records are sorted once, where the merge of sorted runs sorts them
//! at the spill and merges them again. Run files are read front to back,
//! one bucket at a time, so each needs a single read page (more when the
//! budget has room: read ahead on a thread, see `Feed::open`).
//!
//! Stable, as the in-memory path: a run's bucket holds its keys in push
//! order, runs load in spill order, and the in-cache sort breaks ties by
//! position.
//!
//! The sorter falls back to sorted runs (see `Sorter::spill`) when a buffer
//! cannot be partitioned by the kept digit (a key above it differs: sorted
//! input, say), when a bucket of all runs would not fit the budget (skewed
//! keys, or many more runs than buckets) or when more runs than the fan-in
//! would be open at once; the partitioned runs so far then become one
//! sorted run, by the same loading.

use segrec_core::{
    MemoryReservation, ReadAhead, SegmentRecord, SpillError, SpillFile, SpillReader, SpillWriter,
};

use super::blocks::{BLOCK, Chain};
use super::{FULL, FixedBuffer, MAX_DIGIT, WRITE_AHEAD, helper};
use crate::sort::SortError;

/// Most pages per run read ahead (several buckets' frames).
const MAX_READ_AHEAD: usize = 16;
/// Fewest pages per run worth reading ahead on a thread (see `Feed::open`).
const MIN_READ_AHEAD: usize = 12;

/// Chains left on the stack below which the next bucket is loaded.
const LOAD_AHEAD: usize = helper::LOOKAHEAD + 2;

/// A buffer's top buckets, ready to be written as a partitioned run.
#[derive(Debug)]
pub(crate) struct Partition {
    /// Entries per bucket, in key order.
    pub(crate) counts: Vec<u32>,
    /// Per bucket: the key bits all its keys share (where its sort starts).
    pub(crate) bits: Vec<u32>,
}

/// The partitioned runs spilled so far, in spill order.
#[derive(Debug, Default)]
pub(crate) struct PartedRuns {
    pub(crate) files: Vec<SpillFile>,
    /// Per run, entries per bucket.
    pub(crate) counts: Vec<Vec<u32>>,
    /// Per bucket: the key bits all its keys share.
    pub(crate) bits: Vec<u32>,
    /// Per bucket: entries in all runs.
    pub(crate) totals: Vec<u64>,
}

impl PartedRuns {
    /// Records in all runs.
    pub(crate) fn records(&self) -> u64 {
        self.totals.iter().sum()
    }

    /// The largest bucket of all runs, in entries.
    pub(crate) fn largest(&self) -> u64 {
        self.totals.iter().copied().max().unwrap_or(0)
    }

    /// The largest bucket of all runs with a run of `counts` added.
    pub(crate) fn largest_with(&self, counts: &[u32]) -> u64 {
        if self.totals.is_empty() {
            return counts.iter().map(|&c| u64::from(c)).max().unwrap_or(0);
        }
        debug_assert_eq!(self.totals.len(), counts.len(), "the top digit is kept");
        counts.iter().zip(&self.totals).map(|(&c, &t)| t + u64::from(c)).max().unwrap_or(0)
    }

    /// Adds a run written from `partition`.
    pub(crate) fn push(&mut self, file: SpillFile, partition: Partition) {
        if self.totals.is_empty() {
            self.totals = vec![0; partition.counts.len()];
            self.bits = partition.bits;
        }
        debug_assert_eq!(self.totals.len(), partition.counts.len(), "the top digit is kept");
        for (t, &c) in self.totals.iter_mut().zip(&partition.counts) {
            *t += u64::from(c);
        }
        self.files.push(file);
        self.counts.push(partition.counts);
    }
}

/// Partitioned runs being read back, bucket by bucket.
#[derive(Debug)]
pub(crate) struct Feed {
    readers: Vec<SpillReader>,
    counts: Vec<Vec<u32>>,
    bits: Vec<u32>,
    /// The next bucket to load.
    next: usize,
    /// Entries not loaded yet.
    unloaded: usize,
}

impl Feed {
    /// Opens every run of `runs` for reading into one page each, charged
    /// to `reservation`: on this thread a frame at a time, or with
    /// `read_ahead` pages per run, read ahead on one thread for all.
    ///
    /// A bucket's frames of one run are read at once (not a record at a
    /// time as in a merge), so read-ahead pays only when it holds several
    /// buckets' frames: with a page or two per run, each frame costs a
    /// round trip to the thread, slower than reading here.
    pub(crate) fn open(
        runs: &PartedRuns,
        reservation: &MemoryReservation,
        read_ahead: usize,
    ) -> Result<Self, SpillError> {
        let thread = if read_ahead > 0 && runs.files.len() > 1 { ReadAhead::new().ok() } else { None };
        let readers = runs
            .files
            .iter()
            .map(|f| match &thread {
                Some(thread) => f.reader_ahead(reservation, thread, read_ahead),
                None => f.reader(reservation, 0),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            readers,
            counts: runs.counts.clone(),
            bits: runs.bits.clone(),
            next: 0,
            unloaded: usize::try_from(runs.records()).unwrap_or(usize::MAX),
        })
    }

    /// Entries not loaded yet.
    pub(crate) fn unloaded(&self) -> usize {
        self.unloaded
    }
}

/// Bytes a run reader (see [`Feed::open`]) takes from the budget.
pub(crate) fn reader_bytes(page: usize) -> usize {
    page + 16
}

impl<T: SegmentRecord> FixedBuffer<T> {
    /// The buffer's top buckets, sealed, when they partition its keys by
    /// the digit that was (or will be) kept: `None` before the top digit is
    /// chosen, with one bucket, or when a key differs above the digit.
    pub(crate) fn partition(&mut self) -> Result<Option<Partition>, SortError> {
        let shared = self.diff.leading_zeros().min(Self::KEY_BITS);
        if self.draining || self.sample != usize::MAX || self.chains.len() < 2 || shared < self.bit {
            return Ok(None);
        }
        if self.has_pending && !self.place_pending(0)? {
            // Unreachable while `keep` > 0 blocks stay free for this.
            return Err(self.exhausted().into());
        }
        self.seal_all();
        let counts = self.chains.iter().map(|c| c.len as u32).collect();
        let bits = if self.map_bits != 0 {
            self.bucket_bits.clone()
        } else {
            vec![self.bit + self.digit; self.chains.len()]
        };
        Ok(Some(Partition { counts, bits }))
    }

    /// Writes the sealed buckets (see [`partition`](Self::partition)) in
    /// order: every entry, as it lies, in frames of whole entries of one
    /// bucket (so reading back takes frames as they are). The buffer is
    /// unchanged.
    pub(crate) fn write_partitioned(&self, writer: &mut SpillWriter) -> Result<(), SpillError> {
        for chain in &self.chains {
            for b in self.blocks.walk(chain.head) {
                let bytes = &self.blocks.block(b)[..self.blocks.fill(b) * Self::ENTRY];
                if writer.frame_room() < bytes.len() {
                    writer.end_frame()?;
                }
                writer.write_bytes(bytes)?;
            }
            writer.end_frame()?;
        }
        Ok(())
    }

    /// Keeps the top digit (and the key its bits are taken against) past
    /// `clear`, so the next runs partition as this one (`false`: the next
    /// `clear` chooses anew).
    pub(crate) fn keep_digit(&mut self, keep: bool) {
        self.kept_digit = keep;
    }

    /// Whether the top digit is kept: chosen, and `keep_digit` set.
    pub(super) fn digit_kept(&self) -> bool {
        self.kept_digit && self.sample == usize::MAX && self.top_bits > 0
    }

    /// Entries of one bucket that loading can hold with `other` bytes of
    /// the budget taken by others (run readers, a writer): a third of what
    /// is left, as the next bucket loads while the last one's chains are
    /// read, and splits need free blocks.
    pub(crate) fn loadable(&self, other: usize) -> u64 {
        let blocks = self.blocks_left(other).saturating_sub(self.keep + 2) / 3;
        // A loaded bucket's last block may be partly filled.
        (blocks.saturating_sub(1) * Self::PER_BLOCK) as u64
    }

    /// Blocks the budget holds beside the sort's vectors, the helper's
    /// (when it may run) and `other` bytes.
    fn blocks_left(&self, other: usize) -> usize {
        let helper = if self.sort_thread { self.helper_bytes() } else { 0 };
        self.blocks.reservation().capacity().saturating_sub(self.charged + helper + other) / BLOCK
    }

    /// Pages of read-ahead per run (see [`Feed::open`]) that `runs` runs can
    /// have beside loading their largest bucket (`largest` entries) and
    /// their readers: up to [`MAX_READ_AHEAD`], none when fewer than
    /// [`MIN_READ_AHEAD`] fit.
    pub(crate) fn feed_read_ahead(&self, runs: usize, largest: u64) -> usize {
        let per_page = reader_bytes(self.blocks.reservation().page_size());
        let left = self.blocks_left(runs * per_page);
        let bucket = usize::try_from(largest).unwrap_or(usize::MAX).div_ceil(Self::PER_BLOCK) + 1;
        let spare = left.saturating_sub(3 * bucket + self.keep + 2) * BLOCK;
        let pages = spare / (runs.max(1) * per_page);
        if pages < MIN_READ_AHEAD { 0 } else { pages.min(MAX_READ_AHEAD) }
    }

    /// Empties the buffer and gives its pages back to the budget, so run
    /// readers can take theirs before [`feed`](Self::feed).
    pub(crate) fn release_pages(&mut self) {
        self.clear();
        self.blocks.release_pages();
    }

    /// Serves `feed`'s runs through `next_record`, each bucket loaded when
    /// reading (nearly) reaches it (after
    /// [`release_pages`](Self::release_pages) and opening `feed`).
    pub(crate) fn feed(&mut self, feed: Feed) {
        debug_assert!(self.len == 0 && !self.draining && self.check_at == 0 && self.check_value == 0);
        self.feed = Some(feed);
        self.fed = true;
        self.draining = true;
        self.release_when_read();
    }

    /// Whether the entries come from partitioned runs (not from memory).
    pub(crate) fn is_fed(&self) -> bool {
        self.fed
    }

    /// Entries of partitioned runs not loaded yet.
    pub(crate) fn unloaded(&self) -> usize {
        self.feed.as_ref().map_or(0, Feed::unloaded)
    }

    /// Loads the next bucket while the chains left to read are few, so the
    /// helper has the next bucket's chains to sort as this one's end.
    #[inline]
    pub(super) fn load_ahead(&mut self) -> Result<(), SortError> {
        if self.feed.is_some() && self.stack.len() < LOAD_AHEAD {
            self.load_next()?;
        }
        Ok(())
    }

    /// Loads the next non-empty bucket of every run and stacks it under the
    /// chains stacked already, split by its next digit as it is read when
    /// it is larger than the in-cache capacity; `false` when none is left.
    #[cold]
    pub(super) fn load_next(&mut self) -> Result<bool, SortError> {
        let Some(mut feed) = self.feed.take() else { return Ok(false) };
        while feed.next < feed.bits.len() {
            let b = feed.next;
            feed.next += 1;
            let total: usize = feed.counts.iter().map(|c| c[b] as usize).sum();
            if total == 0 {
                continue;
            }
            let loaded = self.load_bucket(&mut feed, b, total);
            self.feed = Some(feed);
            loaded?;
            self.start_helper();
            return Ok(true);
        }
        // Every bucket is loaded: the readers close, the files go.
        Ok(false)
    }

    /// Reads bucket `b` (`total` entries) of every run into chains by `d`
    /// bits after the bits its keys share (as `split` would, without the
    /// pass), and stacks them.
    fn load_bucket(&mut self, feed: &mut Feed, b: usize, total: usize) -> Result<(), SortError> {
        let bit = feed.bits[b];
        let mut d = 0;
        if total > self.cache_cap && bit < Self::KEY_BITS {
            // Sub-chains of about half the in-cache capacity (uneven ones
            // split again when read).
            let parts = total.div_ceil((self.cache_cap / 2).max(1));
            d = (usize::BITS - (parts - 1).leading_zeros()).clamp(1, MAX_DIGIT).min(Self::KEY_BITS - bit);
            while d > 0 && self.blocks.free_len() < (1 << d) + 1 + self.keep {
                if !self.blocks.grow()? {
                    d -= 1;
                }
            }
        }
        let mut cursor = vec![FULL; 1 << d];
        let mut chains = vec![Chain::EMPTY; 1 << d];
        let read = (|| {
            for (reader, counts) in feed.readers.iter_mut().zip(&feed.counts) {
                let mut left = counts[b] as usize;
                while left > 0 {
                    let Some(frame) = reader.next_page()? else {
                        return Err(Self::short_run(reader, left));
                    };
                    let m = frame.len() / Self::ENTRY;
                    if m > left || frame.len() % Self::ENTRY != 0 {
                        return Err(Self::short_run(reader, left));
                    }
                    for e in frame.chunks_exact(Self::ENTRY) {
                        let t = if d == 0 { 0 } else { Self::digit_of(Self::key_of(e), bit, d) };
                        let room = Self::room(&mut self.blocks, &mut cursor[t], &mut chains[t], self.keep)?;
                        let Some(to) = room else { return Err(self.exhausted().into()) };
                        self.blocks.write(to, e, WRITE_AHEAD);
                        cursor[t] = to + Self::ENTRY;
                    }
                    left -= m;
                }
            }
            Ok::<_, SortError>(())
        })();
        if let Err(e) = read {
            for chain in &chains {
                for block in self.blocks.walk(chain.head).collect::<Vec<_>>() {
                    self.blocks.release(block);
                }
            }
            return Err(e);
        }
        for (c, chain) in cursor.iter_mut().zip(&mut chains) {
            Self::seal_tail(&mut self.blocks, c, chain);
        }
        feed.unloaded -= total;
        self.len += total;
        // Under what is stacked (the last one is read next).
        let loaded = chains.into_iter().rev().filter(|c| c.len > 0).map(|c| (c, bit + d));
        self.stack.splice(0..0, loaded);
        Ok(())
    }

    /// The error of a run whose frames do not hold the entries its bucket
    /// counts say, `left` of them still to read (a file changed since it
    /// was written).
    #[cold]
    fn short_run(reader: &SpillReader, left: usize) -> SortError {
        SortError::Spill(SpillError::Corrupt {
            path: reader.file().path().to_path_buf(),
            frame: reader.frames_read(),
            reason: format!("frames do not match the partitioned run's bucket ({left} entries to go)"),
        })
    }

    /// Bytes the helper's jobs take from the budget (see `start_helper`).
    pub(super) fn helper_bytes(&self) -> usize {
        let sizes = self.cache_sizes();
        helper::LOOKAHEAD
            * (super::CacheSort::bytes(sizes) + super::Lent::bytes(sizes.list) + size_of::<Chain>())
            + sizes.list * size_of::<usize>()
    }
}
