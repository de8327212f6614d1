//! Steady state makes no heap allocation per record (DESIGN §5, "Memory").
//!
//! A counting `#[global_allocator]` wraps the system allocator and counts
//! allocation events (`alloc`, `alloc_zeroed`, `realloc`) of the current
//! thread only, so the test harness's other threads cannot pollute a count.
//! Every scenario first warms up (pages are taken, scratch buffers grow to
//! their working size), then measures `M` more records and asserts a bound:
//! zero where nothing legitimately allocates, and a bound in pages or spill
//! runs (never in records) where a new page or a new run file does.
//!
//! All scenarios run in one `#[test]`, one after the other, so that their
//! counts are easy to read together in the output (`--nocapture`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use segrec::frame::{read_record, write_record};
use segrec::operators::join::{HashJoin, JoinError, JoinType, MergeJoin, RecordSource};
use segrec::prelude::*;
use segrec::{ByteSink, ByteSource, MemoryManager, PagedWriter, SpillWriter};

struct Counting;

thread_local! {
    /// Allocation events of this thread. A `const` initialiser and a type
    /// without `Drop` keep the slot free of lazy initialisation and
    /// destructors, so the allocator may touch it at any time.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: during thread teardown the slot may be gone; such
    // allocations are not the ones under test.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments and
// only adds a counter update, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: as for `alloc`; `ptr` came from this allocator, i.e. `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Runs `f` and returns its result with the allocations it made.
fn counted<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = allocations();
    let r = f();
    (r, allocations() - before)
}

/// Records measured after warm-up, per scenario.
const M: usize = 20_000;
/// Records of warm-up.
const WARM: usize = 2_000;
const PAGE: usize = 4096;

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
struct Row {
    #[segment(key)]
    id: u64,
    #[segment(key, desc)]
    delta: i32,
    #[segment(key)]
    name: String,
    price: f64,
    flag: bool,
    discount: Option<f32>,
    #[segment(key, nulls_last)]
    note: Option<String>,
}

/// Fixed-size: framed without a length prefix, keys without a tie-break.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
struct Fixed {
    #[segment(key)]
    key: u64,
    value: i32,
    ratio: f64,
    ok: bool,
    maybe: Option<u32>,
}

/// An embedded record whose key holds a string: the parent's normalized key
/// runs the nested key through a truncating cursor.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
struct Inner {
    #[segment(key)]
    city: String,
    #[segment(key)]
    zip: u32,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
struct Outer {
    #[segment(key)]
    inner: Inner,
    #[segment(key, desc)]
    rank: u16,
    payload: String,
}

/// A generic parameter standing for a `String` key part.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
struct Keyed<K> {
    #[segment(key)]
    k: K,
    #[segment(key)]
    n: u32,
}

/// xorshift64*: the same rows in every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn word(rng: &mut Rng, max: usize) -> String {
    let len = (rng.next() % max as u64) as usize;
    (0..len).map(|_| (b'a' + (rng.next() % 26) as u8) as char).collect()
}

fn big(i: usize) -> bool {
    i % 1000 == 999
}

/// Rows are made before any count starts: building them allocates.
fn rows(n: usize, seed: u64) -> Vec<Row> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| Row {
            id: rng.next() % 1000,
            delta: rng.next() as i32,
            // Every 1000th row is longer than a page: it spans pages and goes
            // through scratch buffers, which the first one (in the warm-up)
            // grows to size.
            name: if big(i) { "x".repeat(PAGE + 100) } else { word(&mut rng, 24) },
            price: rng.next() as f64 / 7.0,
            flag: i % 3 == 0,
            discount: (i % 2 == 0).then_some(i as f32 * 0.5),
            note: (i % 4 != 0 && !big(i)).then(|| word(&mut rng, 40)),
        })
        .collect()
}

fn fixed_rows(n: usize, seed: u64) -> Vec<Fixed> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| Fixed {
            key: rng.next(),
            value: rng.next() as i32,
            ratio: rng.next() as f64,
            ok: i % 2 == 0,
            maybe: (i % 3 != 0).then_some(i as u32),
        })
        .collect()
}

