//! A spool: records written to a spill file between two phases of a plan,
//! so each phase has the whole budget to itself instead of two operators
//! competing for it. Costs one staging page while writing and one page
//! (plus read-ahead) while reading.

use std::marker::PhantomData;

use segrec::frame::{read_record, write_record};
use segrec::operators::join::{JoinError, RecordSource};
use segrec::prelude::*;
use segrec::{MemoryReservation, SpillError, SpillFile, SpillReader, SpillWriter};

/// Writes records of type `T` to a spill file.
pub struct Spool<T> {
    writer: SpillWriter,
    _t: PhantomData<fn(T)>,
}

impl<T: SegmentRecord> Spool<T> {
    pub fn new(reservation: &MemoryReservation) -> Result<Self, SpillError> {
        Ok(Self { writer: SpillWriter::new(reservation)?, _t: PhantomData })
    }

    pub fn push(&mut self, record: &T) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        write_record(&mut self.writer, record)?;
        Ok(())
    }

    pub fn finish(self) -> Result<Spooled<T>, SpillError> {
        Ok(Spooled { file: self.writer.finish()?, _t: PhantomData })
    }
}

/// A finished spool.
pub struct Spooled<T> {
    file: SpillFile,
    _t: PhantomData<fn(T)>,
}

impl<T: SegmentRecord> Spooled<T> {
    pub fn bytes(&self) -> u64 {
        self.file.bytes()
    }

    /// A source of the spooled records for a join or a loop.
    pub fn source(&self, reservation: &MemoryReservation) -> Result<SpoolSource<T>, SpillError> {
        Ok(SpoolSource { reader: self.file.reader(reservation, 1)?, _t: PhantomData })
    }
}

/// Reads a spool back, record by record (lent, zero-copy within a page).
pub struct SpoolSource<T> {
    reader: SpillReader,
    _t: PhantomData<fn() -> T>,
}

impl<T: SegmentRecord> SpoolSource<T> {
    pub fn next_encoded(&mut self) -> Result<Option<&[u8]>, SpillError> {
        read_record::<T, _>(&mut self.reader)
    }
}

impl<T: SegmentRecord> RecordSource<T> for SpoolSource<T> {
    fn next_record(&mut self) -> Result<Option<&[u8]>, JoinError> {
        Ok(self.next_encoded()?)
    }
}
