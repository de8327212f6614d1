//! Pushing into a [`FixedBuffer`]: a record goes straight to its top
//! bucket's chain, placed by the key of its fields (`try_push_value`) or of
//! its bytes (`try_push`, through a pending slot), with one compare
//! standing for every rare case (see the module documentation of `fixed`).

use segrec_core::{MemoryError, SegmentRecord};

use super::blocks::{BLOCK, Blocks, Chain, NONE};
use super::{FULL, FixedBuffer, WRITE_AHEAD};
use crate::sort::SortError;
use crate::sort::buffer::Pushed;

impl<T: SegmentRecord> FixedBuffer<T> {
    /// Appends one record, encoded by `fill` into its entry.
    #[inline]
    pub(crate) fn try_push(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), SortError>,
    ) -> Result<Pushed, SortError> {
        debug_assert_eq!(len, Self::REC);
        // One compare stands for every rare case (first push, end of the
        // sample, the cap, reading in progress, a failed encode).
        if self.len >= self.check_at {
            return self.checkpoint(fill);
        }
        if !self.place_pending(self.keep)? {
            return Ok(Pushed::Full);
        }
        self.fill_pending(fill)
    }

    /// Appends `record`, encoded straight into its bucket: its key comes
    /// from its fields (see [`SegmentRecord::normalized_key_word_of`]), so
    /// nothing is read back from bytes just written. Always inlined (into
    /// `Sorter::push`, and so the caller's loop).
    #[inline(always)]
    pub(crate) fn try_push_value(&mut self, record: &T) -> Result<Pushed, SortError> {
        // As in `try_push`, one compare stands for every rare case (a
        // pending record among them).
        if self.len >= self.check_value {
            return self.checkpoint_value(record);
        }
        self.place_value(record)
    }

    /// Places and encodes `record` in its bucket, leaving `keep` blocks free.
    #[inline(always)]
    fn place_value(&mut self, record: &T) -> Result<Pushed, SortError> {
        // One predictable branch saves a wide key's `u128` shifts (see
        // `head`); keys of up to 8 bytes never take the other way.
        if Self::KEY <= 8 || self.head {
            self.place_value_in::<true>(record)
        } else {
            self.place_value_in::<false>(record)
        }
    }

    /// `place_value`, with `HEAD` when placing may read the key's top 64
    /// bits alone.
    #[inline(always)]
    fn place_value_in<const HEAD: bool>(&mut self, record: &T) -> Result<Pushed, SortError> {
        let k = record.normalized_key_word_of();
        let b = self.bucket::<HEAD>(k);
        // One bounds check for the read and the write of the cursor.
        let cursor = &mut self.cursor[b];
        let mut pos = *cursor;
        if Blocks::offset(pos) + Self::ENTRY >= BLOCK {
            // Checked before a block is taken for it: a record that fails
            // to encode leaves no empty block at its chain's end.
            record.check_encode()?;
            match Self::new_block(&mut self.blocks, cursor, &mut self.chains[b], self.keep)? {
                // Computed here, so the compiler sees where in its block
                // the entry goes (and drops the check of `write_with`).
                Some(block) => pos = Blocks::start(block),
                None => return Ok(Pushed::Full),
            }
        }
        // A failed encode leaves the cursor as it was: nothing is placed.
        self.blocks.write_with(pos, Self::REC, WRITE_AHEAD, |out| record.encode(out))?;
        *cursor = pos + Self::ENTRY;
        self.note_key::<HEAD>(k);
        self.len += 1;
        Ok(Pushed::Done)
    }

    /// Notes the bits in which key `k` differs from the first one, when
    /// `sort` needs them (with `HEAD`, `above` lies in the top 64 bits).
    #[inline(always)]
    fn note_key<const HEAD: bool>(&mut self, k: u128) {
        let x = k ^ self.first;
        // Keys of up to 8 bytes have no bits in the low half.
        let differs = if Self::KEY <= 8 || HEAD {
            (x >> 64) as u64 & (self.above >> 64) as u64 != 0
        } else {
            x & self.above != 0
        };
        if differs {
            self.diff |= x;
        }
    }

    /// `try_push_value` for the rare cases `check_value` stands for.
    #[cold]
    #[inline(never)]
    fn checkpoint_value(&mut self, record: &T) -> Result<Pushed, SortError> {
        if self.draining {
            self.restore();
        }
        if self.len >= self.max_len || (self.len == 0 && !self.start()?) {
            return Ok(Pushed::Full);
        }
        if self.len >= self.sample {
            self.choose_top_digit()?;
        }
        // An encoded push came just before: it is placed first.
        if self.has_pending && !self.place_pending(self.keep)? {
            self.update_check();
            return Ok(Pushed::Full);
        }
        if self.len == 0 && !self.digit_kept() {
            self.first = record.normalized_key_word_of();
        }
        let pushed = self.place_value(record);
        self.update_check();
        pushed
    }

    /// Encodes the record into the pending slot.
    #[inline(always)]
    fn fill_pending(
        &mut self,
        fill: impl FnOnce(&mut [u8]) -> Result<(), SortError>,
    ) -> Result<Pushed, SortError> {
        if let Err(e) = fill(&mut self.pending[..Self::REC]) {
            // Nothing is pending now: the next push takes the slow path.
            self.check_at = 0;
            self.check_value = 0;
            return Err(e);
        }
        self.has_pending = true;
        self.len += 1;
        Ok(Pushed::Done)
    }

    /// `try_push` for the rare cases `check_at` stands for.
    #[cold]
    #[inline(never)]
    fn checkpoint(
        &mut self,
        fill: impl FnOnce(&mut [u8]) -> Result<(), SortError>,
    ) -> Result<Pushed, SortError> {
        if self.draining {
            self.restore();
        }
        if self.len >= self.max_len || (self.len == 0 && !self.start()?) {
            return Ok(Pushed::Full);
        }
        if self.has_pending {
            if self.len >= self.sample {
                self.choose_top_digit()?;
            }
            if !self.place_pending(self.keep)? {
                self.update_check();
                return Ok(Pushed::Full);
            }
        }
        let pushed = self.fill_pending(fill);
        if pushed.is_ok() {
            if self.len == 1 && !self.digit_kept() {
                // The reference the other keys' differing bits are taken
                // against (any key of the set would do).
                self.first = Self::key_of(&self.pending);
            }
            self.update_check();
        }
        pushed
    }

    /// The next push count `try_push` must stop at.
    fn update_check(&mut self) {
        let at = if self.draining { 0 } else { self.max_len.min(self.sample) };
        (self.check_at, self.check_value) = if self.has_pending { (at, 0) } else { (0, at) };
    }

    /// Before the first entry: charges the sort's vectors and takes the
    /// blocks it keeps plus one; `false` when the budget cannot.
    #[cold]
    fn start(&mut self) -> Result<bool, MemoryError> {
        if self.charged == 0 && self.charge().is_err() {
            return Ok(false);
        }
        while self.blocks.free_len() <= self.keep {
            if !self.blocks.grow()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Moves the pending record into its bucket, leaving `keep` blocks free;
    /// `false` (and still pending) when no block is left.
    #[inline(always)]
    pub(super) fn place_pending(&mut self, keep: usize) -> Result<bool, MemoryError> {
        // As in `place_value`.
        if Self::KEY <= 8 || self.head {
            self.place_pending_in::<true>(keep)
        } else {
            self.place_pending_in::<false>(keep)
        }
    }

    /// `place_pending`, with `HEAD` when placing may read the key's top 64
    /// bits alone.
    #[inline(always)]
    fn place_pending_in<const HEAD: bool>(&mut self, keep: usize) -> Result<bool, MemoryError> {
        let k = Self::key_of(&self.pending);
        let b = self.bucket::<HEAD>(k);
        let mut pos = self.cursor[b];
        if Blocks::offset(pos) + Self::ENTRY >= BLOCK {
            match Self::new_block(&mut self.blocks, &mut self.cursor[b], &mut self.chains[b], keep)? {
                Some(block) => pos = Blocks::start(block),
                None => return Ok(false),
            }
        }
        self.blocks.write(pos, &self.pending[..Self::REC], WRITE_AHEAD);
        self.cursor[b] = pos + Self::ENTRY;
        self.note_key::<HEAD>(k);
        self.has_pending = false;
        Ok(true)
    }

    /// Where the next entry of a chain goes: its cursor, or the start of a
    /// new block (leaving `keep` free); `None` when no block is left.
    #[inline(always)]
    pub(super) fn room(
        blocks: &mut Blocks,
        cursor: &mut usize,
        chain: &mut Chain,
        keep: usize,
    ) -> Result<Option<usize>, MemoryError> {
        if Blocks::offset(*cursor) + Self::ENTRY < BLOCK {
            return Ok(Some(*cursor));
        }
        Ok(Self::new_block(blocks, cursor, chain, keep)?.map(Blocks::start))
    }

    /// Starts a new block for a chain (its cursor at the block's start),
    /// leaving `keep` free: the block, or `None` when none is left.
    #[cold]
    #[inline(never)]
    fn new_block(
        blocks: &mut Blocks,
        cursor: &mut usize,
        chain: &mut Chain,
        keep: usize,
    ) -> Result<Option<u32>, MemoryError> {
        let Some(block) = blocks.take(keep)? else { return Ok(None) };
        Self::seal_tail(blocks, cursor, chain);
        blocks.link(chain, block);
        *cursor = Blocks::start(block);
        Ok(Some(block))
    }

    /// Records the fill of a chain's last block (its cursor's block).
    #[inline]
    pub(super) fn seal_tail(blocks: &mut Blocks, cursor: &mut usize, chain: &mut Chain) {
        if chain.tail != NONE && *cursor != FULL {
            let fill = Blocks::offset(*cursor) / Self::ENTRY;
            blocks.seal(chain.tail, fill);
            chain.len += fill;
        }
        *cursor = FULL;
    }
}