fn manager(budget: usize, spill: &std::path::Path) -> MemoryManager {
    MemoryManager::builder()
        .budget(budget)
        .page_size(PAGE)
        .preallocate(true)
        .spill_dir(spill)
        .build()
        .unwrap()
}

/// The measured counts against their bounds; every scenario runs before
/// the test fails, so one run shows all of them.
#[derive(Default)]
struct Checks {
    failed: Vec<String>,
}

impl Checks {
    /// Records that `allocs` allocations were made for `records` records,
    /// where at most `bound` are allowed.
    fn at_most(&mut self, name: &str, records: usize, allocs: u64, bound: u64) {
        let verdict = if allocs <= bound { "ok" } else { "TOO MANY" };
        println!("{name:<48} {allocs:>6} allocations / {records:>6} records (bound {bound:>3}) {verdict}");
        if allocs > bound {
            self.failed.push(format!("{name}: {allocs} allocations for {records} records, bound {bound}"));
        }
    }
}

/// Bits needed to write `n`: how many times a vector doubling from one
/// element grows to hold `n`, plus one.
fn doublings(n: usize) -> u64 {
    u64::from(usize::BITS - n.leading_zeros())
}

/// Buffers the caller owns and reuses from record to record.
struct Scratch {
    buf: Vec<u8>,
    prev: Vec<u8>,
    prev_len: usize,
    norm: Vec<u8>,
    key: Vec<u8>,
}

impl Scratch {
    fn new() -> Self {
        Self {
            buf: vec![0; 4 * PAGE],
            prev: vec![0; 4 * PAGE],
            prev_len: 0,
            norm: vec![0; 256],
            key: Vec::new(),
        }
    }
}

