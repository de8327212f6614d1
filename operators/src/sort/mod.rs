//! External merge sort of [`SegmentRecord`]s on their binary form, within a
//! memory budget.
//!
//! # Algorithm
//!
//! * **In memory** (after Flink's `NormalizedKeySorter`): pushed records are
//!   encoded straight into budgeted record pages; beside them, in budgeted
//!   pages too, an index holds one `[normalized-key prefix | position]` entry
//!   per record. Sorting permutes the index only, with an MSD radix sort on
//!   the prefixes (see `index.rs`); the records' full
//!   [`compare_key`](SegmentRecord::compare_key) runs only on prefix ties of
//!   keys longer than the 12-byte prefix (strings, long composite keys).
//! * **Fixed-size records with fixed-width keys** (up to 12 normalized
//!   bytes, records up to 64 bytes) skip the index: records are scattered
//!   into key buckets (chains of 4 KiB blocks) as they are pushed, placed by
//!   the key of their fields and encoded in place, and each bucket is radix
//!   sorted in cache when reading or spilling reaches it (see
//!   `fixed/mod.rs`).
//! * **Out of core**: when the reservation refuses a page, the buffer is
//!   sorted and written as a run to a checksummed spill file, its record
//!   pages go back to the pool, and pushing goes on. In budgets of 64 pages
//!   and more, a thread writes each run's pages behind the sort (pages held
//!   back from the budget for it). [`Sorter::finish`] merges the runs with a
//!   loser tree (tree of losers, Knuth, TAOCP vol. 3, §5.4.1) whose fan-in is
//!   bounded by the pages the budget allows for run readers, one thread
//!   reading ahead for all of them; more runs than that are merged in
//!   intermediate passes first. Finished run files lose their names at
//!   once; a background thread frees their blocks.
//! * **Partitioned runs** (the fixed path, budgets of 4 MiB and more): as
//!   its top buckets already partition the keys in order, a full buffer is
//!   written unsorted, bucket by bucket, and its top digit kept for the
//!   next; reading back loads each bucket of all runs at once and sorts it
//!   in cache, so records are sorted once and never merged. When keys stop
//!   fitting the kept digit, a bucket of all runs would outgrow the budget
//!   or the runs the fan-in, the partitioned runs so far become one sorted
//!   run and the merge above takes over (see `fixed/parted.rs`).
//! * **Stable**: positions grow with push order and break index ties; runs
//!   are numbered in spill order and merges break ties by run index, so equal
//!   keys come out in push order, exactly as `slice::sort_by_key` orders them.
//!
//! # Examples
//!
//! With `#[derive(SegmentRecord)]` from the `segrec` facade:
//!
//! ```ignore
//! let memory = MemoryManager::new(64 << 20);
//! let mut sorter = Sorter::<Order>::new(&memory)?;
//! for o in &orders { sorter.push(o)?; }
//! let mut sorted = sorter.finish()?;
//! while let Some(r) = sorted.next_ref()? { /* zero-copy view */ }
//! ```

mod buffer;
mod config;
mod error;
mod fixed;
mod index;
mod insertion;
mod keys;
mod merge;
mod prefetch;
mod run;
mod stream;

use core::fmt;
use std::path::PathBuf;

use segrec_core::frame::LENGTH_PREFIX;
use segrec_core::{DecodeError, MemoryManager, MemoryReservation, Page, RecordRef, SegmentRecord, SpillFile};

use buffer::{Pushed, SortBuffer};
pub use config::SorterConfig;
pub use error::SortError;
use fixed::{Feed, FixedBuffer, PartedRuns, reader_bytes};
pub use stream::SortedStream;
use stream::Source;

/// Pages a sorter needs at the least: the spill staging page and room for
/// records with their sort slots (or index entries with their scatter
/// twin and the sort's scratch).
pub const MIN_PAGES: usize = 5;

/// Bytes of one frame header in a spill file (the read-ahead unit is a page
/// plus this).
const FRAME_OVERHEAD: usize = 16;

/// The most pages a run writer circulates: one staging page filled while a
/// background I/O thread writes the others (write-behind). The queue lets
/// the thread go on writing a run's tail while the next run is pushed and
/// sorted.
const MAX_RUN_WRITER_PAGES: usize = 32;

