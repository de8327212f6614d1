//! Probing the partitions: one row, or a batch of rows whose buckets and
//! first candidate records are prefetched before any is probed.

use segrec_core::{PagedReader, RecordPointer, SegmentRecord};

use super::{Part, Partitions, unreachable_state};
use crate::join::error::JoinError;
use crate::join::frame::{self, MATCHED};
use crate::join::hash_table::prefetch;
use crate::join::types::JoinType;

/// Reusable buffers for canonical keys.
#[derive(Debug, Default)]
pub(crate) struct KeyBufs {
    pub left: Vec<u8>,
    pub right: Vec<u8>,
}

/// Longest normalized key compared on the stack.
const STACK_KEY: usize = 32;

impl KeyBufs {
    /// Whether the keys of a left and a right record are equal, comparing
    /// canonical keys. When both normalized keys are whole canonical keys of
    /// the same length they are compared on the stack; otherwise the left
    /// canonical key is written once per probe row (`have_left`) and the
    /// right one into a reused buffer.
    #[inline]
    pub(crate) fn equal<L: SegmentRecord, R: SegmentRecord>(
        &mut self,
        l: &[u8],
        r: &[u8],
        have_left: &mut bool,
    ) -> bool {
        let n = L::NORMALIZED_KEY_LEN;
        if !L::NORMALIZED_KEY_IS_PREFIX
            && !R::NORMALIZED_KEY_IS_PREFIX
            && n == R::NORMALIZED_KEY_LEN
            && n <= STACK_KEY
        {
            let (mut a, mut b) = ([0u8; STACK_KEY], [0u8; STACK_KEY]);
            L::write_normalized_key(l, &mut a[..n]);
            R::write_normalized_key(r, &mut b[..n]);
            return a == b;
        }
        if !*have_left {
            self.left.clear();
            L::write_key(l, &mut self.left);
            *have_left = true;
        }
        self.right.clear();
        R::write_key(r, &mut self.right);
        self.left == self.right
    }
}

impl<R: SegmentRecord> Partitions<R> {
    /// Probes with one left row. `prior` says the row matched in an earlier
    /// block; `last` whether unmatched left rows are to be returned now.
    /// Returns whether the row matched here.
    #[inline]
    pub(crate) fn probe<L: SegmentRecord, F>(
        &mut self,
        rec: &[u8],
        prior: bool,
        last: bool,
        keys: &mut KeyBufs,
        out: &mut F,
    ) -> Result<bool, JoinError>
    where
        F: FnMut(Option<&[u8]>, Option<&[u8]>) -> Result<(), JoinError>,
    {
        let hash = L::hash_key(rec, self.seed);
        self.probe_hashed::<L, F>(rec, hash, prior, last, keys, out)
    }

    /// Probes with a batch of left rows (`rows[ends[i-1]..ends[i]]`): hashes
    /// them all and prefetches their buckets, then their first candidate
    /// records, then probes, so that the cache misses of a batch overlap.
    pub(crate) fn probe_batch<L: SegmentRecord, F>(
        &mut self,
        rows: &[u8],
        ends: &[usize],
        hashes: &mut Vec<u64>,
        keys: &mut KeyBufs,
        out: &mut F,
    ) -> Result<(), JoinError>
    where
        F: FnMut(Option<&[u8]>, Option<&[u8]>) -> Result<(), JoinError>,
    {
        hashes.clear();
        let mut start = 0;
        for &end in ends {
            let h = L::hash_key(&rows[start..end], self.seed);
            start = end;
            hashes.push(h);
            if let Some(Part::Table { table, .. }) = self.parts.get(self.part_of(h)) {
                table.prefetch(h);
            }
        }
        for &h in hashes.iter() {
            if let Some(Part::Table { pages, table, .. }) = self.parts.get(self.part_of(h)) {
                let mut c = table.lookup(h);
                if let Some(slot) = table.next(&mut c) {
                    let pos = slot as usize;
                    if let Some(p) = pages.get(pos >> self.page_shift) {
                        let off = pos & ((1 << self.page_shift) - 1);
                        prefetch(p.as_slice()[off..].as_ptr());
                    }
                }
            }
        }
        let mut start = 0;
        for (&end, &h) in ends.iter().zip(hashes.iter()) {
            self.probe_hashed::<L, F>(&rows[start..end], h, false, true, keys, out)?;
            start = end;
        }
        Ok(())
    }

    /// [`probe`](Self::probe) with the row's hash already computed.
    #[inline]
    fn probe_hashed<L: SegmentRecord, F>(
        &mut self,
        rec: &[u8],
        hash: u64,
        prior: bool,
        last: bool,
        keys: &mut KeyBufs,
        out: &mut F,
    ) -> Result<bool, JoinError>
    where
        F: FnMut(Option<&[u8]>, Option<&[u8]>) -> Result<(), JoinError>,
    {
        let jt = self.jt;
        if L::key_has_null(rec) {
            if last && jt.keeps_unmatched_left() && !prior {
                out(Some(rec), None)?;
            }
            return Ok(false);
        }
        let p = if self.parts.len() == 1 { 0 } else { self.part_of(hash) };
        let page_shift = self.page_shift;
        let page_mask = (1usize << page_shift) - 1;
        let (pages, len, table) = match &mut self.parts[p] {
            Part::Table { pages, len, table } => (pages, *len, &*table),
            Part::Spilled { probe: Some(w), bloomed, .. } => {
                let may_match = !*bloomed || self.bloom.as_ref().is_none_or(|b| b.may_contain(hash));
                if may_match {
                    frame::write_sink::<L, _>(w, u8::from(prior) * MATCHED, rec)?;
                } else if last && jt.keeps_unmatched_left() && !prior {
                    out(Some(rec), None)?;
                }
                return Ok(false);
            }
            _ => return unreachable_state(),
        };
        let mut cursor = table.lookup(hash);
        let mut matched = false;
        let mut have_left_key = false;
        while let Some(slot) = table.next(&mut cursor) {
            let pos = slot as usize;
            let (page, off) = (pos >> page_shift, pos & page_mask);
            let brec = match frame::in_page::<R>(pages[page].as_slice(), off) {
                Some((_, r)) => r,
                None => {
                    // A row straddling two pages: copied out, through buffers
                    // kept across probes (no allocation per probe).
                    let scratch = core::mem::take(&mut self.straddle.0);
                    let mut rd = PagedReader::with_scratch(pages, len, scratch);
                    rd.seek(RecordPointer { page: page as u32, offset: off as u32 })?;
                    let Some((_, r)) = frame::read::<R, _>(&mut rd)? else { return unreachable_state() };
                    self.straddle.1.clear();
                    self.straddle.1.extend_from_slice(r);
                    self.straddle.0 = rd.into_scratch();
                    &self.straddle.1
                }
            };
            if !keys.equal::<L, R>(rec, brec, &mut have_left_key) {
                continue;
            }
            matched = true;
            match jt {
                JoinType::LeftSemi => {
                    out(Some(rec), None)?;
                    break;
                }
                JoinType::LeftAnti => break,
                _ => {
                    out(Some(rec), Some(brec))?;
                    if jt.keeps_unmatched_right() {
                        pages[page].as_mut_slice()[off] |= MATCHED;
                    }
                }
            }
        }
        if !matched && !prior && last && jt.keeps_unmatched_left() {
            out(Some(rec), None)?;
        }
        Ok(matched)
    }
}
