//! Sorting the chains of a [`FixedBuffer`]: scatter passes for chains
//! larger than the in-cache capacity, and the in-cache sort that finishes
//! each chain (see the module documentation of `fixed`).

use segrec_core::{MemoryError, SegmentRecord};

use super::blocks::{BLOCK, Blocks, Chain, NONE};
use super::helper::{Helper, Taken};
use super::{FULL, FixedBuffer, Held, MAX_DIGIT, WRITE_AHEAD};
use crate::sort::SortError;
use crate::sort::prefetch::prefetch_ptr;

impl<T: SegmentRecord> FixedBuffer<T> {
    /// Scatters the sealed chain `src` by `d` key bits from key bit `bit`
    /// into `2^d` chains (cursors not sealed), in order, freeing each block
    /// of `src` once read. Needs `2^d + 1` free blocks.
    pub(super) fn scatter(
        &mut self,
        src: Chain,
        bit: u32,
        d: u32,
    ) -> Result<(Vec<usize>, Vec<Chain>), MemoryError> {
        self.scatter_by(src, 1 << d, |k| Self::digit_of(k, bit, d))
    }

    /// Scatters the sealed chain `src` into `n` chains by `bucket` (of a
    /// key, below `n`), as [`scatter`](Self::scatter). Needs `n + 1` free
    /// blocks.
    pub(super) fn scatter_by(
        &mut self,
        src: Chain,
        n: usize,
        bucket: impl Fn(u128) -> usize,
    ) -> Result<(Vec<usize>, Vec<Chain>), MemoryError> {
        let mut cursor = vec![FULL; n];
        let mut chains = vec![Chain::EMPTY; n];
        let mut b = src.head;
        while b != NONE {
            let fill = self.blocks.fill(b);
            let next = self.blocks.next(b);
            let mut from = Blocks::start(b);
            // The next block is somewhere else in memory, where the hardware
            // prefetcher does not look: bring it in alongside this one.
            let mut ahead = if next == NONE { 0 } else { self.blocks.hint(Blocks::start(next)).addr() };
            for _ in 0..fill {
                prefetch_ptr(core::ptr::without_provenance(ahead));
                ahead += Self::ENTRY;
                let k = Self::key_of(self.blocks.bytes(from, Self::ENTRY));
                let t = bucket(k);
                let Some(to) = Self::room(&mut self.blocks, &mut cursor[t], &mut chains[t], 0)? else {
                    return Err(self.exhausted());
                };
                self.blocks.copy(from, to, Self::ENTRY);
                prefetch_ptr(self.blocks.hint(to + WRITE_AHEAD));
                cursor[t] = to + Self::ENTRY;
                from += Self::ENTRY;
            }
            self.blocks.release(b);
            b = next;
        }
        Ok((cursor, chains))
    }

    /// The error of a pass that found no free block: placing the last
    /// pushed record and scattering cannot meet it (their blocks are
    /// secured first); a split can, when the free blocks run out before the
    /// key's clustered bits do.
    pub(super) fn exhausted(&self) -> MemoryError {
        let r = self.blocks.reservation();
        MemoryError::Exhausted {
            reservation: r.name().to_owned(),
            requested: BLOCK,
            available: r.available(),
            budget: r.manager().budget(),
        }
    }

    /// OR of every key XOR the first one, over a sealed chain.
    fn chain_diff(&self, chain: Chain) -> u128 {
        Self::keys_diff(self.blocks.entries(chain, Self::ENTRY))
    }

    /// Calls `f` on each entry of a sealed chain, in order.
    #[inline(always)]
    pub(super) fn for_each_entry(&self, chain: Chain, f: impl FnMut(&[u8])) {
        self.blocks.entries(chain, Self::ENTRY).for_each(f);
    }