/// A run writer's share of the budget: 1/32 (a run 3% shorter buys writes
/// that overlap the sorting). Below 64 pages of budget that is under two
/// pages, and runs are written synchronously through one staging page.
const RUN_WRITER_SHARE: usize = 32;

/// Pages a run writer of a sorter with `budget` bytes takes: write-behind
/// from two.
fn run_writer_pages(budget: usize, page: usize) -> usize {
    (budget / page / RUN_WRITER_SHARE).clamp(1, MAX_RUN_WRITER_PAGES)
}

/// Holds back up to `pages` more pages of `reservation` in `spare`, as many
/// as it gives.
fn hold_pages(spare: &mut Vec<Page>, reservation: &MemoryReservation, pages: usize) {
    spare.extend((0..pages).map_while(|_| reservation.allocate_page().ok()));
}

/// Sorts records of type `T` by key, spilling sorted runs when the budget is
/// full. See the [module documentation](self).
pub struct Sorter<T: SegmentRecord> {
    reservation: MemoryReservation,
    config: SorterConfig,
    buffer: Buffer<T>,
    /// Pages held back so a run writer's staging page (and, in roomy
    /// budgets, its write-behind pages) are always available.
    spare: Vec<Page>,
    runs: Vec<SpillFile>,
    /// Runs written as top buckets, not sorted (see `fixed/parted.rs`):
    /// only while no sorted run was written.
    parted: PartedRuns,
    /// Records written to `runs` and `parted` (the buffer counts its own).
    spilled: u64,
    /// The largest record pushed, in bytes.
    max_record: usize,
    /// Where run files go.
    spill_dir: PathBuf,
}

impl<T: SegmentRecord> fmt::Debug for Sorter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sorter")
            .field("reservation", &self.reservation)
            .field("records", &self.len())
            .field("in_memory", &self.buffer.len())
            .field("runs", &self.spilled_runs())
            .finish()
    }
}

impl<T: SegmentRecord> Sorter<T> {
    /// A sorter with the default [`SorterConfig`], drawing on `memory`.
    ///
    /// # Errors
    ///
    /// [`SortError::Memory`] when the budget has not even one page left.
    pub fn new(memory: &MemoryManager) -> Result<Self, SortError> {
        Self::with_config(memory, SorterConfig::default())
    }

    /// A sorter configured by `config`.
    ///
    /// # Errors
    ///
    /// [`SortError::Memory`] when the budget has not even one page left.
    pub fn with_config(memory: &MemoryManager, config: SorterConfig) -> Result<Self, SortError> {
        let reservation = match config.memory_limit {
            Some(limit) => memory.reservation_with_limit(config.name.clone(), limit),
            None => memory.reservation(config.name.clone()),
        };
        let mut spare = vec![reservation.allocate_page()?];
        let budget = reservation.capacity();
        let pages = run_writer_pages(budget, reservation.page_size());
        spare.extend((1..pages).map_while(|_| reservation.allocate_page().ok()));
        let spill_dir = config.spill_dir.clone().unwrap_or_else(|| memory.spill_dir().to_path_buf());
        Ok(Self {
            spill_dir,
            buffer: Buffer::new(reservation.clone(), &config),
            reservation,
            config,
            spare,
            runs: Vec::new(),
            parted: PartedRuns::default(),
            spilled: 0,
            max_record: T::ENCODED_SIZE.unwrap_or(0),
        })
    }

