//! The [`Operator`] trait a stage runs, and the built-in operators: map,
//! filter, flat_map (on views or owned values) and the external sort.

use core::fmt;
use core::marker::PhantomData;

use segrec_core::{MemoryManager, RecordRef, SegmentRecord};

use super::error::{BoxError, StageError};
use crate::channel::Sender;
use crate::sort::{Sorter, SorterConfig};

/// One parallel instance of a one-input stage: called for each record as a
/// zero-copy view, then once at the end of the input. Plug any operator in
/// with [`Flow::apply`](super::Flow::apply).
pub trait Operator<T: SegmentRecord, U: SegmentRecord>: Send {
    /// Handles one input record, sending any output to `out`.
    ///
    /// # Errors
    ///
    /// Any [`StageError`]; it stops the pipeline.
    fn on_record(&mut self, record: T::Ref<'_>, out: &mut Sender<U>) -> Result<(), StageError>;

    /// Called once the input has ended.
    ///
    /// # Errors
    ///
    /// Any [`StageError`]; it stops the pipeline.
    fn on_end(&mut self, out: &mut Sender<U>) -> Result<(), StageError> {
        let _ = out;
        Ok(())
    }
}

/// An [`Operator`] from a closure over views and the output.
pub struct FnOperator<T, U, F> {
    f: F,
    _types: PhantomData<fn(T) -> U>,
}

impl<T, U, F> FnOperator<T, U, F> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        Self { f, _types: PhantomData }
    }
}

impl<T, U, F> fmt::Debug for FnOperator<T, U, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnOperator")
    }
}

impl<T, U, F> Operator<T, U> for FnOperator<T, U, F>
where
    T: SegmentRecord,
    U: SegmentRecord,
    F: for<'a> FnMut(T::Ref<'a>, &mut Sender<U>) -> Result<(), StageError> + Send,
{
    #[inline]
    fn on_record(&mut self, record: T::Ref<'_>, out: &mut Sender<U>) -> Result<(), StageError> {
        (self.f)(record, out)
    }
}

/// Decodes a view into an owned value (the closure-friendly form of
/// [`RecordRef::to_owned`]).
#[inline]
pub(crate) fn owned<'a, T: SegmentRecord>(v: T::Ref<'a>) -> T {
    RecordRef::to_owned(&v)
}

/// Maps a user error into a stage error.
pub(crate) fn user<E: Into<BoxError>>(e: E) -> StageError {
    StageError::Failed(e.into())
}

/// The external sort as a stage: pushes every input record (as encoded
/// bytes, no decoding) into a [`Sorter`] and, at the end of the input, sends
/// them on in key order.
pub struct SortOperator<T: SegmentRecord> {
    sorter: Option<Sorter<T>>,
}

impl<T: SegmentRecord> fmt::Debug for SortOperator<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SortOperator").field("sorter", &self.sorter).finish()
    }
}

impl<T: SegmentRecord> SortOperator<T> {
    /// A sort operator drawing on `memory` with `config`.
    ///
    /// # Errors
    ///
    /// When the sorter cannot take its first memory.
    pub fn new(memory: &MemoryManager, config: SorterConfig) -> Result<Self, StageError> {
        Ok(Self { sorter: Some(Sorter::with_config(memory, config)?) })
    }
}

impl<T: SegmentRecord + Send> Operator<T, T> for SortOperator<T>
where
    Sorter<T>: Send,
{
    fn on_record(&mut self, record: T::Ref<'_>, _out: &mut Sender<T>) -> Result<(), StageError> {
        match &mut self.sorter {
            Some(s) => Ok(s.push_encoded(record.bytes())?),
            None => Err(StageError::other("sort stage received a record after its end")),
        }
    }

    fn on_end(&mut self, out: &mut Sender<T>) -> Result<(), StageError> {
        let Some(sorter) = self.sorter.take() else { return Ok(()) };
        let mut sorted = sorter.finish()?;
        while let Some(bytes) = sorted.next_encoded()? {
            out.send_encoded(bytes)?;
        }
        Ok(())
    }
}
