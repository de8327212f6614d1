//! Sort-merge join of two inputs sorted on the key.
//!
//! The classic merge of Blasgen and Eswaran (1977), with Flink's handling of
//! N:M key groups (`AbstractMergeIterator` / `SpillingResettableIterator`):
//! both inputs advance in key order, comparing canonical key bytes
//! ([`SegmentRecord::write_key`]); on equal keys the whole right group of that
//! key is buffered in pages and replayed for every left row of the key. A
//! group larger than the budget is spilled to a file and replayed from disk.
//!
//! Each input's keys are checked to never decrease: an unsorted input is a
//! [`JoinError::Unsorted`], not a wrong result.

use core::fmt;
use core::marker::PhantomData;

use segrec_core::{
    MemoryError, MemoryManager, MemoryReservation, Page, PagedReader, PagedWriter, RecordPointer,
    SegmentRecord, SpillFile, SpillReader, SpillWriter,
};

use super::error::{JoinError, Side};
use super::frame;
use super::output::{self, OwnedJoin, Stepper};
use super::source::RecordSource;
use super::types::JoinType;

/// Fewest budget pages a merge join works with.
const MIN_PAGES: usize = 4;

/// The current row of one input.
#[derive(Default)]
struct Cursor {
    row: Vec<u8>,
    key: Vec<u8>,
    prev: Vec<u8>,
    valid: bool,
    null: bool,
    index: u64,
}

impl Cursor {
    fn advance<T: SegmentRecord, S: RecordSource<T>>(
        &mut self,
        src: &mut S,
        side: Side,
    ) -> Result<(), JoinError> {
        core::mem::swap(&mut self.key, &mut self.prev);
        let had_prev = self.valid;
        match src.next_record()? {
            None => self.valid = false,
            Some(rec) => {
                self.row.clear();
                self.row.extend_from_slice(rec);
                self.key.clear();
                T::write_key(rec, &mut self.key);
                if had_prev && self.key < self.prev {
                    return Err(JoinError::Unsorted { side, index: self.index });
                }
                self.null = T::key_has_null(rec);
                self.valid = true;
                self.index += 1;
            }
        }
        Ok(())
    }
}

/// The right rows of one key.
struct Group {
    pages: PagedWriter,
    spill: Option<SpillWriter>,
    file: Option<SpillFile>,
    key: Vec<u8>,
}

enum State {
    Compare,
    /// Replaying the group for the current left row from byte `pos` (or
    /// from `reader` when the group spilled).
    Replay {
        pos: u64,
        reader: Option<SpillReader>,
    },
}

/// A sort-merge join of a left input and a right input, both sorted on the
/// key. Drive it with [`for_each`](Self::for_each) or
/// [`into_owned`](Self::into_owned).
pub struct MergeJoin<L, R, A, B> {
    res: MemoryReservation,
    jt: JoinType,
    left: A,
    right: B,
    l: Cursor,
    r: Cursor,
    group: Group,
    reserve: Option<Page>,
    state: State,
    scratch: Vec<u8>,
    _t: PhantomData<fn() -> (L, R)>,
}

impl<L, R, A, B> fmt::Debug for MergeJoin<L, R, A, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MergeJoin").field("join_type", &self.jt).finish_non_exhaustive()
    }
}

