//! The build side of a hybrid hash join, split by hash into partitions that
//! live in record pages or, once the budget runs out, in spill files.
//!
//! During the build, a row goes to partition `(hash >> 26) mod parts` (bits
//! the table's bucket index and tag do not use much). When the reservation
//! refuses a page, the largest in-memory partition is written to a spill
//! file and its later build rows follow it there. [`Partitions::finish_build`]
//! builds one [`HashTable`] per in-memory partition and opens a probe spill
//! file per spilled one (spilling more partitions while tables or files do
//! not fit). Probing then either looks a row up in its partition's table or
//! appends it to its partition's probe file.
//!
//! One page is kept in reserve so that spilling can always open its file:
//! it is released just before the spill writer takes its staging page and
//! taken back once the partition's pages are free.

use core::fmt;
use core::marker::PhantomData;

use segrec_core::{
    MemoryError, MemoryReservation, Page, PagedReader, PagedWriter, RecordPointer, SegmentRecord, SpillError,
    SpillFile, SpillWriter,
};

use super::bloom::Bloom;
use super::error::{JoinError, Side};
use super::frame::{self, MATCHED};
use super::hash_table::HashTable;
use super::types::JoinType;

mod probe;

pub(crate) use probe::KeyBufs;

/// The Bloom filter takes this fraction of the budget (once a partition
/// spills).
const BLOOM_SHARE: usize = 16;

/// Hash bits below the partition number.
const PARTITION_SHIFT: u32 = 26;

/// Partitions for a budget of `pages` pages: a power of two between 2 and 64
/// that leaves at least three quarters of the budget for records.
pub(crate) fn partitions_for(pages: usize) -> usize {
    let p = (pages / 4).clamp(2, 64);
    1 << p.ilog2()
}

/// The hash seed of recursion level `level`.
pub(crate) fn seed_for(level: u32) -> u64 {
    0x243F_6A88_85A3_08D3_u64.wrapping_mul(u64::from(level) * 2 + 1) ^ 0x1319_8A2E_0370_7344
}

/// A spilled partition pair left for a later round.
pub(crate) struct Task {
    pub build: SpillFile,
    pub probe: SpillFile,
    pub level: u32,
    pub bytes: u64,
    pub parent_bytes: u64,
}

enum Part {
    /// Build rows in pages.
    Memory { w: PagedWriter, rows: u64 },
    /// Build rows going to a spill file.
    Spilling { w: SpillWriter, bytes: u64, bloomed: bool },
    /// In memory with its table, ready to probe.
    Table { pages: Vec<Page>, len: u64, table: HashTable },
    /// Spilled, its probe rows going to `probe`.
    Spilled { build: SpillFile, bytes: u64, probe: Option<SpillWriter>, bloomed: bool },
    /// Transient, while a partition changes state.
    Taken,
}

impl Part {
    fn memory_bytes(&self) -> Option<u64> {
        match self {
            Part::Memory { w, .. } => Some(w.len()),
            Part::Table { len, .. } => Some(*len),
            _ => None,
        }
    }
}

/// The partitions of one round of a hybrid hash join.
pub(crate) struct Partitions<R> {
    res: MemoryReservation,
    jt: JoinType,
    seed: u64,
    parts: Vec<Part>,
    reserve: Option<Page>,
    /// Hashes of the rows of spilled partitions (those spilled once it
    /// existed).
    bloom: Option<Bloom>,
    /// A reader's scratch and a copy of a build row that straddles pages.
    straddle: (Vec<u8>, Vec<u8>),
    /// `false` for a block of the nested-loop fallback: a full budget ends
    /// the block instead of spilling.
    spill: bool,
    max_record: usize,
    page_shift: u32,
    _r: PhantomData<fn() -> R>,
}

impl<R> fmt::Debug for Partitions<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Partitions").field("parts", &self.parts.len()).field("seed", &self.seed).finish()
    }
}

impl<R: SegmentRecord> Partitions<R> {
    /// Partitions that spill, with `parts` partitions and hash seed `seed`.
    pub(crate) fn new(
        res: &MemoryReservation,
        jt: JoinType,
        seed: u64,
        parts: usize,
        max_record: usize,
    ) -> Result<Self, JoinError> {
        let reserve = Some(res.allocate_page()?);
        let mut p = Self::block(res, jt, seed, max_record);
        p.parts = (0..parts).map(|_| Part::Memory { w: PagedWriter::new(res.clone()), rows: 0 }).collect();
        p.reserve = reserve;
        p.spill = true;
        Ok(p)
    }

    /// One in-memory block that never spills (the nested-loop fallback).
    pub(crate) fn block(res: &MemoryReservation, jt: JoinType, seed: u64, max_record: usize) -> Self {
        Self {
            res: res.clone(),
            jt,
            seed,
            parts: vec![Part::Memory { w: PagedWriter::new(res.clone()), rows: 0 }],
            reserve: None,
            bloom: None,
            straddle: (Vec::new(), Vec::new()),
            spill: false,
            max_record,
            page_shift: res.page_size().trailing_zeros(),
            _r: PhantomData,
        }
    }