    /// Makes the next chain (on the stack) the current one, sorted: chains
    /// larger than the in-cache capacity are scattered into sub-chains
    /// first. `false` when every chain was read.
    #[cold]
    #[inline(never)]
    pub(super) fn next_chain(&mut self) -> Result<bool, SortError> {
        let done = core::mem::replace(&mut self.current, Chain::EMPTY);
        if done.head != NONE {
            if self.release_read {
                for &b in &self.cache.list {
                    self.blocks.release(b);
                }
            } else {
                self.retire(done);
            }
        }
        self.served += self.cache.count;
        self.at = 0;
        self.cache.count = 0;
        self.cache.slots.clear();
        self.load_ahead()?;
        // Chains handed to the helper left the stack before those on it.
        if let Some(helper) = &mut self.helper
            && helper.in_flight() > 0
        {
            let mut job = match helper.take() {
                Taken::Sorted(job) => job,
                Taken::Unsorted(mut job) => {
                    // The helper is busy with an earlier one: sort it here.
                    Self::run_job(&mut job);
                    job
                }
            };
            core::mem::swap(&mut self.cache, &mut job.cache);
            let (chain, bit) = (job.chain, job.bit);
            helper.give_back(job);
            self.become_current(chain, bit);
            return Ok(true);
        }
        loop {
            while let Some((chain, bit)) = self.stack.pop() {
                if chain.len <= self.cache_cap {
                    // The helper starts on the chains after this one first.
                    self.hand_over();
                    self.sort_in_cache(chain, bit);
                    self.become_current(chain, bit);
                    return Ok(true);
                }
                if let Err(e) = self.split(chain, bit) {
                    // Still held (split frees nothing before it can finish), so
                    // a `restore` keeps it.
                    self.stack.push((chain, bit));
                    return Err(e);
                }
            }
            // Partitioned runs load their next bucket here.
            if !self.load_next()? {
                break;
            }
        }
        // Everything was read: the helper's thread ends here, not when the
        // stream is dropped.
        self.stop_helper();
        Ok(false)
    }

    /// Makes the sorted `chain` the one read, and hands the chains after
    /// it to the helper.
    fn become_current(&mut self, chain: Chain, bit: u32) {
        self.current = chain;
        // Pieces of a chain of equal keys are stacked past the key's last
        // bit; any other chain holds every entry of its keys.
        self.current_whole = bit <= Self::KEY_BITS;
        self.hand_over();
        self.read_ahead.clear();
        if let Some(next) = self.helper.as_ref().and_then(Helper::next_handed) {
            let room = self.read_ahead.capacity();
            self.read_ahead
                .extend(self.blocks.walk(next.head).take(room).map(|b| self.blocks.block_ptr(b).addr()));
        }
    }

    /// Hands the chains next on the stack to the helper, as many as it
    /// takes, up to one that must be split first (on this thread).
    fn hand_over(&mut self) {
        let Some(helper) = &mut self.helper else { return };
        while let Some(&(chain, bit)) = self.stack.last() {
            if chain.len > self.cache_cap {
                break;
            }
            let Some(mut job) = helper.spare() else { break };
            self.stack.pop();
            job.cache.list.clear();
            job.cache.list.extend(self.blocks.walk(chain.head));
            // SAFETY: the chain left the stack, and nothing but this job
            // names its blocks until `next_chain` takes the job back and
            // clears `lent` (or `stop_helper` puts the chain back on the
            // stack, the helper stopped): splits and scatters write only
            // free blocks, a chain's blocks are released only after it was
            // read, `clear` and `restore` stop the helper first, and `Drop`
            // stops it before the pages go.
            unsafe { job.lent.set(&self.blocks, &job.cache.list, Self::ENTRY) };
            (job.chain, job.bit) = (chain, bit);
            helper.submit(job);
        }
    }

    /// Sorts a chain of at most `cache_cap` entries on this thread (see
    /// `sort_chain`), prefetching the chain on the stack after it.
    fn sort_in_cache(&mut self, chain: Chain, bit: u32) {
        let mut list = core::mem::take(&mut self.cache.list);
        list.clear();
        list.extend(self.blocks.walk(chain.head));
        self.ahead.clear();
        // With a helper, the chain on the stack is sorted there, later.
        if let (None, Some((next, _))) = (&self.helper, self.stack.last()) {
            let blocks = self.blocks.walk(next.head).take(list.len());
            self.ahead.extend(blocks.map(|b| self.blocks.block_ptr(b).addr()));
        }
        let held = Held { blocks: &self.blocks, list: &list, entry: Self::ENTRY };
        Self::sort_chain(&mut self.cache, &held, chain.len, bit, &self.ahead);
        self.cache.list = list;
    }

