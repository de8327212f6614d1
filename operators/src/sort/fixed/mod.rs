//! The sort buffer for fixed-size records with fixed-width keys: the
//! encoded records themselves are bucketed by key as they are pushed and
//! sorted bucket by bucket, in cache, as they are read back (or spilled),
//! with no index beside them and no twin of the data.
//!
//! # Algorithm
//!
//! An MSD radix sort (McIlroy, Bostic and McIlroy, "Engineering Radix
//! Sort", 1993) whose top pass is fused into pushing and whose lower levels
//! are fused into reading, over chains of 4 KiB blocks cut from budgeted
//! pages (see `blocks.rs`). Keys are the records' normalized keys, derived
//! from the record bytes whenever a pass needs them (straight-line code from
//! the derive), so an entry is just the record.
//!
//! 1. **Push.** The first records (a sample of about the in-cache capacity)
//!    go to one chain. Their keys tell which leading bits all keys share so
//!    far; the top digit is the next (up to 11) bits, with as many buckets as
//!    the budget holds at about half the in-cache capacity each. When those
//!    bits would leave the sample's buckets skewed, the digit is mapped
//!    instead: the next bits are looked up in a table built from the
//!    sample, which lays out buckets of about equal share (see `top.rs`).
//!    The sample is scattered into the buckets, and every later push goes
//!    straight to its bucket's chain (placed by the key of the record's
//!    fields, encoded in place), with a write prefetch ahead of the
//!    bucket's write position. Keys wider than 8 bytes are placed by their
//!    top 64 bits alone when the digit lies within them, in `u64`.
//! 2. **Sort** (`sort`) only seals the chains and stacks them in key order.
//!    When a later key differs from the sample above the top digit (sorted
//!    input, say), the buckets do not partition the keys: they are linked
//!    into one chain, sorted from the first differing bit.
//! 3. **Read** (`next_record`). The next chain within the in-cache
//!    capacity is sorted by one digit of about `log2(size) + 2` bits into
//!    `key bits | reference` slots (counted first, while the chain after it
//!    is prefetched from memory), then one insertion pass finishes the
//!    sub-buckets (a rare large one is sorted first), and records are read
//!    in slot order where they lie, in cache. A larger chain (clustered
//!    keys) is scattered by its next digit into sub-chains first, freeing
//!    each source block once read; a chain of equal keys is read in order.
//!
//! 4. **A second core.** A buffer read once in memory (the sorter's final
//!    stream) starts a helper thread when many chains are left to read:
//!    it sorts the next chains while this thread reads the current one,
//!    and this thread sorts a chain itself when it gets there first (see
//!    `helper.rs`; `SorterConfig::sort_thread` turns it off). Reading
//!    brings the next chain into this core's cache as it goes, so that
//!    records sorted on the other core need not be fetched one by one.
//!
//! 5. **Out of core** (see `parted.rs`): a full buffer spills its top
//!    buckets as they are, keeping the top digit for the next buffers, and
//!    reading back loads one bucket of every run at a time into chains by
//!    its next digit, sorted and read as above.
//!
//! Every scatter appends in input order and slots break key ties by their
//! reference, which grows with chain order, so equal keys keep push order:
//! the sort is stable by construction. A spill that fails half-way
//! `restore`s every chain into one unsorted chain, losing nothing.

mod blocks;
mod cache;
mod helper;
mod parted;
mod push;
mod sort;
mod top;

use core::marker::PhantomData;

use segrec_core::{MemoryError, MemoryReservation, SegmentRecord};

use super::SortError;
use blocks::{BLOCK, Blocks, Chain};
use cache::{CacheSort, Held, Lent};
use helper::{Helper, Job};
pub(crate) use parted::{Feed, PartedRuns, reader_bytes};

/// The widest entry kept on this path; wider records use the index.
pub(crate) const MAX_ENTRY: usize = 64;
/// The widest key (in normalized bytes) sorted on this path.
const MAX_KEY: usize = 12;
/// Widest digit of a scatter pass (top buckets included).
const MAX_DIGIT: u32 = 11;
/// Most blocks an in-cache sort reads (its working set, with its slots and
/// output, stays in L2).
const MAX_CACHE_BLOCKS: usize = 64;
/// Bytes ahead of a bucket's write position prefetched while scattering.
const WRITE_AHEAD: usize = 256;
/// Cache lines of a block, log2: reading brings one line of the next chain
/// into cache per record read, and a chain spans about one line per entry
/// at most (entries are at most `MAX_ENTRY` bytes), so the next chain is in
/// by the time the current one is read.
const LINE: usize = 64;
const LINES_SHIFT: u32 = (BLOCK / LINE).trailing_zeros();
/// A bucket cursor with no room: the next entry needs a new block.
const FULL: usize = usize::MAX;