    #[inline]
    fn part_of(&self, hash: u64) -> usize {
        (hash >> PARTITION_SHIFT) as usize & (self.parts.len() - 1)
    }

    /// Adds a build row. Returns `false` when a non-spilling block is full
    /// (the row was not added).
    ///
    /// # Errors
    ///
    /// [`JoinError::RecordTooLarge`] past the record limit, a spill error.
    pub(crate) fn insert(&mut self, rec: &[u8]) -> Result<bool, JoinError> {
        let framed = frame::frame_len::<R>(rec.len());
        if framed > self.max_record {
            return Err(JoinError::RecordTooLarge { side: Side::Right, len: framed, limit: self.max_record });
        }
        if R::key_has_null(rec) && !self.jt.keeps_unmatched_right() {
            return Ok(true); // can never appear in the result
        }
        let hash = if self.parts.len() == 1 { 0 } else { R::hash_key(rec, self.seed) };
        let p = self.part_of(hash);
        loop {
            match &mut self.parts[p] {
                Part::Memory { w, rows } => {
                    if !self.spill {
                        let need = w.len() as usize
                            + framed
                            + w.page_size()
                            + HashTable::bytes_for(*rows as usize + 1);
                        if need > self.res.available() + self.res.held() {
                            return block_full(*rows, self.max_record);
                        }
                    }
                    let fits_u32 = w.len() + framed as u64 <= u64::from(u32::MAX);
                    let r =
                        if fits_u32 { frame::write_paged::<R>(w, 0, rec) } else { Err(exhausted(&self.res)) };
                    match r {
                        Ok(_) => {
                            *rows += 1;
                            return Ok(true);
                        }
                        Err(MemoryError::Exhausted { .. }) if !self.spill => {
                            return block_full(*rows, self.max_record);
                        }
                        Err(MemoryError::Exhausted { .. }) => {
                            if !self.spill_largest()? {
                                return Err(JoinError::RecordTooLarge {
                                    side: Side::Right,
                                    len: framed,
                                    limit: self.max_record,
                                });
                            }
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Part::Spilling { w, bytes, bloomed } => {
                    frame::write_sink::<R, _>(w, 0, rec)?;
                    *bytes += framed as u64;
                    if *bloomed && let Some(b) = &mut self.bloom {
                        b.insert(hash);
                    }
                    return Ok(true);
                }
                _ => unreachable_state()?,
            }
        }
    }

    /// Spills the largest in-memory partition; `false` when none holds rows.
    fn spill_largest(&mut self) -> Result<bool, JoinError> {
        let largest = (0..self.parts.len())
            .filter_map(|i| self.parts[i].memory_bytes().map(|b| (b, i)))
            .max()
            .filter(|&(b, _)| b > 0);
        let Some((_, i)) = largest else { return Ok(false) };
        self.spill_part(i)?;
        if self.bloom.is_none() && self.spill {
            // The first spills make room for the filter (more of them if one
            // does not free enough); partitions spilled before it existed are
            // not filtered.
            let bytes = self.res.capacity() / BLOOM_SHARE;
            loop {
                self.bloom = Bloom::new(bytes, &self.res);
                if self.bloom.is_some() {
                    break;
                }
                let next = (0..self.parts.len())
                    .filter_map(|i| self.parts[i].memory_bytes().map(|b| (b, i)))
                    .max()
                    .filter(|&(b, _)| b > 0);
                match next {
                    Some((_, j)) => self.spill_part(j)?,
                    None => break,
                }
            }
        }
        Ok(true)
    }

    /// Writes partition `i`'s pages to a new spill file.
    fn spill_part(&mut self, i: usize) -> Result<(), JoinError> {
        let (pages, len, building) = match core::mem::replace(&mut self.parts[i], Part::Taken) {
            Part::Memory { w, .. } => {
                let (pages, len) = w.into_pages();
                (pages, len, true)
            }
            Part::Table { pages, len, table } => {
                drop(table);
                (pages, len, false)
            }
            other => {
                self.parts[i] = other;
                return Ok(());
            }
        };
        // Record the rows in the Bloom filter while their pages are here.
        let bloomed = match &mut self.bloom {
            Some(bloom) => {
                let mut rd = PagedReader::new(&pages, len);
                while let Some((_, rec)) = frame::read::<R, _>(&mut rd)? {
                    bloom.insert(R::hash_key(rec, self.seed));
                }
                true
            }
            None => false,
        };
        self.reserve = None;
        let mut w = match SpillWriter::new(&self.res) {
            Ok(w) => w,
            Err(SpillError::Memory(_)) => {
                return Err(JoinError::BudgetTooSmall {
                    budget: self.res.manager().budget(),
                    needed: self.res.manager().budget() + self.res.page_size(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let page_size = self.res.page_size() as u64;
        for (k, page) in pages.iter().enumerate() {
            let n = (len - k as u64 * page_size).min(page_size) as usize;
            w.write_page(&page.as_slice()[..n])?;
        }
        drop(pages);
        self.reserve = self.res.allocate_page().ok();
        self.parts[i] = if building {
            Part::Spilling { w, bytes: len, bloomed }
        } else {
            Part::Spilled { build: w.finish()?, bytes: len, probe: None, bloomed }
        };
        Ok(())
    }

    /// Ends the build: tables for in-memory partitions, probe files for
    /// spilled ones, spilling more partitions while they do not fit.
    ///
    /// # Errors
    ///
    /// A spill error, or [`JoinError::BudgetTooSmall`] when nothing fits.
    pub(crate) fn finish_build(&mut self) -> Result<(), JoinError> {
        'again: loop {
            for part in &mut self.parts {
                if let Part::Spilling { .. } = part
                    && let Part::Spilling { w, bytes, bloomed } = core::mem::replace(part, Part::Taken)
                {
                    *part = Part::Spilled { build: w.finish()?, bytes, probe: None, bloomed };
                }
            }
            for i in 0..self.parts.len() {
                let short = match &mut self.parts[i] {
                    Part::Spilled { probe: probe @ None, .. } => match SpillWriter::new(&self.res) {
                        Ok(w) => {
                            *probe = Some(w);
                            false
                        }
                        Err(SpillError::Memory(_)) => true,
                        Err(e) => return Err(e.into()),
                    },
                    Part::Memory { rows, .. } => match HashTable::new(*rows as usize, &self.res) {
                        Ok(table) => {
                            self.fill_table(i, table)?;
                            false
                        }
                        Err(MemoryError::Exhausted { .. }) => true,
                        Err(e) => return Err(e.into()),
                    },
                    _ => false,
                };
                if short {
                    if !self.spill || !self.spill_largest()? {
                        let budget = self.res.manager().budget();
                        return Err(JoinError::BudgetTooSmall {
                            budget,
                            needed: budget + self.res.page_size(),
                        });
                    }
                    continue 'again;
                }
            }
            return Ok(());
        }
    }

    fn fill_table(&mut self, i: usize, mut table: HashTable) -> Result<(), JoinError> {
        let Part::Memory { w, .. } = core::mem::replace(&mut self.parts[i], Part::Taken) else {
            return unreachable_state();
        };
        let (pages, len) = w.into_pages();
        let mut rd = PagedReader::new(&pages, len);
        loop {
            let pos = rd.position();
            let Some((_, rec)) = frame::read::<R, _>(&mut rd)? else { break };
            if !R::key_has_null(rec) {
                // Partitions stay below 4 GiB: `insert` spills before.
                table.insert(R::hash_key(rec, self.seed), pos as u32);
            }
        }
        self.parts[i] = Part::Table { pages, len, table };
        Ok(())
    }

    /// Gives back the reserve page (before opening a reader for the probe).
    pub(crate) fn release_reserve(&mut self) {
        self.reserve = None;
    }

    /// Returns up to `max` unmatched build rows of partition `part` from byte
    /// position `*pos` on; `true` when the partition is done.
    pub(crate) fn unmatched<F>(
        &self,
        part: usize,
        pos: &mut u64,
        max: usize,
        out: &mut F,
    ) -> Result<bool, JoinError>
    where
        F: FnMut(Option<&[u8]>, Option<&[u8]>) -> Result<(), JoinError>,
    {
        let Some(Part::Table { pages, len, .. }) = self.parts.get(part) else { return Ok(true) };
        let mut rd = PagedReader::new(pages, *len);
        if *pos >= *len {
            return Ok(true);
        }
        rd.seek(RecordPointer {
            page: (*pos >> self.page_shift) as u32,
            offset: (*pos as u32) & ((1 << self.page_shift) - 1),
        })?;
        for _ in 0..max {
            let Some((flag, rec)) = frame::read::<R, _>(&mut rd)? else {
                *pos = *len;
                return Ok(true);
            };
            if flag & MATCHED == 0 {
                out(None, Some(rec))?;
            }
        }
        *pos = rd.position();
        Ok(*pos >= *len)
    }

    /// Number of partitions.
    pub(crate) fn len(&self) -> usize {
        self.parts.len()
    }

    /// Ends the round: the spilled partition pairs, as tasks of `level`.
    pub(crate) fn into_tasks(
        self,
        level: u32,
        parent_bytes: u64,
        tasks: &mut Vec<Task>,
    ) -> Result<(), JoinError> {
        for part in self.parts {
            if let Part::Spilled { build, bytes, probe: Some(w), .. } = part {
                tasks.push(Task { build, probe: w.finish()?, level, bytes, parent_bytes });
            }
        }
        Ok(())
    }
}

fn block_full(rows: u64, limit: usize) -> Result<bool, JoinError> {
    if rows == 0 {
        return Err(JoinError::RecordTooLarge { side: Side::Right, len: limit, limit });
    }
    Ok(false)
}

fn exhausted(res: &MemoryReservation) -> MemoryError {
    MemoryError::Exhausted {
        reservation: res.name().to_string(),
        requested: res.page_size(),
        available: res.available(),
        budget: res.capacity(),
    }
}

/// A partition in a state the algorithm never leaves it in; reported as an
/// error rather than a panic.
#[cold]
fn unreachable_state<T>() -> Result<T, JoinError> {
    Err(JoinError::View(segrec_core::ViewError::BadPointer(RecordPointer::default())))
}
