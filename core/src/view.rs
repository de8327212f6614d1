//! Paged views: a list of pages seen as one contiguous byte stream.
//!
//! [`PagedWriter`] appends bytes across pages it takes from a
//! [`MemoryReservation`]; a record may straddle a page boundary, and a record
//! larger than a page spans several. Each write returns a [`RecordPointer`]
//! (page, offset) for random access later. [`PagedReader`] reads the stream
//! back sequentially or from a pointer: a read that lies inside one page is
//! lent straight from the page, one that straddles pages is assembled in a
//! reusable scratch buffer, so the caller always sees contiguous bytes.
//!
//! Both implement the small traits [`ByteSink`] and [`ByteSource`], which
//! spill files implement too, so record framing ([`crate::frame`]) works the
//! same on memory and on disk.

use core::fmt;

use thiserror::Error;

use crate::memory::{MemoryError, MemoryReservation, Page};

/// Where a record starts: page index and byte offset in the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RecordPointer {
    /// Index of the page in the writer's page list.
    pub page: u32,
    /// Byte offset inside that page.
    pub offset: u32,
}

impl RecordPointer {
    /// Packs the pointer into one `u64` (page in the high half).
    #[inline]
    #[must_use]
    pub const fn to_u64(self) -> u64 {
        ((self.page as u64) << 32) | self.offset as u64
    }

    /// Unpacks a pointer made by [`to_u64`](Self::to_u64).
    #[inline]
    #[must_use]
    pub const fn from_u64(v: u64) -> Self {
        Self { page: (v >> 32) as u32, offset: v as u32 }
    }
}

/// A read past the end of a paged stream.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ViewError {
    /// Fewer bytes remain than were asked for.
    #[error(
        "read of {requested} bytes at position {position} passes the end of the stream ({remaining} bytes left)"
    )]
    UnexpectedEnd {
        /// Byte position in the stream.
        position: u64,
        /// Bytes asked for.
        requested: usize,
        /// Bytes left.
        remaining: u64,
    },
    /// A pointer that does not point into the written stream.
    #[error("pointer {0:?} is outside the stream")]
    BadPointer(RecordPointer),
}

/// A sequential source of bytes in which reads may straddle pages.
pub trait ByteSource {
    /// What can go wrong reading.
    type Error;

    /// Reads exactly `len` bytes, contiguous; an error if fewer remain.
    ///
    /// # Errors
    ///
    /// When fewer than `len` bytes remain, or the medium fails.
    fn read_bytes(&mut self, len: usize) -> Result<&[u8], Self::Error>;

    /// Whether every byte has been read.
    ///
    /// # Errors
    ///
    /// When the medium fails while looking ahead.
    fn is_at_end(&mut self) -> Result<bool, Self::Error>;

    /// Reads exactly `len` bytes as [`read_bytes`](Self::read_bytes) does,
    /// or `None` when every byte has been read: [`is_at_end`](Self::is_at_end)
    /// and `read_bytes` in one, which a source may answer with one check.
    ///
    /// # Errors
    ///
    /// As `read_bytes` and `is_at_end`.
    #[inline]
    fn read_next(&mut self, len: usize) -> Result<Option<&[u8]>, Self::Error> {
        if self.is_at_end()? {
            return Ok(None);
        }
        self.read_bytes(len).map(Some)
    }
}

/// A sequential sink of bytes that may spread a write across pages.
pub trait ByteSink {
    /// What can go wrong writing; page exhaustion must convert into it.
    type Error: From<MemoryError>;

    /// Appends `len` bytes produced by `fill`, which is handed a contiguous
    /// slice (inside a page when the bytes fit, a scratch buffer otherwise).
    /// When `fill` fails, nothing is appended.
    ///
    /// # Errors
    ///
    /// Whatever `fill` returns, or the sink's own error.
    fn write_with<E: From<Self::Error>>(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<(), E>;
}

/// Appends bytes across pages taken from a reservation.
///
/// # Examples
///
/// ```
/// use segrec_core::{MemoryManager, PagedWriter};
///
/// let memory = MemoryManager::builder().budget(1 << 20).page_size(4096).build()?;
/// let mut writer = PagedWriter::new(memory.reservation("example"));
/// writer.write(&[7u8; 4000])?;
/// let p = writer.write(b"straddles the first page boundary")?;
/// assert_eq!((p.page, p.offset), (0, 4000));
/// let mut reader = writer.reader();
/// reader.seek(p)?;
/// assert_eq!(reader.read(9)?, b"straddles");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PagedWriter {
    reservation: MemoryReservation,
    pages: Vec<Page>,
    /// Write position in the last page (`page_size` when it is full).
    offset: usize,
    page_size: usize,
    len: u64,
    scratch: Vec<u8>,
}