/// Encode into a reused buffer, view, getters, keys: all of it on bytes the
/// caller owns, so nothing may allocate.
fn derive_roundtrip<T: SegmentRecord>(
    s: &mut Scratch,
    records: &[T],
    touch: impl Fn(T::Ref<'_>) -> u64,
) -> u64 {
    let mut acc = 0u64;
    for r in records {
        let n = r.encode(&mut s.buf).unwrap();
        let bytes = &s.buf[..n];
        let prev = &s.prev[..s.prev_len];
        let v = T::view(bytes).unwrap();
        acc = acc.wrapping_add(touch(v));
        acc = acc.wrapping_add(T::compare_key(bytes, prev) as i8 as u64);
        acc = acc.wrapping_add(u64::from(T::key_eq(bytes, prev)));
        acc = acc.wrapping_add(T::hash_key(bytes, 42));
        T::write_normalized_key(bytes, &mut s.norm[..T::NORMALIZED_KEY_LEN]);
        acc = acc.wrapping_add(u64::from(s.norm[0]));
        s.key.clear();
        T::write_key(bytes, &mut s.key);
        acc = acc.wrapping_add(s.key.len() as u64);
        acc = acc.wrapping_add(T::record_len(bytes).unwrap() as u64);
        // None of these records embeds a key with `Option` parts, so the
        // trait's default logic is the oracle.
        let null = T::key_has_null(bytes);
        assert_eq!(null, T::LAYOUT.key_field_is_null(bytes), "key_has_null");
        acc = acc.wrapping_add(u64::from(null));
        s.prev[..n].copy_from_slice(bytes);
        s.prev_len = n;
    }
    acc
}

fn touch_row(v: RowRef<'_>) -> u64 {
    let mut acc = v.id() ^ v.delta() as u64 ^ v.price().to_bits() ^ u64::from(v.flag());
    acc ^= v.discount().map_or(0, |d| u64::from(d.to_bits()));
    acc ^= v.name().len() as u64 + v.note().map_or(0, str::len) as u64;
    acc ^= v.name().bytes().map(u64::from).sum::<u64>();
    acc
}

/// Frames `rows` into `sink`.
fn write_rows<W: ByteSink>(sink: &mut W, rows: &[Row])
where
    W::Error: std::fmt::Debug,
{
    for r in rows {
        write_record(sink, r).unwrap();
    }
}

/// Reads `WARM` framed rows from `source`, then the rest counted, viewing
/// and touching each; checks the rest was `M` rows and returns the
/// allocations of reading them.
fn read_counted<S: ByteSource>(source: &mut S) -> u64
where
    S::Error: std::fmt::Debug,
{
    for _ in 0..WARM {
        read_record::<Row, _>(source).unwrap().unwrap();
    }
    let (n, allocs) = counted(|| {
        let mut n = 0;
        while let Some(bytes) = read_record::<Row, _>(source).unwrap() {
            black_box(touch_row(Row::view(bytes).unwrap()));
            n += 1;
        }
        n
    });
    assert_eq!(n, M);
    allocs
}

fn scenario_derive(checks: &mut Checks) {
    let mut scratch = Scratch::new();
    let data = rows(WARM + M, 1);
    let (warm, hot) = data.split_at(WARM);
    derive_roundtrip(&mut scratch, warm, touch_row);
    let (acc, allocs) = counted(|| derive_roundtrip(&mut scratch, hot, touch_row));
    black_box(acc);
    checks.at_most("derive Row: encode/view/getters/keys", M, allocs, 0);

    let data = fixed_rows(WARM + M, 2);
    let (warm, hot) = data.split_at(WARM);
    let touch = |v: FixedRef<'_>| v.key() ^ v.value() as u64 ^ v.ratio().to_bits() ^ u64::from(v.ok());
    derive_roundtrip(&mut scratch, warm, touch);
    let (acc, allocs) = counted(|| derive_roundtrip(&mut scratch, hot, touch));
    black_box(acc);
    checks.at_most("derive Fixed: encode/view/getters/keys", M, allocs, 0);

    let mut rng = Rng(3);
    let data: Vec<Outer> = (0..WARM + M)
        .map(|i| Outer {
            inner: Inner { city: word(&mut rng, 30), zip: rng.next() as u32 },
            rank: i as u16,
            payload: word(&mut rng, 10),
        })
        .collect();
    let (warm, hot) = data.split_at(WARM);
    let touch =
        |v: OuterRef<'_>| v.inner().city().len() as u64 ^ u64::from(v.inner().zip() ^ u32::from(v.rank()));
    derive_roundtrip(&mut scratch, warm, touch);
    let (acc, allocs) = counted(|| derive_roundtrip(&mut scratch, hot, touch));
    black_box(acc);
    checks.at_most("derive Outer (embedded string key)", M, allocs, 0);

    let data: Vec<Keyed<String>> =
        (0..WARM + M).map(|i| Keyed { k: word(&mut rng, 30), n: i as u32 }).collect();
    let (warm, hot) = data.split_at(WARM);
    let touch = |v: KeyedRef<'_, String>| v.k().len() as u64 ^ u64::from(v.n());
    derive_roundtrip(&mut scratch, warm, touch);
    let (acc, allocs) = counted(|| derive_roundtrip(&mut scratch, hot, touch));
    black_box(acc);
    checks.at_most("derive Keyed<String> (generic string key)", M, allocs, 0);
}

/// Paged writer and reader over a preallocated budget: pages come from the
/// pool (no system allocation), but the writer's page list is a `Vec<Page>`
/// that grows by doubling, so at most one allocation per page.
fn scenario_paged(checks: &mut Checks) {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(64 << 20, dir.path());
    let data = rows(WARM + M, 4);
    let (warm, hot) = data.split_at(WARM);
    let mut buf = vec![0u8; 4 * PAGE];

    // `write`: already encoded bytes.
    let mut writer = PagedWriter::new(memory.reservation("paged"));
    for r in warm {
        let n = r.encode(&mut buf).unwrap();
        writer.write(&buf[..n]).unwrap();
    }
    let pages_before = writer.pages().len();
    let ((), allocs) = counted(|| {
        for r in hot {
            let n = r.encode(&mut buf).unwrap();
            writer.write(&buf[..n]).unwrap();
        }
    });
    // Pages come from the preallocated pool; only the writer's page list
    // grows, by doubling.
    let pages = writer.pages().len();
    let name = format!("PagedWriter::write ({} new pages)", pages - pages_before);
    checks.at_most(&name, M, allocs, doublings(pages));

    // `read`: lent from the page or assembled in the reader's scratch.
    let mut reader = writer.reader();
    let mut lens = Vec::with_capacity(WARM + M);
    for r in &data {
        lens.push(r.encoded_len());
    }
    for &n in &lens[..WARM] {
        black_box(Row::view(reader.read(n).unwrap()).unwrap().id());
    }
    let ((), allocs) = counted(|| {
        for &n in &lens[WARM..] {
            black_box(touch_row(Row::view(reader.read(n).unwrap()).unwrap()));
        }
    });
    checks.at_most("PagedReader::read + view", M, allocs, 0);
    drop(reader);
    drop(writer);

    // `write_with` through the record framing, then `read_record`.
    let mut writer = PagedWriter::new(memory.reservation("framed"));
    write_rows(&mut writer, warm);
    let pages_before = writer.pages().len();
    let ((), allocs) = counted(|| write_rows(&mut writer, hot));
    // Pages come from the preallocated pool; only the writer's page list
    // grows, by doubling.
    let pages = writer.pages().len();
    let name = format!("frame::write_record to pages ({} new pages)", pages - pages_before);
    checks.at_most(&name, M, allocs, doublings(pages));

    let mut reader = writer.reader();
    let allocs = read_counted(&mut reader);
    checks.at_most("frame::read_record from pages + view", M, allocs, 0);
    drop(reader);

    // A reused writer (`reset`) keeps its page list's capacity.
    writer.reset();
    let ((), allocs) = counted(|| write_rows(&mut writer, hot));
    let name = format!("write_record after reset ({} pages)", writer.pages().len());
    checks.at_most(&name, M, allocs, 0);
}

/// Spill files: a staging page and a read buffer, both taken at creation;
/// writing and reading records touches neither the heap nor the pool.
fn scenario_spill(checks: &mut Checks) {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(1 << 20, dir.path());
    let reservation = memory.reservation("spill");
    let data = rows(WARM + M, 5);
    let (warm, hot) = data.split_at(WARM);

    let mut writer = SpillWriter::new(&reservation).unwrap();
    write_rows(&mut writer, warm);
    let ((), allocs) = counted(|| write_rows(&mut writer, hot));
    checks.at_most("SpillWriter: write_record (write_with)", M, allocs, 0);
    let file = writer.finish().unwrap();

    let mut reader = file.reader(&reservation, 1).unwrap();
    let allocs = read_counted(&mut reader);
    checks.at_most("SpillReader: read_record (read_bytes) + view", M, allocs, 0);
    drop(reader);
    drop(file);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "spill files left behind");
}

