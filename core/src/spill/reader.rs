//! [`SpillReader`]: a spill file read back frame by frame, every frame
//! checked before any of its bytes are handed out.

use core::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use super::read_ahead::{Client, ReadAhead};
use super::{FILE_HEADER, FILE_MAGIC, FRAME_HEADER, FRAME_MAGIC, SpillError, SpillFile, io_error};
use crate::memory::{MemoryReservation, Page};
use crate::view::ByteSource;

/// Bytes grown on a reservation for as long as this lives.
struct GrownBytes {
    reservation: MemoryReservation,
    bytes: usize,
}

impl Drop for GrownBytes {
    fn drop(&mut self) {
        self.reservation.shrink(self.bytes);
    }
}

/// Where frames come from.
enum Input {
    /// Read on the caller's thread, through a buffer.
    Direct(BufReader<File>),
    /// Read ahead by a [`ReadAhead`] thread.
    Ahead(Client),
}

/// Reads a spill file back, frame by frame, checking every frame.
pub struct SpillReader {
    /// Before `file`: a direct reader's handle closes while the file still
    /// has its name, which costs nothing (a read-ahead thread hands its
    /// handle to the reaper instead; see `reaper`).
    input: Input,
    file: SpillFile,
    _grown: GrownBytes,
    page: Page,
    fill: usize,
    pos: usize,
    frames_read: u64,
    scratch: Vec<u8>,
}

impl fmt::Debug for SpillReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpillReader")
            .field("path", &self.file.path())
            .field("frames_read", &self.frames_read)
            .finish_non_exhaustive()
    }
}

/// Opens `file` and checks its header; the handle is left past it.
fn open_checked(file: &SpillFile) -> Result<File, SpillError> {
    let path = file.path();
    let mut input = File::open(path).map_err(io_error(path, None))?;
    let mut header = [0u8; FILE_HEADER];
    match input.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(SpillError::Truncated {
                path: path.to_path_buf(),
                frame: 0,
                expected: file.inner.frames,
            });
        }
        Err(e) => return Err(io_error(path, None)(e)),
    }
    if &header[..8] != FILE_MAGIC
        || u32::from_le_bytes([header[8], header[9], header[10], header[11]]) as usize != file.inner.page_size
    {
        return Err(SpillError::Corrupt {
            path: path.to_path_buf(),
            frame: 0,
            reason: "file header does not match (magic or page size)".into(),
        });
    }
    Ok(input)
}

impl SpillReader {
    /// Opens `file` with one page buffer and `read_ahead` more pages of
    /// buffered read-ahead, all charged to `reservation` (see
    /// [`SpillFile::reader`]).
    pub(super) fn open(
        file: &SpillFile,
        reservation: &MemoryReservation,
        read_ahead: usize,
    ) -> Result<Self, SpillError> {
        let page = reservation.allocate_page()?;
        let buffer = read_ahead * (file.inner.page_size + FRAME_HEADER);
        reservation.try_grow(buffer)?;
        let grown = GrownBytes { reservation: reservation.clone(), bytes: buffer };
        let input = open_checked(file)?;
        Ok(Self::with_input(
            file,
            Input::Direct(BufReader::with_capacity(buffer.max(FRAME_HEADER), input)),
            grown,
            page,
        ))
    }

    /// Opens `file` with one page buffer and `pages` more in flight on the
    /// `read_ahead` thread, all charged to `reservation` (see
    /// [`SpillFile::reader_ahead`]).
    pub(super) fn open_ahead(
        file: &SpillFile,
        reservation: &MemoryReservation,
        read_ahead: &ReadAhead,
        pages: usize,
    ) -> Result<Self, SpillError> {
        let page = reservation.allocate_page()?;
        let ahead = reservation.allocate_pages(pages.max(1))?;
        let grown = GrownBytes { reservation: reservation.clone(), bytes: 0 };
        let input = open_checked(file)?;
        let client = read_ahead.open(input, file.path().to_path_buf(), file.frames(), ahead);
        Ok(Self::with_input(file, Input::Ahead(client), grown, page))
    }

    fn with_input(file: &SpillFile, input: Input, grown: GrownBytes, page: Page) -> Self {
        SpillReader {
            file: SpillFile::clone(file),
            input,
            _grown: grown,
            page,
            fill: 0,
            pos: 0,
            frames_read: 0,
            scratch: Vec::new(),
        }
    }

    /// The file being read.
    #[must_use]
    pub fn file(&self) -> &SpillFile {
        &self.file
    }

    /// Frames read so far (the index of the next one).
    #[must_use]
    pub fn frames_read(&self) -> u64 {
        self.frames_read
    }

    /// Loads the next frame into the page buffer; `false` after the last.
    fn load_frame(&mut self) -> Result<bool, SpillError> {
        let expected = self.file.frames();
        let frame = self.frames_read;
        if frame == expected {
            return Ok(false);
        }
        let path = self.file.path();
        let len = match &mut self.input {
            Input::Direct(input) => read_frame(input, &mut self.page, path, frame, expected)?,
            Input::Ahead(client) => client.next(&mut self.page, path)?,
        };
        self.fill = len;
        self.pos = 0;
        self.frames_read += 1;
        Ok(true)
    }