    /// Keeps a chain that was read (a spill may fail and `restore` it),
    /// moving the entries of its partly filled last block to the shared
    /// `packed` chain so the block is free again: otherwise every chain a
    /// split made would hold one such block until the run is written.
    ///
    /// Only a whole chain (every entry of its keys) is packed: its entries
    /// move behind all of it, so each key keeps its push order. Pieces of a
    /// chain of equal keys are kept as they are.
    fn retire(&mut self, mut done: Chain) {
        let Some(&tail) = self.cache.list.last() else { return };
        let fill = self.blocks.fill(tail);
        if !self.current_whole || fill == Self::PER_BLOCK {
            self.read.push(done);
            return;
        }
        if self.cache.list.len() == 1 {
            done = Chain::EMPTY;
        } else {
            let prev = self.cache.list[self.cache.list.len() - 2];
            self.blocks.cut_after(prev);
            done = Chain { head: done.head, tail: prev, len: done.len - fill };
        }
        let packed_fill =
            if self.packed.tail == NONE { Self::PER_BLOCK } else { self.blocks.fill(self.packed.tail) };
        let moved = fill.min(Self::PER_BLOCK - packed_fill);
        if moved > 0 {
            let (from, to) =
                (Blocks::start(tail), Blocks::start(self.packed.tail) + packed_fill * Self::ENTRY);
            self.blocks.copy(from, to, moved * Self::ENTRY);
            self.blocks.seal(self.packed.tail, packed_fill + moved);
        }
        if moved == fill {
            self.blocks.release(tail);
        } else {
            // The rest moves to the front of its block, which becomes the
            // packed chain's last.
            let from = Blocks::start(tail) + moved * Self::ENTRY;
            self.blocks.copy(from, Blocks::start(tail), (fill - moved) * Self::ENTRY);
            self.blocks.seal(tail, fill - moved);
            self.blocks.link(&mut self.packed, tail);
        }
        self.packed.len += fill;
        if done.head != NONE {
            self.read.push(done);
        }
    }

    /// Scatters a chain larger than the in-cache capacity by its next digit
    /// and stacks the sub-chains (or the chain itself, when all its keys are
    /// equal: it is in order then).
    fn split(&mut self, chain: Chain, bit: u32) -> Result<(), SortError> {
        let diff = self.chain_diff(chain);
        if diff == 0 || bit >= Self::KEY_BITS {
            // In push order already: read it in cache-sized pieces.
            self.stack_in_pieces(chain);
            return Ok(());
        }
        let bit = bit.max(diff.leading_zeros());
        // A chain this large means clustered keys: their next bits are
        // likely skewed too, so split as wide as free blocks allow (the
        // sub-chains' partly filled blocks are freed as they are read).
        let want = usize::BITS - (chain.len / (self.cache_cap / 4).max(1)).leading_zeros() + 4;
        let mut d = want.clamp(1, MAX_DIGIT).min(Self::KEY_BITS - bit);
        // Each sub-chain's first block comes before any source block is
        // freed, and its last (partly filled) block stays taken until it is
        // read: use at most half the free blocks, and leave enough for the
        // splits that may nest below this one (keys clustered at every
        // level) to go on one bit at a time, each of those keeping one more
        // partly filled block; a last one may take what there is.
        let nested = |d: u32| (1usize << d) - 1 + (Self::KEY_BITS - bit - d) as usize + 3;
        while self.blocks.free_len() < ((2 << d) + 1).max(nested(d)) {
            if !self.blocks.grow()? {
                if d == 1 {
                    if self.blocks.free_len() < 3 {
                        return Err(self.exhausted().into());
                    }
                    break;
                }
                d -= 1;
            }
        }
        let (mut cursor, mut chains) = self.scatter(chain, bit, d)?;
        for (c, chain) in cursor.iter_mut().zip(&mut chains) {
            Self::seal_tail(&mut self.blocks, c, chain);
        }
        self.stack.extend(chains.into_iter().rev().filter(|c| c.len > 0).map(|c| (c, bit + d)));
        Ok(())
    }

    /// Stacks a chain whose keys are all equal as pieces of at most the
    /// in-cache capacity (each read in order).
    fn stack_in_pieces(&mut self, chain: Chain) {
        let mut pieces = Vec::new();
        let mut piece = Chain::EMPTY;
        let mut b = chain.head;
        while b != NONE {
            let next = self.blocks.next(b);
            let fill = self.blocks.fill(b);
            if piece.len + fill > self.cache_cap && piece.head != NONE {
                pieces.push(piece);
                piece = Chain::EMPTY;
            }
            // Unlink `b` so each piece ends at its own tail.
            self.blocks.link(&mut piece, b);
            piece.len += fill;
            b = next;
        }
        if piece.head != NONE {
            pieces.push(piece);
        }
        self.stack.extend(pieces.into_iter().rev().map(|c| (c, Self::PIECE)));
    }
}