/// Sorter: pushing into memory, reading back from memory and from a merge.
fn scenario_sort(checks: &mut Checks) {
    let dir = tempfile::tempdir().unwrap();

    // In memory: records go into pooled pages and the index, whose capacity
    // doubles (one allocation per doubling, charged to the budget).
    let memory = manager(64 << 20, dir.path());
    let data = rows(WARM + M, 6);
    let (warm, hot) = data.split_at(WARM);
    let mut sorter = Sorter::<Row>::new(&memory).unwrap();
    for r in warm {
        sorter.push(r).unwrap();
    }
    let ((), allocs) = counted(|| {
        for r in hot {
            sorter.push(r).unwrap();
        }
    });
    // Pages come from the pool; the index and the page list grow by doubling.
    let growths = doublings(WARM + M) - doublings(WARM) + 1;
    checks.at_most("Sorter::push in memory", M, allocs, 2 * growths);

    let mut sorted = sorter.finish().unwrap();
    assert!(sorted.is_in_memory());
    for _ in 0..WARM {
        black_box(sorted.next_ref().unwrap().unwrap().id());
    }
    let (n, allocs) = counted(|| {
        let mut n = 0;
        while let Some(v) = sorted.next_ref().unwrap() {
            black_box(touch_row(v));
            n += 1;
        }
        n
    });
    assert_eq!(n, M);
    checks.at_most("SortedStream::next_ref from memory", M, allocs, 0);
    drop(sorted);
    drop(memory);

    // Spilling: a 256 KiB budget holds a few thousand rows per run.
    let memory = manager(256 << 10, dir.path());
    let data = rows(WARM + 3 * M, 7);
    let (warm, hot) = data.split_at(WARM);
    let mut sorter = Sorter::<Row>::new(&memory).unwrap();
    for r in warm {
        sorter.push(r).unwrap();
    }
    let runs_before = sorter.spilled_runs();
    let ((), allocs) = counted(|| {
        for r in hot {
            sorter.push(r).unwrap();
        }
    });
    let runs = (sorter.spilled_runs() - runs_before) as u64;
    assert!(runs >= 5, "the budget is small enough to spill");
    // Per run: the spill file (temp path, file handle), the run list, the
    // exhaustion errors that signal "spill now". Never per record.
    checks.at_most(&format!("Sorter::push spilling ({runs} new runs)"), hot.len(), allocs, 32 * runs);

    let mut sorted = sorter.finish().unwrap();
    assert!(!sorted.is_in_memory());
    for _ in 0..WARM {
        black_box(sorted.next_ref().unwrap().unwrap().id());
    }
    let (n, allocs) = counted(|| {
        let mut n = 0;
        while let Some(v) = sorted.next_ref().unwrap() {
            black_box(touch_row(v));
            n += 1;
        }
        n
    });
    assert_eq!(n, 3 * M);
    // Run heads grow to the longest record seen (power-of-two capacity);
    // after warm-up a longer record than any before may still grow one.
    checks.at_most("SortedStream::next_ref from a merge", n, allocs, runs + 1);
    drop(sorted);
    assert!(memory.stats().peak <= memory.budget());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "spill files left behind");
}

