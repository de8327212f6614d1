//! Inputs of a join: streams of encoded records, lent one at a time.

use core::borrow::Borrow;
use core::fmt;
use core::marker::PhantomData;

use segrec_core::SegmentRecord;

use super::error::{JoinError, Side};

/// A stream of encoded records of type `T`, lent one at a time (the slice is
/// valid until the next call). Sorted streams (a sorter's output, a sorted
/// file) implement it to feed a [`MergeJoin`](super::MergeJoin); any stream
/// can be the probe side of a [`HashJoin`](super::HashJoin).
pub trait RecordSource<T: SegmentRecord> {
    /// The next record's encoded bytes, `None` at the end.
    ///
    /// # Errors
    ///
    /// Whatever the source fails with, as a [`JoinError`] (for a foreign
    /// error, [`JoinError::Input`]).
    fn next_record(&mut self) -> Result<Option<&[u8]>, JoinError>;
}

impl<T: SegmentRecord, S: RecordSource<T> + ?Sized> RecordSource<T> for &mut S {
    fn next_record(&mut self) -> Result<Option<&[u8]>, JoinError> {
        (**self).next_record()
    }
}

/// Owned (or borrowed) records encoded one at a time into a reused buffer.
pub struct Records<T, I> {
    iter: I,
    buf: Vec<u8>,
    side: Side,
    _t: PhantomData<fn() -> T>,
}

impl<T, I> fmt::Debug for Records<T, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Records").field("side", &self.side).finish_non_exhaustive()
    }
}

impl<T, I> Records<T, I>
where
    T: SegmentRecord,
    I: Iterator,
    I::Item: Borrow<T>,
{
    /// A source over `records` (values or references) of the left input.
    pub fn left(records: impl IntoIterator<IntoIter = I>) -> Self {
        Self { iter: records.into_iter(), buf: Vec::new(), side: Side::Left, _t: PhantomData }
    }

    /// A source over `records` (values or references) of the right input.
    pub fn right(records: impl IntoIterator<IntoIter = I>) -> Self {
        Self { iter: records.into_iter(), buf: Vec::new(), side: Side::Right, _t: PhantomData }
    }
}

impl<T, I> RecordSource<T> for Records<T, I>
where
    T: SegmentRecord,
    I: Iterator,
    I::Item: Borrow<T>,
{
    fn next_record(&mut self) -> Result<Option<&[u8]>, JoinError> {
        let Some(item) = self.iter.next() else { return Ok(None) };
        let rec: &T = item.borrow();
        let len = rec.encoded_len();
        self.buf.resize(len, 0);
        let side = self.side;
        let n = rec.encode(&mut self.buf).map_err(|source| JoinError::Encode { side, source })?;
        Ok(Some(&self.buf[..n]))
    }
}

/// Already encoded records, one slice per record.
pub struct EncodedRecords<'a, T, I> {
    iter: I,
    _t: PhantomData<fn() -> T>,
    _a: PhantomData<&'a [u8]>,
}

impl<T, I> fmt::Debug for EncodedRecords<'_, T, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncodedRecords").finish_non_exhaustive()
    }
}

impl<'a, T, I> EncodedRecords<'a, T, I>
where
    T: SegmentRecord,
    I: Iterator<Item = &'a [u8]>,
{
    /// A source over slices that each hold one encoded `T`.
    pub fn new(records: impl IntoIterator<IntoIter = I>) -> Self {
        Self { iter: records.into_iter(), _t: PhantomData, _a: PhantomData }
    }
}

impl<'a, T, I> RecordSource<T> for EncodedRecords<'a, T, I>
where
    T: SegmentRecord,
    I: Iterator<Item = &'a [u8]>,
{
    fn next_record(&mut self) -> Result<Option<&[u8]>, JoinError> {
        Ok(self.iter.next())
    }
}