    /// The next whole frame's payload; `None` after the last. Use either this
    /// or the byte-stream reads of [`ByteSource`] on one reader, not both.
    ///
    /// # Errors
    ///
    /// A [`SpillError`] when the frame is damaged or the read fails.
    pub fn next_page(&mut self) -> Result<Option<&[u8]>, SpillError> {
        if !self.load_frame()? {
            return Ok(None);
        }
        self.pos = self.fill;
        Ok(Some(&self.page.as_slice()[..self.fill]))
    }
}

/// Reads frame `frame` (of `expected`) from `input` into `page` and checks
/// it; returns its payload length.
pub(super) fn read_frame(
    input: &mut impl Read,
    page: &mut Page,
    path: &Path,
    frame: u64,
    expected: u64,
) -> Result<usize, SpillError> {
    let truncated = || SpillError::Truncated { path: path.to_path_buf(), frame, expected };
    let corrupt = |reason: String| SpillError::Corrupt { path: path.to_path_buf(), frame, reason };
    let mut header = [0u8; FRAME_HEADER];
    read_full(input, &mut header)
        .map_err(io_error(path, Some(frame)))?
        .then_some(())
        .ok_or_else(truncated)?;
    let word = |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    if word(0) != FRAME_MAGIC {
        return Err(corrupt("frame magic does not match".into()));
    }
    let len = word(8) as usize;
    if len > page.size() {
        return Err(corrupt(format!("frame length {len} exceeds the page size {}", page.size())));
    }
    let payload = &mut page.as_mut_slice()[..len];
    read_full(input, payload).map_err(io_error(path, Some(frame)))?.then_some(()).ok_or_else(truncated)?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header[..12]);
    crc.update(payload);
    if crc.finalize() != word(12) {
        return Err(corrupt("checksum mismatch".into()));
    }
    if u64::from(word(4)) != frame {
        return Err(corrupt(format!("frame index {} where {frame} was expected", word(4))));
    }
    Ok(len)
}

/// `read_exact` that reports a clean or partial end of file as `Ok(false)`.
fn read_full(input: &mut impl Read, mut buf: &mut [u8]) -> io::Result<bool> {
    while !buf.is_empty() {
        match input.read(buf) {
            Ok(0) => return Ok(false),
            Ok(n) => buf = &mut buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

impl ByteSource for SpillReader {
    type Error = SpillError;

    #[inline]
    fn read_bytes(&mut self, len: usize) -> Result<&[u8], SpillError> {
        // The common case, inlined into record loops: the bytes are in the
        // current page.
        if self.pos < self.fill && self.pos + len <= self.fill {
            let at = self.pos;
            self.pos += len;
            return Ok(&self.page.as_slice()[at..at + len]);
        }
        self.read_bytes_cold(len)
    }

    #[inline]
    fn is_at_end(&mut self) -> Result<bool, SpillError> {
        if self.pos < self.fill {
            return Ok(false);
        }
        self.is_at_end_slow()
    }

    #[inline]
    fn read_next(&mut self, len: usize) -> Result<Option<&[u8]>, SpillError> {
        // One check for the common case, inlined into the merge's record
        // loop: the bytes are in the current page (so not at the end).
        if len > 0 && self.pos + len <= self.fill {
            let at = self.pos;
            self.pos += len;
            return Ok(Some(&self.page.as_slice()[at..at + len]));
        }
        self.read_next_cold(len)
    }
}

impl SpillReader {
    /// `read_bytes` at a page's end: the next frame, or bytes straddling
    /// frames gathered in the scratch buffer.
    #[cold]
    #[inline(never)]
    fn read_bytes_cold(&mut self, len: usize) -> Result<&[u8], SpillError> {
        if self.pos == self.fill && len > 0 && !self.load_frame()? {
            return Err(SpillError::UnexpectedEnd { path: self.file.path().to_path_buf(), requested: len });
        }
        if self.pos + len <= self.fill {
            let at = self.pos;
            self.pos += len;
            return Ok(&self.page.as_slice()[at..at + len]);
        }
        let mut scratch = core::mem::take(&mut self.scratch);
        scratch.clear();
        let mut need = len;
        while need > 0 {
            if self.pos == self.fill && !self.load_frame()? {
                self.scratch = scratch;
                return Err(SpillError::UnexpectedEnd {
                    path: self.file.path().to_path_buf(),
                    requested: len,
                });
            }
            let n = need.min(self.fill - self.pos);
            scratch.extend_from_slice(&self.page.as_slice()[self.pos..self.pos + n]);
            self.pos += n;
            need -= n;
        }
        self.scratch = scratch;
        Ok(&self.scratch)
    }

    /// [`read_next`](ByteSource::read_next) past the current page (or for
    /// no bytes): the end, or the next frame's bytes.
    #[cold]
    #[inline(never)]
    fn read_next_cold(&mut self, len: usize) -> Result<Option<&[u8]>, SpillError> {
        if self.is_at_end_slow()? {
            return Ok(None);
        }
        self.read_bytes(len).map(Some)
    }

    /// [`is_at_end`](ByteSource::is_at_end) once the page buffer is used
    /// up: loads frames until one has bytes or the file ends.
    #[inline(never)]
    fn is_at_end_slow(&mut self) -> Result<bool, SpillError> {
        while self.pos == self.fill {
            if !self.load_frame()? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