/// The build side of the joins: one row per key.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
struct Dim {
    #[segment(key)]
    id: u64,
    label: String,
}

/// The probe side: keys `0..KEYS`, each matching one `Dim`.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
struct Fact {
    #[segment(key)]
    id: u64,
    qty: i32,
    note: String,
}

const KEYS: u64 = 2_000;

/// A join input of pre-encoded records that notes the allocation count when
/// the warm-up is over and when the input ends, so that only the probe (or
/// merge) of the measured records is counted, not the build or the end.
struct Measured<'a> {
    records: std::slice::Iter<'a, Vec<u8>>,
    read: usize,
    start: Option<u64>,
    end: Option<u64>,
}

impl<'a> Measured<'a> {
    fn new(records: &'a [Vec<u8>]) -> Self {
        Self { records: records.iter(), read: 0, start: None, end: None }
    }

    fn allocations(&self) -> u64 {
        self.end.unwrap() - self.start.unwrap()
    }
}

impl<T: SegmentRecord> RecordSource<T> for Measured<'_> {
    fn next_record(&mut self) -> Result<Option<&[u8]>, JoinError> {
        if self.read == WARM {
            self.start = Some(allocations());
        }
        self.read += 1;
        let next = self.records.next().map(Vec::as_slice);
        if next.is_none() && self.end.is_none() {
            self.end = Some(allocations());
        }
        Ok(next)
    }
}

fn encoded<T: SegmentRecord>(records: &[T]) -> Vec<Vec<u8>> {
    records
        .iter()
        .map(|r| {
            let mut buf = vec![0; r.encoded_len()];
            r.encode(&mut buf).unwrap();
            buf
        })
        .collect()
}