    /// Records pushed so far.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.spilled + self.buffer.len() as u64
    }

    /// Whether nothing was pushed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs spilled to disk so far.
    #[must_use]
    pub fn spilled_runs(&self) -> usize {
        self.runs.len() + self.parted.files.len()
    }

    /// The reservation the sorter draws on.
    #[must_use]
    pub fn reservation(&self) -> &MemoryReservation {
        &self.reservation
    }

    /// Encodes and appends `record`.
    ///
    /// # Errors
    ///
    /// [`SortError::Encode`] when the record cannot be encoded,
    /// [`SortError::RecordTooLarge`] when it cannot fit even in an empty
    /// buffer, [`SortError::Spill`] when spilling fails. After an error the
    /// record was not added but every earlier one is still held: the push
    /// may be retried (for example once the spill directory is writable).
    // Always inlined: the fixed path's push is a few dozen instructions,
    // and a call per record would cost a good part of them.
    #[inline(always)]
    pub fn push(&mut self, record: &T) -> Result<(), SortError> {
        if let Buffer::Fixed(buffer) = &mut self.buffer {
            // Placed by the key of its fields, encoded where it belongs.
            return match buffer.try_push_value(record)? {
                Pushed::Done => Ok(()),
                Pushed::Full => self.push_value_after_full(record),
            };
        }
        self.push_indexed(record)
    }

    #[inline]
    fn push_indexed(&mut self, record: &T) -> Result<(), SortError> {
        self.push_with(record.encoded_len(), |out| {
            record.encode(out)?;
            Ok(())
        })
    }

    #[cold]
    #[inline(never)]
    fn push_value_after_full(&mut self, record: &T) -> Result<(), SortError> {
        self.push_after_full(record.encoded_len(), &|out: &mut [u8]| {
            record.encode(out)?;
            Ok(())
        })
    }

    /// Appends the bytes of one encoded record.
    ///
    /// # Errors
    ///
    /// [`SortError::InvalidRecord`] when the length does not match the
    /// record's own; otherwise as [`push`](Self::push).
    pub fn push_encoded(&mut self, encoded: &[u8]) -> Result<(), SortError> {
        let expected = match T::ENCODED_SIZE {
            Some(n) => Ok(n),
            None => T::record_len(encoded),
        };
        let invalid =
            |source| SortError::InvalidRecord { sorter: self.reservation.name().to_owned(), source };
        match expected {
            Ok(n) if n == encoded.len() => {}
            Ok(n) if n > encoded.len() => {
                return Err(invalid(DecodeError::Truncated { needed: n, available: encoded.len() }));
            }
            Ok(n) => return Err(invalid(DecodeError::TrailingBytes { extra: encoded.len() - n })),
            Err(e) => return Err(invalid(e)),
        }
        self.push_with(encoded.len(), |out| {
            out.copy_from_slice(encoded);
            Ok(())
        })
    }

    /// Appends the record a view reads from.
    ///
    /// # Errors
    ///
    /// As [`push_encoded`](Self::push_encoded).
    pub fn push_ref(&mut self, record: T::Ref<'_>) -> Result<(), SortError> {
        self.push_encoded(record.bytes())
    }

    #[inline(always)]
    fn push_with(
        &mut self,
        len: usize,
        fill: impl Fn(&mut [u8]) -> Result<(), SortError>,
    ) -> Result<(), SortError> {
        match self.buffer.try_push(len, &fill)? {
            Pushed::Done => {
                self.pushed(len);
                Ok(())
            }
            Pushed::Full => self.push_after_full(len, &fill),
        }
    }

    #[inline(always)]
    fn pushed(&mut self, len: usize) {
        if T::ENCODED_SIZE.is_none() {
            self.max_record = self.max_record.max(len);
        }
    }

    /// Spills (or reports why it cannot) and pushes again.
    #[cold]
    #[inline(never)]
    fn push_after_full(
        &mut self,
        len: usize,
        fill: &impl Fn(&mut [u8]) -> Result<(), SortError>,
    ) -> Result<(), SortError> {
        loop {
            if self.buffer.is_empty() {
                let framing = if T::ENCODED_SIZE.is_some() { 0 } else { LENGTH_PREFIX };
                let budget = self.reservation.capacity();
                let page = self.reservation.page_size();
                let sorter = self.reservation.name().to_owned();
                if len + framing <= page {
                    // Even a small record does not fit: the budget cannot
                    // hold the sorter's fixed pages (spill staging, sort
                    // scratch) plus one page of records.
                    return Err(SortError::BudgetTooSmall {
                        sorter,
                        needed: MIN_PAGES * page,
                        available: self.reservation.available() + self.reservation.held(),
                    });
                }
                return Err(SortError::RecordTooLarge { sorter, size: len + framing, budget });
            }
            self.spill()?;
            if self.buffer.try_push(len, fill)? == Pushed::Done {
                self.pushed(len);
                return Ok(());
            }
        }
    }

    /// Writes the buffer as the next run: partitioned while it can be (see
    /// `fixed/parted.rs`), sorted otherwise, after which the partitioned
    /// runs so far become one sorted run.
    fn spill(&mut self) -> Result<(), SortError> {
        if self.runs.is_empty() && self.spill_partitioned()? {
            return Ok(());
        }
        if let Buffer::Fixed(buffer) = &mut self.buffer {
            // The next buffer chooses its own digit.
            buffer.keep_digit(false);
        }
        self.buffer.sort()?;
        // The spill writer takes its pages from the held-back ones (and
        // tries for the rest when fewer could be held back).
        let budget = self.reservation.capacity();
        let pages = run_writer_pages(budget, self.reservation.page_size());
        self.spare.clear();
        let run = run::write_run(&mut self.buffer, &self.reservation, &self.spill_dir, pages);
        // The writer's pages are back in the pool either way: hold them again.
        hold_pages(&mut self.spare, &self.reservation, pages);
        // On error the records stay in the buffer (the partial file is
        // removed), so pushing again after fixing the cause loses nothing.
        let run = run?;
        self.spilled += self.buffer.len() as u64;
        self.buffer.clear();
        self.runs.push(run);
        self.sort_parted()
    }

    /// Writes the (fixed) buffer as a partitioned run and keeps its top
    /// digit for the next; `false` (nothing written) when its buckets do
    /// not partition its keys, or when reading the runs back would need
    /// more than the budget or the fan-in allow.
    fn spill_partitioned(&mut self) -> Result<bool, SortError> {
        let Buffer::Fixed(buffer) = &mut self.buffer else { return Ok(false) };
        let Some(partition) = buffer.partition()? else { return Ok(false) };
        let page = self.reservation.page_size();
        let pages = run_writer_pages(self.reservation.capacity(), page);
        let runs = self.parted.files.len() + 1;
        // Loading a bucket back (here when they are sorted after all) with
        // every run's reader open and a run writer.
        let others = runs * reader_bytes(page) + pages * page;
        if runs > self.config.max_fan_in
            || self.parted.largest_with(&partition.counts) > buffer.loadable(others)
        {
            return Ok(false);
        }
        self.spare.clear();
        let written = (|| {
            let mut writer = run::run_writer(&self.reservation, &self.spill_dir, pages)?;
            buffer.write_partitioned(&mut writer)?;
            writer.finish()
        })();
        hold_pages(&mut self.spare, &self.reservation, pages);
        // On error the buffer holds every record still.
        let file = written?;
        self.spilled += buffer.len() as u64;
        buffer.keep_digit(true);
        buffer.clear();
        self.parted.push(file, partition);
        Ok(true)
    }

    /// Rewrites the partitioned runs (if any) as one sorted run, the first
    /// run: loaded and sorted bucket by bucket through the (empty) buffer.
    /// On error they stay as they are, to be sorted later.
    fn sort_parted(&mut self) -> Result<(), SortError> {
        let Buffer::Fixed(buffer) = &mut self.buffer else { return Ok(()) };
        if self.parted.files.is_empty() {
            return Ok(());
        }
        buffer.release_pages();
        self.spare.clear();
        let pages = run_writer_pages(self.reservation.capacity(), self.reservation.page_size());
        let written = (|| {
            let feed = Feed::open(&self.parted, &self.reservation, 0)?;
            let mut writer = run::run_writer(&self.reservation, &self.spill_dir, pages)?;
            buffer.feed(feed);
            while let Some(bytes) = buffer.next_record()? {
                run::write_record::<T>(&mut writer, bytes)?;
            }
            Ok::<_, SortError>(writer.finish()?)
        })();
        buffer.clear();
        hold_pages(&mut self.spare, &self.reservation, pages);
        self.runs.insert(0, written?);
        self.parted = PartedRuns::default();
        Ok(())
    }

    /// Serves the partitioned runs through the buffer, bucket by bucket.
    fn finish_parted(self, records: u64) -> Result<SortedStream<T>, SortError> {
        let Self { reservation, buffer, spare, parted, .. } = self;
        let Buffer::Fixed(mut buffer) = buffer else {
            unreachable!("only the fixed buffer writes partitioned runs")
        };
        buffer.release_pages();
        drop(spare);
        let read_ahead = buffer.feed_read_ahead(parted.files.len(), parted.largest());
        let feed = Feed::open(&parted, &reservation, read_ahead)?;
        buffer.feed(feed);
        Ok(SortedStream::new(Source::Fixed(buffer), records))
    }

    /// Ends input and returns the records in order: from memory when nothing
    /// spilled, otherwise from a merge of the runs (after intermediate passes
    /// when there are more runs than the fan-in allows).
    ///
    /// # Errors
    ///
    /// [`SortError::Spill`] when writing or reading runs fails,
    /// [`SortError::BudgetTooSmall`] when the budget cannot hold a two-way
    /// merge.
    pub fn finish(mut self) -> Result<SortedStream<T>, SortError> {
        let records = self.len();
        if self.runs.is_empty() && self.parted.files.is_empty() {
            self.buffer.sort()?;
            let source = match self.buffer {
                Buffer::Indexed(buffer) => {
                    let page_size = buffer.page_size();
                    let (pages, index) = buffer.into_parts();
                    Source::Memory { pages, index, page_size, pos: 0, scratch: Vec::new() }
                }
                Buffer::Fixed(mut buffer) => {
                    buffer.release_when_read();
                    Source::Fixed(buffer)
                }
            };
            return Ok(SortedStream::new(source, records));
        }
        if !self.buffer.is_empty() {
            self.spill()?;
        }
        if !self.parted.files.is_empty() {
            if self.runs.is_empty() {
                return self.finish_parted(records);
            }
            self.sort_parted()?;
        }
        let Self { reservation, config, buffer, spare, runs, max_record, spill_dir, .. } = self;
        drop(buffer);
        drop(spare);
        let page = reservation.page_size();
        let head = max_record.next_power_of_two();
        let mut read_ahead = config.read_ahead;
        let fan_in = |read_ahead: usize| {
            let per_reader = page + read_ahead * (page + FRAME_OVERHEAD) + head;
            reservation.available().saturating_sub(page) / per_reader
        };
        if fan_in(read_ahead) < config.max_fan_in.min(runs.len()) {
            read_ahead = 0;
        }
        let fan = fan_in(read_ahead).min(config.max_fan_in);
        if fan < 2 {
            return Err(SortError::BudgetTooSmall {
                sorter: reservation.name().to_owned(),
                needed: 3 * page + 2 * head,
                available: reservation.available(),
            });
        }
        // The intermediate passes' writer stages ahead in what the readers
        // leave over.
        let per_reader = page + read_ahead * (page + FRAME_OVERHEAD) + head;
        let slack = reservation.available().saturating_sub(page + fan * per_reader) / page;
        let budget = reservation.capacity();
        let writer_pages = 1 + slack.min(run_writer_pages(budget, page) - 1);
        let prefix = config.key_prefix_len;
        let pass = merge::Pass { fan_in: fan, read_ahead, prefix_len: prefix, writer_pages };
        let runs = merge::reduce_runs::<T>(runs, &pass, &reservation, &spill_dir)?;
        let merger = merge::Merger::new(&runs, &reservation, read_ahead, prefix)?;
        Ok(SortedStream::new(Source::Merge(merger), records))
    }
}