impl fmt::Debug for PagedWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PagedWriter")
            .field("reservation", &self.reservation.name())
            .field("pages", &self.pages.len())
            .field("len", &self.len)
            .finish()
    }
}

impl PagedWriter {
    /// An empty writer taking pages from `reservation`.
    #[must_use]
    pub fn new(reservation: MemoryReservation) -> Self {
        let page_size = reservation.page_size();
        Self { reservation, pages: Vec::new(), offset: page_size, page_size, len: 0, scratch: Vec::new() }
    }

    /// Bytes written.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pages written so far (the last one possibly partly).
    #[must_use]
    pub fn pages(&self) -> &[Page] {
        &self.pages
    }

    /// Bytes of one page.
    #[must_use]
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// Bytes left in the current page before the next write takes a page.
    #[must_use]
    pub fn room_in_page(&self) -> usize {
        self.page_size - self.offset
    }

    /// The reservation pages come from.
    #[must_use]
    pub fn reservation(&self) -> &MemoryReservation {
        &self.reservation
    }

    /// Where the next byte will go.
    #[must_use]
    pub fn position(&self) -> RecordPointer {
        if self.offset == self.page_size {
            RecordPointer { page: self.pages.len() as u32, offset: 0 }
        } else {
            RecordPointer { page: (self.pages.len() - 1) as u32, offset: self.offset as u32 }
        }
    }

    /// Appends `bytes` and returns where they start. When the reservation
    /// cannot supply the pages needed, nothing is written and what was
    /// written before stays intact.
    ///
    /// # Errors
    ///
    /// [`MemoryError::Exhausted`] when pages run out.
    #[inline]
    pub fn write(&mut self, bytes: &[u8]) -> Result<RecordPointer, MemoryError> {
        let off = self.offset;
        let len = bytes.len();
        // Common case: the bytes fit in the current page. One range check
        // covers both "there is a page" and "the bytes fit in it".
        if let Some(page) = self.pages.last_mut()
            && let Some(dst) = page.as_mut_slice().get_mut(off..off + len)
        {
            dst.copy_from_slice(bytes);
            self.offset = off + len;
            self.len += len as u64;
            return Ok(RecordPointer { page: (self.pages.len() - 1) as u32, offset: off as u32 });
        }
        self.write_across(bytes)
    }

    /// [`write`](Self::write) when the bytes need new pages.
    #[cold]
    fn write_across(&mut self, bytes: &[u8]) -> Result<RecordPointer, MemoryError> {
        let start = self.position();
        if bytes.is_empty() {
            return Ok(start);
        }
        self.take_pages_for(bytes.len())?;
        self.append(bytes, start);
        Ok(start)
    }