impl<L, R, A, B> MergeJoin<L, R, A, B>
where
    L: SegmentRecord,
    R: SegmentRecord,
    A: RecordSource<L>,
    B: RecordSource<R>,
{
    /// A merge join of type `jt` of `left` and `right`, both sorted on the
    /// key (ascending canonical key, as a [`Sorter`] emits).
    ///
    /// # Errors
    ///
    /// [`JoinError::BudgetTooSmall`] below 4 pages, or the inputs' first
    /// reads failing.
    ///
    /// [`Sorter`]: crate
    pub fn new(memory: &MemoryManager, jt: JoinType, left: A, right: B) -> Result<Self, JoinError> {
        if memory.budget() / memory.page_size() < MIN_PAGES {
            return Err(JoinError::BudgetTooSmall {
                budget: memory.budget(),
                needed: MIN_PAGES * memory.page_size(),
            });
        }
        let res = memory.reservation("merge-join");
        let reserve = Some(res.allocate_page()?);
        let group = Group { pages: PagedWriter::new(res.clone()), spill: None, file: None, key: Vec::new() };
        let mut join = Self {
            res,
            jt,
            left,
            right,
            l: Cursor::default(),
            r: Cursor::default(),
            group,
            reserve,
            state: State::Compare,
            scratch: Vec::new(),
            _t: PhantomData,
        };
        join.l.advance::<L, A>(&mut join.left, Side::Left)?;
        join.r.advance::<R, B>(&mut join.right, Side::Right)?;
        Ok(join)
    }

    /// Runs the join to the end, lending each result to `f` as zero-copy
    /// views; `f`'s error stops the join and is returned.
    ///
    /// # Errors
    ///
    /// Any [`JoinError`] (converted into `E`), or `f`'s error.
    pub fn for_each<E, F>(self, f: F) -> Result<(), E>
    where
        E: From<JoinError>,
        F: FnMut(Option<L::Ref<'_>>, Option<R::Ref<'_>>) -> Result<(), E>,
    {
        output::for_each::<L, R, _, E, F>(self, f)
    }

    /// The results as an iterator of owned pairs.
    pub fn into_owned(self) -> OwnedJoin<L, R, Self> {
        OwnedJoin::new(self)
    }

    /// Collects the right group of the current right key.
    fn collect_group(&mut self) -> Result<(), JoinError> {
        let g = &mut self.group;
        g.pages.reset();
        g.spill = None;
        g.file = None;
        g.key.clear();
        g.key.extend_from_slice(&self.r.key);
        while self.r.valid && !self.r.null && self.r.key == self.group.key {
            let g = &mut self.group;
            if let Some(w) = &mut g.spill {
                frame::write_sink::<R, _>(w, 0, &self.r.row)?;
            } else {
                match frame::write_paged::<R>(&mut g.pages, 0, &self.r.row) {
                    Ok(_) => {}
                    Err(MemoryError::Exhausted { .. }) => {
                        self.spill_group()?;
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            self.r.advance::<R, B>(&mut self.right, Side::Right)?;
        }
        if let Some(w) = self.group.spill.take() {
            self.group.file = Some(w.finish()?);
        }
        Ok(())
    }

    /// Moves the group's pages into a spill file that takes its later rows.
    fn spill_group(&mut self) -> Result<(), JoinError> {
        let g = &mut self.group;
        let old = core::mem::replace(&mut g.pages, PagedWriter::new(self.res.clone()));
        let (pages, len) = old.into_pages();
        self.reserve = None;
        let mut w = SpillWriter::new(&self.res)?;
        let page_size = self.res.page_size() as u64;
        for (k, page) in pages.iter().enumerate() {
            let n = (len - k as u64 * page_size).min(page_size) as usize;
            w.write_page(&page.as_slice()[..n])?;
        }
        drop(pages);
        self.reserve = self.res.allocate_page().ok();
        g.spill = Some(w);
        Ok(())
    }

    /// After the current left row: stay on the group if the next left row
    /// has its key.
    fn next_left_in_group(&mut self) -> Result<(), JoinError> {
        self.l.advance::<L, A>(&mut self.left, Side::Left)?;
        if self.l.valid && !self.l.null && self.l.key == self.group.key {
            self.state = State::Replay { pos: 0, reader: None };
        } else {
            self.state = State::Compare;
        }
        Ok(())
    }
}

impl<L, R, A, B> Stepper for MergeJoin<L, R, A, B>
where
    L: SegmentRecord,
    R: SegmentRecord,
    A: RecordSource<L>,
    B: RecordSource<R>,
{
    type Left = L;
    type Right = R;

    fn step<F>(&mut self, max: usize, out: &mut F) -> Result<bool, JoinError>
    where
        F: FnMut(Option<&[u8]>, Option<&[u8]>) -> Result<(), JoinError>,
    {
        let jt = self.jt;
        for _ in 0..max {
            match &mut self.state {
                State::Compare => {
                    let (lv, rv) = (self.l.valid, self.r.valid);
                    let take_left = if !lv && !rv {
                        return Ok(false);
                    } else if lv && self.l.null {
                        true
                    } else if rv && self.r.null {
                        false
                    } else if !rv {
                        true
                    } else if !lv {
                        false
                    } else {
                        match self.l.key.cmp(&self.r.key) {
                            core::cmp::Ordering::Less => true,
                            core::cmp::Ordering::Greater => false,
                            core::cmp::Ordering::Equal => {
                                self.collect_group()?;
                                self.state = State::Replay { pos: 0, reader: None };
                                continue;
                            }
                        }
                    };
                    if take_left {
                        if jt.keeps_unmatched_left() {
                            out(Some(&self.l.row), None)?;
                        }
                        self.l.advance::<L, A>(&mut self.left, Side::Left)?;
                    } else {
                        if jt.keeps_unmatched_right() {
                            out(None, Some(&self.r.row))?;
                        }
                        self.r.advance::<R, B>(&mut self.right, Side::Right)?;
                    }
                }
                State::Replay { pos, reader } => match jt {
                    JoinType::LeftSemi => {
                        out(Some(&self.l.row), None)?;
                        self.next_left_in_group()?;
                    }
                    JoinType::LeftAnti => self.next_left_in_group()?,
                    _ => {
                        let row = if let Some(file) = &self.group.file {
                            if reader.is_none() {
                                *reader = Some(file.reader(&self.res, 0)?);
                            }
                            match reader {
                                Some(rd) => frame::read::<R, _>(rd)?.map(|(_, r)| r),
                                None => None,
                            }
                        } else {
                            group_row::<R>(&self.group.pages, pos, &mut self.scratch)?
                        };
                        match row {
                            Some(r) => out(Some(&self.l.row), Some(r))?,
                            None => self.next_left_in_group()?,
                        }
                    }
                },
            }
        }
        Ok(true)
    }
}

/// The group row at byte `*pos` of the in-memory group, advancing `*pos`;
/// a frame that straddles pages is copied into `scratch`.
#[inline]
fn group_row<'a, R: SegmentRecord>(
    w: &'a PagedWriter,
    pos: &mut u64,
    scratch: &'a mut Vec<u8>,
) -> Result<Option<&'a [u8]>, JoinError> {
    if *pos >= w.len() {
        return Ok(None);
    }
    let shift = w.page_size().trailing_zeros();
    let (page, off) = ((*pos >> shift) as usize, (*pos & ((1 << shift) - 1)) as usize);
    if let Some((_, r)) = frame::in_page::<R>(w.pages()[page].as_slice(), off) {
        *pos += frame::frame_len::<R>(r.len()) as u64;
        return Ok(Some(r));
    }
    let mut rd = PagedReader::new(w.pages(), w.len());
    rd.seek(RecordPointer { page: page as u32, offset: off as u32 })?;
    let Some((_, r)) = frame::read::<R, _>(&mut rd)? else { return Ok(None) };
    *pos += frame::frame_len::<R>(r.len()) as u64;
    scratch.clear();
    scratch.extend_from_slice(r);
    Ok(Some(scratch))
}