/// The in-memory buffer: entries `[key | record]` sorted in place for
/// fixed-size records with fixed-width keys, records plus a sorted index
/// otherwise.
#[derive(Debug)]
// One per sorter: the size difference costs nothing, a box would cost a
// pointer chase per push.
#[allow(clippy::large_enum_variant)]
enum Buffer<T> {
    Indexed(SortBuffer<T>),
    Fixed(FixedBuffer<T>),
}

impl<T: SegmentRecord> Buffer<T> {
    fn new(reservation: MemoryReservation, config: &SorterConfig) -> Self {
        let prefix_len = config.key_prefix_len;
        if fixed::eligible::<T>(prefix_len) {
            Self::Fixed(FixedBuffer::new(reservation, config.sort_thread))
        } else {
            Self::Indexed(SortBuffer::new(reservation, prefix_len))
        }
    }

    #[inline]
    fn try_push(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), SortError>,
    ) -> Result<Pushed, SortError> {
        match self {
            Self::Indexed(b) => b.try_push(len, fill),
            Self::Fixed(b) => b.try_push(len, fill),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Indexed(b) => b.len(),
            Self::Fixed(b) => b.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn sort(&mut self) -> Result<(), SortError> {
        match self {
            Self::Indexed(b) => {
                b.sort();
                Ok(())
            }
            Self::Fixed(b) => b.sort(),
        }
    }

    fn clear(&mut self) {
        match self {
            Self::Indexed(b) => b.clear(),
            Self::Fixed(b) => b.clear(),
        }
    }
}