/// Whether records of `T` can use this path at all.
pub(crate) fn eligible<T: SegmentRecord>(prefix_len: usize) -> bool {
    let key = T::NORMALIZED_KEY_LEN;
    T::ENCODED_SIZE.is_some()
        && !T::NORMALIZED_KEY_IS_PREFIX
        && key <= MAX_KEY
        && prefix_len >= key.min(12)
        && FixedBuffer::<T>::ENTRY <= MAX_ENTRY
}

/// Sorted-in-place entries `[key | record]` in chains of blocks.
#[derive(Debug)]
pub(crate) struct FixedBuffer<T> {
    blocks: Blocks,
    /// Per bucket: the next write position, or `FULL`.
    cursor: Vec<usize>,
    /// Per bucket: its chain (`len` counts sealed blocks only).
    chains: Vec<Chain>,
    /// The bucket digit: `digit` key bits from key bit `bit` (no bits: one
    /// bucket).
    bit: u32,
    digit: u32,
    /// Bits of the top digit once the sample is in (0: stay in one chain).
    top_bits: u32,
    /// A mapped top digit (see `top.rs`): the lookup of the key's next
    /// `map_bits` bits (0: the digit is plain) and each bucket's shared bits.
    map: Vec<u64>,
    map_bits: u32,
    bucket_bits: Vec<u32>,
    /// Entries after which the top digit is chosen (`usize::MAX`: chosen).
    sample: usize,
    /// Pushes below this count take the fast path (see `try_push`, and
    /// `try_push_value` for `check_value`).
    check_at: usize,
    check_value: usize,
    len: usize,
    /// Whether `pending` holds the last pushed record, not placed yet.
    has_pending: bool,
    /// The last pushed record (its first `REC` bytes), placed one push later:
    /// reading its key right away would stall on store forwarding.
    pending: [u8; MAX_ENTRY],
    /// The first key pushed, and the OR of every key XOR it that differs
    /// from it in `above` (all bits while sampling, the bits above the top
    /// digit after): the bits all keys share are `diff`'s leading zeros as
    /// far as `sort` needs to know. Testing `above` first keeps a store off
    /// the common push.
    first: u128,
    diff: u128,
    above: u128,
    /// Whether `above` and the bits the top digit reads all lie in the
    /// key's top 64 bits (always, for keys of up to 8 bytes): placing a
    /// record then computes in `u64`, whatever the key's width.
    head: bool,
    /// Free blocks pushing leaves for sorting: the last pushed record's,
    /// and those the splits of clustered buckets start their sub-chains in.
    keep: usize,
    /// Most entries one in-cache sort takes.
    cache_cap: usize,
    /// Most entries held (a small budget's one chain must fit in cache).
    max_len: usize,
    /// The current chain's in-cache sort: its blocks and sorted slots.
    cache: CacheSort,
    /// Block addresses of the chain sorted after the current one (on this
    /// thread), prefetched while the current one is counted.
    ahead: Vec<usize>,
    /// The thread sorting the chains read next, while reading a buffer
    /// once in memory (see `helper.rs`).
    helper: Option<Helper>,
    /// With the helper: the block addresses of the chain read after the
    /// current one, brought into this thread's cache a line per record
    /// read from the current one (so reading need not fetch its records
    /// from the other core's cache one by one).
    read_ahead: Vec<usize>,
    /// Whether to use the helper (see `SorterConfig::sort_thread`), and its
    /// jobs (their vectors, charged once made) while it is stopped.
    sort_thread: bool,
    idle: Vec<Job>,
    /// Bytes charged to the reservation for the vectors above.
    charged: usize,
    /// Whether the entries are being read in order (`sort` was called).
    draining: bool,
    /// Chains still to sort and read, with the key bits their keys share;
    /// the next one last.
    stack: Vec<(Chain, u32)>,
    /// The chain being read: its sorted slots are in `cache`, `at` of
    /// `cache.count` read so far. `cache.slots` holds `cache.count` slots
    /// or none, so its length bounds reading.
    current: Chain,
    at: usize,
    /// Entries of the chains read before the current one.
    served: usize,
    /// Chains read already, kept (for a spill that may fail) unless
    /// `release_read` says to free them, and the entries of their partly
    /// filled last blocks, packed.
    read: Vec<Chain>,
    packed: Chain,
    /// Whether the current chain holds every entry of its keys (it is not
    /// one of the pieces of a chain of equal keys).
    current_whole: bool,
    release_read: bool,
    /// Whether `clear` keeps the top digit (see `parted.rs`).
    kept_digit: bool,
    /// Partitioned runs read back through this buffer, and whether there
    /// were any (see `parted.rs`).
    feed: Option<Feed>,
    fed: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T: SegmentRecord> FixedBuffer<T> {
    /// Normalized key bytes at the head of an entry.
    const KEY: usize = T::NORMALIZED_KEY_LEN;
    /// Encoded record bytes.
    const REC: usize = match T::ENCODED_SIZE {
        Some(n) => n,
        None => 0,
    };
    /// Bytes of one entry: at least 16 (the key is read as one `u128`).
    pub(crate) const ENTRY: usize = if Self::REC < 16 { 16 } else { Self::REC };
    const KEY_BITS: u32 = (Self::KEY * 8) as u32;
    /// The "shared bits" a piece of a chain of equal keys is stacked with:
    /// past the key, so it is read in order and never packed.
    const PIECE: u32 = Self::KEY_BITS + 1;
    /// Most bytes the in-cache sort's vectors take per entry of its
    /// capacity: an 8-byte slot, a 16-byte one for keys longer than 8 bytes
    /// (whose slots may not fit 8 bytes), and its counts (up to 8 per
    /// entry, see `charge`).
    const SORT_COST: usize = 8 + if Self::KEY > 8 { 16 } else { 0 } + 32;
    /// Entries per block: a cursor stays inside its block even when the
    /// block is full (so one block past a multiple of the entry size is
    /// left unused).
    const PER_BLOCK: usize = (BLOCK - 1) / Self::ENTRY;

    pub(crate) fn new(reservation: MemoryReservation, sort_thread: bool) -> Self {
        let budget = reservation.capacity();
        let budget_blocks = budget / BLOCK;
        let (cache_blocks, keep, max_len, top_bits);
        if budget_blocks >= 16 * MAX_CACHE_BLOCKS {
            // In-cache sorts of up to `MAX_CACHE_BLOCKS`, and free blocks
            // kept while pushing for the last pushed record and for splits
            // of clustered buckets: a sixteenth of the budget, at least
            // enough for splits nested at every bit of a 96-bit key and at
            // most 4 MiB.
            cache_blocks = MAX_CACHE_BLOCKS;
            keep = (budget_blocks / 16).clamp(128, 1024) + 1;
            max_len = usize::MAX;
            // Top buckets of about half the in-cache capacity when the
            // budget is full, at most one (partly filled) block per 16 of
            // the budget.
            let buckets = (2 * budget_blocks / cache_blocks).min(budget_blocks / 16).clamp(1, 1 << MAX_DIGIT);
            top_bits = usize::BITS - 1 - buckets.leading_zeros();
        } else {
            // A small budget holds one chain, sorted in cache: its entries
            // and their slots and counts share what the sorter's spill page
            // leaves.
            let page_blocks = reservation.page_size() / BLOCK;
            let left = budget_blocks.saturating_sub(2 * page_blocks);
            cache_blocks = (left * Self::ENTRY / (Self::ENTRY + Self::SORT_COST)).clamp(1, MAX_CACHE_BLOCKS);
            keep = 1;
            max_len = cache_blocks * Self::PER_BLOCK;
            top_bits = 0;
        }
        let cache_cap = cache_blocks * Self::PER_BLOCK;
        Self {
            blocks: Blocks::new(reservation),
            cursor: vec![FULL],
            chains: vec![Chain::EMPTY],
            bit: 0,
            digit: 0,
            top_bits,
            map: Vec::new(),
            map_bits: 0,
            bucket_bits: Vec::new(),
            sample: if top_bits == 0 { usize::MAX } else { cache_cap },
            check_at: 0,
            check_value: 0,
            len: 0,
            has_pending: false,
            pending: [0; MAX_ENTRY],
            first: 0,
            diff: 0,
            above: u128::MAX,
            head: false,
            keep,
            cache_cap,
            max_len,
            cache: CacheSort::default(),
            ahead: Vec::new(),
            helper: None,
            read_ahead: Vec::new(),
            sort_thread,
            idle: Vec::new(),
            charged: 0,
            draining: false,
            stack: Vec::new(),
            current: Chain::EMPTY,
            at: 0,
            served: 0,
            read: Vec::new(),
            packed: Chain::EMPTY,
            current_whole: false,
            release_read: false,
            kept_digit: false,
            feed: None,
            fed: false,
            _t: PhantomData,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The key of an entry, big-endian and left-aligned, bits past the key
    /// zero (computed in registers by the derive). Keys of up to 8 bytes
    /// sit in the top `u64`, so digits of them are `u64` shifts.
    #[inline(always)]
    fn key_of(bytes: &[u8]) -> u128 {
        T::normalized_key_word(&bytes[..Self::REC])
    }

    /// `d` (at least 1) bits of key `k` from key bit `bit`.
    #[inline(always)]
    fn digit_of(k: u128, bit: u32, d: u32) -> usize {
        debug_assert!((1..=64).contains(&d) && bit + d <= Self::KEY_BITS);
        // Digits are at most 14 bits: the top 64 bits from `bit` hold them,
        // and the second shift is a `u64` one.
        if Self::KEY <= 8 {
            (((k >> 64) as u64) << bit >> (64 - d)) as usize
        } else {
            ((((k << bit) >> 64) as u64) >> (64 - d)) as usize
        }
    }

    /// The bucket of key `k` under the current digit; with `HEAD`, taken
    /// from the key's top 64 bits alone (see `head`).
    #[inline(always)]
    fn bucket<const HEAD: bool>(&self, k: u128) -> usize {
        if self.map_bits != 0 {
            return Self::map_bucket::<HEAD>(&self.map, self.bit, self.map_bits, k);
        }
        // Without a branch for the one bucket: shifting right by one first
        // keeps the second shift below the width, and leaves no bits when
        // `digit` is 0.
        let (bit, d) = (self.bit, self.digit);
        if Self::KEY <= 8 || HEAD {
            ((((k >> 64) as u64) << bit >> 1) >> (63 - d)) as usize
        } else {
            (((((k << bit) >> 64) as u64) >> 1) >> (63 - d)) as usize
        }
    }

    /// Seals every bucket, ready to sort or read.
    fn seal_all(&mut self) {
        for (cursor, chain) in self.cursor.iter_mut().zip(&mut self.chains) {
            Self::seal_tail(&mut self.blocks, cursor, chain);
        }
    }

    /// Stops reading in order and makes every entry (read or not) one
    /// unsorted chain again, as pushed: after a run failed to spill, so
    /// pushing (and sorting) can go on with nothing lost. Chains are linked
    /// in key order of their buckets and equal keys always share a chain in
    /// push order, so a later sort keeps them stable.
    pub(crate) fn restore(&mut self) {
        if !self.draining {
            return;
        }
        self.stop_helper();
        let mut all = Chain::EMPTY;
        let read = core::mem::take(&mut self.read);
        let current = core::mem::replace(&mut self.current, Chain::EMPTY);
        let stack = core::mem::take(&mut self.stack);
        let packed = core::mem::replace(&mut self.packed, Chain::EMPTY);
        let rest = stack.into_iter().rev().map(|(c, _)| c).chain([packed]);
        for chain in read.into_iter().chain([current]).chain(rest) {
            all = self.blocks.concat(all, chain);
        }
        self.chains = vec![all];
        self.cursor = vec![FULL];
        self.bit = 0;
        self.digit = 0;
        self.map_bits = 0;
        self.update_head();
        self.at = 0;
        self.cache.count = 0;
        self.served = 0;
        self.cache.slots.clear();
        self.draining = false;
    }

    /// Gets the entries ready to be read in key order (equal keys in push
    /// order) by [`next_record`](Self::next_record): each bucket is sorted
    /// as reading reaches it.
    pub(crate) fn sort(&mut self) -> Result<(), SortError> {
        if self.draining {
            return Ok(());
        }
        if self.has_pending && !self.place_pending(0)? {
            // Unreachable while `keep` > 0 blocks stay free for this.
            return Err(self.exhausted().into());
        }
        self.seal_all();
        let chains = core::mem::take(&mut self.chains);
        self.stack.clear();
        let shared = self.diff.leading_zeros().min(Self::KEY_BITS);
        if shared < self.bit {
            // A key differs above the top digit: the buckets are not in key
            // order. Equal keys share a bucket, so linking them in bucket
            // order keeps each key's push order.
            let all = chains.iter().fold(Chain::EMPTY, |a, &c| self.blocks.concat(a, c));
            self.stack.push((all, shared));
        } else if self.map_bits != 0 {
            let bits = &self.bucket_bits;
            self.stack
                .extend(chains.iter().zip(bits).rev().filter(|(c, _)| c.len > 0).map(|(&c, &b)| (c, b)));
        } else {
            let bit = self.bit + self.digit;
            self.stack.extend(chains.iter().rev().filter(|c| c.len > 0).map(|&c| (c, bit)));
        }
        self.current = Chain::EMPTY;
        self.at = 0;
        self.cache.count = 0;
        self.served = 0;
        self.cache.slots.clear();
        self.draining = true;
        self.check_at = 0;
        self.check_value = 0;
        Ok(())
    }

    /// Frees each chain once read (for a buffer read only once, in memory),
    /// and starts the helper thread (see `start_helper`).
    pub(crate) fn release_when_read(&mut self) {
        self.release_read = true;
        self.start_helper();
    }

    /// Starts the helper thread that sorts the chains read next (see
    /// `helper.rs`), its jobs' vectors charged, when the stack holds enough
    /// chains to keep it busy and a second core is there. Only for a buffer
    /// read once in memory: while runs spill, the spill's writer thread
    /// already has the other core. Without it (the budget or the system
    /// refuses) reading just goes on alone.
    fn start_helper(&mut self) {
        if !self.sort_thread
            || self.helper.is_some()
            || self.stack.len() < helper::MIN_CHAINS
            || std::thread::available_parallelism().map_or(true, |n| n.get() < 2)
        {
            return;
        }
        if self.idle.is_empty() {
            let sizes = self.cache_sizes();
            let bytes = self.helper_bytes();
            if self.blocks.reservation().try_grow(bytes).is_err() {
                return;
            }
            self.charged += bytes;
            self.idle = (0..helper::LOOKAHEAD)
                .map(|_| Job::new(CacheSort::with_capacity(sizes), Lent::with_capacity(sizes.list)))
                .collect();
            self.read_ahead = Vec::with_capacity(sizes.list);
        }
        match Helper::start(Self::run_job, core::mem::take(&mut self.idle)) {
            Ok(helper) => self.helper = Some(helper),
            Err(jobs) => self.idle = jobs,
        }
    }

    /// Stops the helper, if any, and puts the chains handed to it back on
    /// the stack, so nothing is lost and no block is read any more.
    fn stop_helper(&mut self) {
        let Some(mut helper) = self.helper.take() else { return };
        for job in helper.stop().into_iter().rev() {
            self.stack.push((job.chain, job.bit));
            self.idle.push(job);
        }
        self.idle.extend(helper.take_spare());
        self.read_ahead.clear();
    }

    /// Sorts a job's chain (on the helper thread, or on this one when it
    /// comes to the job first), prefetching its own blocks ahead: the
    /// chain sorted after it may be sorted on the other thread.
    fn run_job(job: &mut Job) {
        let (n, bit) = (job.chain.len, job.bit);
        Self::sort_chain(&mut job.cache, &job.lent, n, bit, &[]);
    }

    /// The next record's bytes in key order (`sort` first). Always inlined:
    /// the stream's read loop is this and the caller's own work.
    #[inline(always)]
    pub(crate) fn next_record(&mut self) -> Result<Option<&[u8]>, SortError> {
        debug_assert!(self.draining);
        if let Some(&base) = self.read_ahead.get(self.at >> LINES_SHIFT) {
            let at = base + (self.at & ((1 << LINES_SHIFT) - 1)) * LINE;
            crate::sort::prefetch::prefetch_l2(core::ptr::without_provenance(at));
        }
        if Self::KEY <= 8 {
            // One check for both the chain's end and the slot's index.
            let slot = match self.cache.slots.get(self.at) {
                Some(&slot) => slot,
                _ => {
                    if !self.next_chain()? {
                        return Ok(None);
                    }
                    self.cache.slots[0]
                }
            };
            self.at += 1;
            let pos = self.entry_at(cache::Slot::reference(slot, self.cache.ref_mask));
            return Ok(Some(self.blocks.bytes(pos, Self::REC)));
        }
        if self.at == self.cache.count && !self.next_chain()? {
            return Ok(None);
        }
        let pos = self.entry_at(self.cache.reference(self.at));
        self.at += 1;
        Ok(Some(self.blocks.bytes(pos, Self::REC)))
    }

    /// Records not read yet (once reading in order).
    pub(crate) fn remaining(&self) -> usize {
        self.len - self.served - self.at + self.unloaded()
    }

    /// Where the entry a slot reference `r` names is.
    #[inline(always)]
    pub(super) fn entry_at(&self, r: usize) -> usize {
        Blocks::start(self.cache.list[r >> cache::INDEX_BITS]) + (r & cache::INDEX_MASK) * Self::ENTRY
    }

    /// The sizes of an in-cache sort's vectors (see
    /// [`CacheSort::with_capacity`]): 8-byte slots, 16-byte ones for keys
    /// over 8 bytes, kept keys, counts, the block list.
    fn cache_sizes(&self) -> cache::Sizes {
        // The in-cache digit has up to `log2(len) + 2` bits.
        let counts = (4 * self.cache_cap.next_power_of_two()).min(1 << cache::MAX_CACHE_DIGIT) + 1;
        // A chain of `cache_cap` entries spans its full blocks plus, when
        // the buckets were linked into one (sorted input, a restore), one
        // partly filled block per bucket (a mapped digit has no more
        // buckets than the plain one, see `top.rs`).
        let list = (2 * self.cache_cap / Self::PER_BLOCK + (1 << self.top_bits) + 2).min(self.cache_cap + 1);
        let wide = if Self::KEY > 8 { self.cache_cap } else { 0 };
        let kept = if self.top_bits > 0 { wide } else { 0 };
        cache::Sizes { slots: self.cache_cap, list, wide, kept, counts }
    }

    /// Allocates the in-cache sort's vectors and the mapped top digit's
    /// table, and charges them to the reservation, once: reading allocates
    /// nothing per chain. The bucket vectors, reallocated per scatter, are
    /// charged at their largest.
    fn charge(&mut self) -> Result<(), MemoryError> {
        let sizes = self.cache_sizes();
        // The mapped top digit's table, at budgets with top buckets: charged
        // whether it is used or not, so what fits hardly depends on the keys.
        let map =
            if self.top_bits > 0 { 1 << Self::map_width(self.blocks.reservation().capacity()) } else { 0 };
        // Bucket cursors and chains (and a mapped digit's shared bits) of
        // the top digit, and a split's sub-chains.
        let buckets = if self.top_bits > 0 { (1 << self.top_bits) + (1 << MAX_DIGIT) } else { 1 };
        let per_bucket = size_of::<usize>() + size_of::<Chain>() + size_of::<u32>();
        // The prefetch hints span at most the list of a chain.
        let bytes = CacheSort::bytes(sizes) + sizes.list * 8 + map * 8 + buckets * per_bucket;
        self.blocks.reservation().try_grow(bytes)?;
        self.charged = bytes;
        self.cache = CacheSort::with_capacity(sizes);
        self.ahead = Vec::with_capacity(sizes.list);
        self.map = vec![0; map];
        self.bucket_bits = Vec::with_capacity(if self.top_bits > 0 { 1 << self.top_bits } else { 0 });
        Ok(())
    }

    /// Forgets the entries, keeping the pages for the next run (and the
    /// top digit, when `keep_digit` says so).
    pub(crate) fn clear(&mut self) {
        self.stop_helper();
        self.blocks.release_all();
        self.feed = None;
        self.fed = false;
        self.release_read = false;
        self.len = 0;
        self.has_pending = false;
        self.diff = 0;
        self.draining = false;
        self.stack.clear();
        self.read.clear();
        self.packed = Chain::EMPTY;
        self.current = Chain::EMPTY;
        self.at = 0;
        self.cache.count = 0;
        self.served = 0;
        self.cache.slots.clear();
        self.check_at = 0;
        self.check_value = 0;
        if self.digit_kept() {
            // Later keys are placed by the same digit, their differing bits
            // taken against the same first key (see `parted.rs`).
            let buckets = if self.map_bits != 0 { self.bucket_bits.len() } else { 1 << self.digit };
            self.cursor = vec![FULL; buckets];
            self.chains = vec![Chain::EMPTY; buckets];
            return;
        }
        self.above = u128::MAX;
        self.head = false;
        self.first = 0;
        self.bit = 0;
        self.digit = 0;
        self.map_bits = 0;
        self.cursor = vec![FULL];
        self.chains = vec![Chain::EMPTY];
        self.sample = if self.top_bits == 0 { usize::MAX } else { self.cache_cap };
    }
}

impl<T> Drop for FixedBuffer<T> {
    fn drop(&mut self) {
        // The helper reads blocks: it stops before the pages go.
        drop(self.helper.take());
        self.blocks.reservation().shrink(self.charged);
    }
}