/// Joins: the hash join's probe and the merge join's merge, each fed by a
/// [`Measured`] input, results lent to a callback as views.
fn scenario_join(checks: &mut Checks) {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(16 << 20, dir.path());
    let mut rng = Rng(8);
    let dims: Vec<Dim> = (0..KEYS).map(|id| Dim { id, label: word(&mut rng, 60) }).collect();
    let facts: Vec<Fact> = (0..WARM + M)
        .map(|i| Fact { id: rng.next() % KEYS, qty: i as i32, note: word(&mut rng, 20) })
        .collect();
    let fact_bytes = encoded(&facts);

    // Hash join, build in memory, probe.
    let mut join = HashJoin::<Fact, Dim>::new(&memory, JoinType::Inner).unwrap();
    for d in &dims {
        join.push(d).unwrap();
    }
    let mut probe = Measured::new(&fact_bytes);
    let mut matches = 0u64;
    join.probe(&mut probe)
        .unwrap()
        .for_each(|l: Option<FactRef<'_>>, r: Option<DimRef<'_>>| -> Result<(), JoinError> {
            let (l, r) = (l.unwrap(), r.unwrap());
            matches += 1;
            black_box(l.note().len() + r.label().len());
            Ok(())
        })
        .unwrap();
    assert_eq!(matches, (WARM + M) as u64);
    checks.at_most("HashJoin probe in memory, views", M, probe.allocations(), 0);

    // Hash join whose build spills: probe rows of spilled partitions are
    // written to their spill files (counted); joining the spilled pairs
    // afterwards happens after the input ends (not counted).
    let small = manager(256 << 10, dir.path());
    let big_dims: Vec<Dim> = (0..KEYS).map(|id| Dim { id, label: word(&mut rng, 400) }).collect();
    let mut join = HashJoin::<Fact, Dim>::new(&small, JoinType::Inner).unwrap();
    for d in &big_dims {
        join.push(d).unwrap();
    }
    let mut probe = Measured::new(&fact_bytes);
    let mut matches = 0u64;
    let stats = join
        .probe(&mut probe)
        .unwrap()
        .for_each_with_stats(|l: Option<FactRef<'_>>, r: Option<DimRef<'_>>| -> Result<(), JoinError> {
            matches += 1;
            black_box(l.unwrap().note().len() + r.unwrap().label().len());
            Ok(())
        })
        .unwrap();
    assert_eq!(matches, (WARM + M) as u64);
    assert!(small.stats().spill_files > 0, "the build spilled: {stats:?}");
    // Build rows that straddle two pages are read through buffers kept
    // across probes (`PagedReader::with_scratch`): no allocation either.
    checks.at_most("HashJoin probe, build spilled, views", M, probe.allocations(), 0);

    // Merge join of both sides sorted on the key.
    let mut sorted_facts = facts.clone();
    sorted_facts.sort_by_key(|f| f.id);
    let sorted_bytes = encoded(&sorted_facts);
    let dim_bytes = encoded(&dims);
    let mut left = Measured::new(&sorted_bytes);
    let right = segrec::operators::join::EncodedRecords::<Dim, _>::new(dim_bytes.iter().map(Vec::as_slice));
    let mut matches = 0u64;
    MergeJoin::<Fact, Dim, _, _>::new(&memory, JoinType::Inner, &mut left, right)
        .unwrap()
        .for_each(|l: Option<FactRef<'_>>, r: Option<DimRef<'_>>| -> Result<(), JoinError> {
            matches += 1;
            black_box(l.unwrap().note().len() + r.unwrap().label().len());
            Ok(())
        })
        .unwrap();
    assert_eq!(matches, (WARM + M) as u64);
    checks.at_most("MergeJoin merge (1:N groups), views", M, left.allocations(), 0);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "spill files left behind");
}

#[test]
fn steady_state_makes_no_allocation_per_record() {
    // The counter itself: one allocation is seen, another thread's are not.
    let ((), n) = counted(|| drop(black_box(Box::new(1u64))));
    assert_eq!(n, 1);
    let ((), n) = counted(|| {
        std::thread::scope(|s| {
            s.spawn(|| (0..1000).for_each(|i| drop(black_box(Box::new(i)))));
        });
    });
    assert!(n < 100, "{n}: the other thread's allocations were counted here");

    let mut checks = Checks::default();
    scenario_derive(&mut checks);
    scenario_paged(&mut checks);
    scenario_spill(&mut checks);
    scenario_sort(&mut checks);
    scenario_join(&mut checks);
    assert!(checks.failed.is_empty(), "allocations per record:\n{}", checks.failed.join("\n"));
}