    /// Appends to the page list, all or none, the pages a write of `len`
    /// bytes needs beyond the room in the current page. The pages go
    /// straight into the list (no temporary vector: this runs once per page
    /// boundary), and on failure the ones taken go back to the pool.
    fn take_pages_for(&mut self, len: usize) -> Result<(), MemoryError> {
        let room = self.room_in_page();
        if len <= room {
            return Ok(());
        }
        let before = self.pages.len();
        for _ in 0..(len - room).div_ceil(self.page_size) {
            match self.reservation.allocate_page() {
                Ok(page) => self.pages.push(page),
                Err(e) => {
                    self.pages.truncate(before);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Copies `bytes` to the stream from `start` (the position before
    /// [`take_pages_for`](Self::take_pages_for) added the pages, which are
    /// exactly enough).
    fn append(&mut self, bytes: &[u8], start: RecordPointer) {
        let mut page = start.page as usize;
        let mut offset = start.offset as usize;
        let mut rest = bytes;
        loop {
            let n = rest.len().min(self.page_size - offset);
            self.pages[page].as_mut_slice()[offset..offset + n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            offset += n;
            if rest.is_empty() {
                break;
            }
            page += 1;
            offset = 0;
        }
        debug_assert_eq!(page + 1, self.pages.len());
        self.offset = offset;
        self.len += bytes.len() as u64;
    }

    /// Appends `len` bytes produced by `fill` on a contiguous slice: the page
    /// itself when the bytes fit in the current (or a fresh) page, a scratch
    /// buffer copied across pages otherwise. Returns where they start; when
    /// `fill` or the reservation fails nothing is appended.
    ///
    /// # Errors
    ///
    /// Whatever `fill` returns, or [`MemoryError`] converted into `E`.
    pub fn write_with<E: From<MemoryError>>(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<RecordPointer, E> {
        if len <= self.page_size && (len <= self.room_in_page() || self.room_in_page() == 0) {
            let start = self.position();
            if self.room_in_page() == 0 && len > 0 {
                let page = self.reservation.allocate_page()?;
                self.pages.push(page);
                self.offset = 0;
            }
            if len > 0 {
                let off = self.offset;
                let page = self.pages.last_mut().expect("a page was just ensured");
                fill(&mut page.as_mut_slice()[off..off + len])?;
                self.offset += len;
            } else {
                fill(&mut [])?;
            }
            self.len += len as u64;
            return Ok(start);
        }
        let start = self.position();
        let (pages, offset, written) = (self.pages.len(), self.offset, self.len);
        self.take_pages_for(len)?;
        let mut scratch = core::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.resize(len, 0);
        let result = fill(&mut scratch);
        if result.is_ok() {
            self.append(&scratch, start);
        } else {
            // Nothing appended: the pages taken for it go back.
            self.pages.truncate(pages);
            debug_assert_eq!((self.offset, self.len), (offset, written));
        }
        self.scratch = scratch;
        result.map(|()| start)
    }

    /// Starts the next write on a fresh page when fewer than `min_room` bytes
    /// are left in the current one (the tail is wasted), so a record up to
    /// `min_room` bytes long lies inside one page.
    ///
    /// # Errors
    ///
    /// [`MemoryError::Exhausted`] when no page is left; nothing changes then.
    pub fn ensure_contiguous(&mut self, min_room: usize) -> Result<(), MemoryError> {
        let room = self.room_in_page();
        if room >= min_room || room == 0 {
            return Ok(());
        }
        let page = self.reservation.allocate_page()?;
        self.pages.push(page);
        self.offset = 0;
        self.len += room as u64;
        Ok(())
    }

    /// A reader over what was written so far.
    #[must_use]
    pub fn reader(&self) -> PagedReader<'_> {
        PagedReader::new(&self.pages, self.len)
    }

    /// Forgets the contents but keeps the pages for reuse.
    pub fn reset(&mut self) {
        self.len = 0;
        self.offset = if self.pages.is_empty() { self.page_size } else { 0 };
        // Keep only the first page; the rest go back to the pool so a reset
        // writer does not hold on to its high-water mark.
        self.pages.truncate(1);
    }

    /// Returns every page to the pool and forgets the contents.
    pub fn clear(&mut self) {
        self.pages.clear();
        self.offset = self.page_size;
        self.len = 0;
    }

    /// Gives up the pages and the stream's length in bytes.
    #[must_use]
    pub fn into_pages(self) -> (Vec<Page>, u64) {
        (self.pages, self.len)
    }
}

impl ByteSink for PagedWriter {
    type Error = MemoryError;

    fn write_with<E: From<MemoryError>>(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        PagedWriter::write_with(self, len, fill).map(|_| ())
    }
}

/// Reads a paged stream sequentially or from a [`RecordPointer`].
pub struct PagedReader<'a> {
    pages: &'a [Page],
    len: u64,
    page: usize,
    offset: usize,
    position: u64,
    page_size: usize,
    scratch: Vec<u8>,
}

impl fmt::Debug for PagedReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PagedReader")
            .field("position", &self.position)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<'a> PagedReader<'a> {
    /// A reader over the first `len` bytes of `pages`, all of one size.
    ///
    /// # Panics
    ///
    /// Never for `len` beyond the pages; such reads return
    /// [`ViewError::UnexpectedEnd`] at the last page's end.
    #[must_use]
    pub fn new(pages: &'a [Page], len: u64) -> Self {
        let page_size = pages.first().map_or(1, |p| p.size());
        let capacity = pages.len() as u64 * page_size as u64;
        Self {
            pages,
            len: len.min(capacity),
            page: 0,
            offset: 0,
            position: 0,
            page_size,
            scratch: Vec::new(),
        }
    }

    /// A reader like [`new`](Self::new) that assembles straddling reads in
    /// `scratch`, a buffer kept from an earlier reader with
    /// [`into_scratch`](Self::into_scratch): code that opens a short-lived
    /// reader per record (to read one record at a pointer) then allocates
    /// nothing once the buffer has grown to the longest record.
    ///
    /// # Examples
    ///
    /// ```
    /// use segrec_core::{MemoryManager, PagedReader, PagedWriter};
    ///
    /// let memory = MemoryManager::builder().budget(1 << 20).page_size(4096).build()?;
    /// let mut writer = PagedWriter::new(memory.reservation("example"));
    /// let p = writer.write(&[1u8; 4000])?;
    /// let q = writer.write(&[2u8; 200])?; // straddles the page boundary
    /// let mut scratch = Vec::new();
    /// for (at, len) in [(p, 4000), (q, 200), (q, 200)] {
    ///     let mut reader = PagedReader::with_scratch(writer.pages(), writer.len(), scratch);
    ///     reader.seek(at)?;
    ///     assert_eq!(reader.read(len)?.len(), len);
    ///     scratch = reader.into_scratch();
    /// }
    /// assert!(scratch.capacity() >= 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_scratch(pages: &'a [Page], len: u64, scratch: Vec<u8>) -> Self {
        Self { scratch, ..Self::new(pages, len) }
    }

    /// Gives up the scratch buffer, for the next
    /// [`with_scratch`](Self::with_scratch).
    #[must_use]
    pub fn into_scratch(self) -> Vec<u8> {
        self.scratch
    }

    /// Bytes read so far (the stream position).
    #[must_use]
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Bytes left.
    #[must_use]
    pub fn remaining(&self) -> u64 {
        self.len - self.position
    }

    /// Moves to `pointer`.
    ///
    /// # Errors
    ///
    /// [`ViewError::BadPointer`] when it is not inside the stream.
    pub fn seek(&mut self, pointer: RecordPointer) -> Result<(), ViewError> {
        let pos = pointer.page as u64 * self.page_size as u64 + pointer.offset as u64;
        if pointer.offset as usize > self.page_size || pos > self.len {
            return Err(ViewError::BadPointer(pointer));
        }
        self.page = pointer.page as usize;
        self.offset = pointer.offset as usize;
        self.position = pos;
        Ok(())
    }

    /// Reads `len` bytes: borrowed from the page when they lie in one page,
    /// assembled in scratch when they straddle.
    ///
    /// # Errors
    ///
    /// [`ViewError::UnexpectedEnd`] when fewer than `len` bytes remain.
    #[inline]
    pub fn read(&mut self, len: usize) -> Result<&[u8], ViewError> {
        if len as u64 > self.remaining() {
            return Err(ViewError::UnexpectedEnd {
                position: self.position,
                requested: len,
                remaining: self.remaining(),
            });
        }
        if self.offset == self.page_size {
            self.page += 1;
            self.offset = 0;
        }
        self.position += len as u64;
        if self.offset + len <= self.page_size {
            let off = self.offset;
            self.offset += len;
            if len == 0 {
                return Ok(&[]);
            }
            return Ok(&self.pages[self.page].as_slice()[off..off + len]);
        }
        self.scratch.clear();
        let mut need = len;
        while need > 0 {
            if self.offset == self.page_size {
                self.page += 1;
                self.offset = 0;
            }
            let n = need.min(self.page_size - self.offset);
            self.scratch.extend_from_slice(&self.pages[self.page].as_slice()[self.offset..self.offset + n]);
            self.offset += n;
            need -= n;
        }
        Ok(&self.scratch)
    }

    /// Reads `out.len()` bytes into `out`.
    ///
    /// # Errors
    ///
    /// [`ViewError::UnexpectedEnd`] when fewer remain; nothing is consumed then.
    pub fn read_exact(&mut self, out: &mut [u8]) -> Result<(), ViewError> {
        let bytes = self.read(out.len())?;
        out.copy_from_slice(bytes);
        Ok(())
    }
}

impl ByteSource for PagedReader<'_> {
    type Error = ViewError;

    #[inline]
    fn read_bytes(&mut self, len: usize) -> Result<&[u8], ViewError> {
        self.read(len)
    }

    fn is_at_end(&mut self) -> Result<bool, ViewError> {
        Ok(self.remaining() == 0)
    }
}
