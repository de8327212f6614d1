//! Spill files: sealed pages written to a temp file and read back as a byte
//! stream, each page framed and checksummed.
//!
//! # Format
//!
//! ```text
//! file   = header frame*
//! header = "SEGRSPL1" page_size:u32le reserved:u32le            (16 bytes)
//! frame  = magic:u32le ("SGPG") index:u32le len:u32le crc:u32le payload[len]
//! ```
//!
//! `crc` is CRC-32 over the frame's first 12 bytes and its payload, so a
//! flipped bit in a length or an index is caught as surely as one in the data,
//! and `index` counts frames from 0, so a lost or repeated frame is caught too.
//! Any mismatch is a [`SpillError`] naming the file and the frame; nothing is
//! returned from a frame that failed its check.
//!
//! Files live in the manager's spill directory under a `segrec-` prefix and
//! are removed when the last owner ([`SpillWriter`] before `finish`,
//! [`SpillFile`] and its readers after) drops, on error paths too.

use core::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tempfile::TempPath;
use thiserror::Error;

use crate::memory::{MemoryError, MemoryManager, MemoryReservation, Page};
use crate::view::{ByteSink, ByteSource};

const FILE_MAGIC: &[u8; 8] = b"SEGRSPL1";
const FRAME_MAGIC: u32 = u32::from_le_bytes(*b"SGPG");
const FILE_HEADER: usize = 16;
const FRAME_HEADER: usize = 16;

/// A spill file could not be written or read back intact.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SpillError {
    /// The operating system failed (missing file, full disk, permissions).
    #[error("spill file {path}: {source} (at frame {frame:?})")]
    Io {
        /// The file.
        path: PathBuf,
        /// The frame being read or written, if any.
        frame: Option<u64>,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// A frame failed its check: the file was damaged after it was written.
    #[error("spill file {path} is corrupt at frame {frame}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The frame that failed.
        frame: u64,
        /// What did not match.
        reason: String,
    },
    /// The file ends before its last frame.
    #[error("spill file {path} is truncated: frame {frame} of {expected} is missing or cut short")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The first frame that could not be read whole.
        frame: u64,
        /// Frames the writer wrote.
        expected: u64,
    },
    /// A read asked for more bytes than the file holds.
    #[error("spill file {path}: read of {requested} bytes passes the end of the stream")]
    UnexpectedEnd {
        /// The file.
        path: PathBuf,
        /// Bytes asked for.
        requested: usize,
    },
    /// No memory for the page buffers.
    #[error(transparent)]
    Memory(#[from] MemoryError),
}

fn io_error(path: &Path, frame: Option<u64>) -> impl FnOnce(io::Error) -> SpillError + '_ {
    move |source| SpillError::Io { path: path.to_path_buf(), frame, source }
}

fn write_frame(file: &mut File, path: &Path, frame: u64, payload: &[u8]) -> Result<(), SpillError> {
    let index = u32::try_from(frame).map_err(|_| SpillError::Io {
        path: path.to_path_buf(),
        frame: Some(frame),
        source: io::Error::other("more than 2^32 frames in one spill file"),
    })?;
    let mut header = [0u8; FRAME_HEADER];
    header[0..4].copy_from_slice(&FRAME_MAGIC.to_le_bytes());
    header[4..8].copy_from_slice(&index.to_le_bytes());
    header[8..12].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header[..12]);
    crc.update(payload);
    header[12..16].copy_from_slice(&crc.finalize().to_le_bytes());
    file.write_all(&header).and_then(|()| file.write_all(payload)).map_err(io_error(path, Some(frame)))
}

/// Writes a byte stream (or whole pages) into a new spill file.
pub struct SpillWriter {
    manager: MemoryManager,
    file: File,
    path: TempPath,
    staging: Page,
    fill: usize,
    frames: u64,
    bytes: u64,
    scratch: Vec<u8>,
}

impl fmt::Debug for SpillWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpillWriter")
            .field("path", &self.path.to_path_buf())
            .field("frames", &self.frames)
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl SpillWriter {
    /// Creates a spill file in the spill directory of the reservation's
    /// manager, with one staging page taken from `reservation`.
    ///
    /// # Errors
    ///
    /// [`SpillError::Io`] when the file cannot be created,
    /// [`SpillError::Memory`] when no page is left for staging.
    pub fn new(reservation: &MemoryReservation) -> Result<Self, SpillError> {
        let staging = reservation.allocate_page()?;
        let manager = reservation.manager();
        let dir = manager.spill_dir().to_path_buf();
        let named = tempfile::Builder::new()
            .prefix("segrec-")
            .suffix(".spill")
            .tempfile_in(&dir)
            .map_err(io_error(&dir, None))?;
        let (mut file, path) = named.into_parts();
        let mut header = [0u8; FILE_HEADER];
        header[..8].copy_from_slice(FILE_MAGIC);
        header[8..12].copy_from_slice(&(staging.size() as u32).to_le_bytes());
        file.write_all(&header).map_err(io_error(&path, None))?;
        manager.note_spill_file();
        Ok(Self { manager, file, path, staging, fill: 0, frames: 0, bytes: 0, scratch: Vec::new() })
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of payload written so far.
    #[must_use]
    pub fn bytes_written(&self) -> u64 {
        self.bytes + self.fill as u64
    }

    fn flush_staging(&mut self) -> Result<(), SpillError> {
        if self.fill == 0 {
            return Ok(());
        }
        write_frame(&mut self.file, &self.path, self.frames, &self.staging.as_slice()[..self.fill])?;
        self.frames += 1;
        self.bytes += self.fill as u64;
        self.manager.note_spilled_bytes(self.fill as u64);
        self.fill = 0;
        Ok(())
    }

    /// Writes `payload` (at most one page) as a frame of its own, after
    /// sealing any partly filled staging page.
    ///
    /// # Errors
    ///
    /// [`SpillError::Io`] on a write failure; a payload larger than a page is
    /// refused as [`SpillError::Io`] with kind `InvalidInput`.
    pub fn write_page(&mut self, payload: &[u8]) -> Result<(), SpillError> {
        if payload.len() > self.staging.size() {
            return Err(SpillError::Io {
                path: self.path.to_path_buf(),
                frame: Some(self.frames),
                source: io::Error::new(io::ErrorKind::InvalidInput, "frame larger than a page"),
            });
        }
        self.flush_staging()?;
        write_frame(&mut self.file, &self.path, self.frames, payload)?;
        self.frames += 1;
        self.bytes += payload.len() as u64;
        self.manager.note_spilled_bytes(payload.len() as u64);
        Ok(())
    }

    /// Appends bytes to the stream, sealing a frame each time a page fills.
    ///
    /// # Errors
    ///
    /// [`SpillError::Io`] on a write failure.
    pub fn write_bytes(&mut self, mut bytes: &[u8]) -> Result<(), SpillError> {
        let size = self.staging.size();
        while !bytes.is_empty() {
            if self.fill == size {
                self.flush_staging()?;
            }
            let n = bytes.len().min(size - self.fill);
            self.staging.as_mut_slice()[self.fill..self.fill + n].copy_from_slice(&bytes[..n]);
            self.fill += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Seals the last page and returns the finished file.
    ///
    /// # Errors
    ///
    /// [`SpillError::Io`] when the last write or the flush fails; the file is
    /// removed then.
    pub fn finish(mut self) -> Result<SpillFile, SpillError> {
        self.flush_staging()?;
        self.file.flush().map_err(io_error(&self.path, None))?;
        Ok(SpillFile {
            inner: Arc::new(SpillFileInner {
                path: self.path,
                frames: self.frames,
                bytes: self.bytes,
                page_size: self.staging.size(),
            }),
        })
    }
}

impl ByteSink for SpillWriter {
    type Error = SpillError;

    fn write_with<E: From<SpillError>>(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let size = self.staging.size();
        if len <= size {
            if len > size - self.fill {
                self.flush_staging()?;
            }
            let at = self.fill;
            fill(&mut self.staging.as_mut_slice()[at..at + len])?;
            self.fill += len;
            return Ok(());
        }
        let mut scratch = core::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.resize(len, 0);
        let result = fill(&mut scratch).and_then(|()| self.write_bytes(&scratch).map_err(E::from));
        self.scratch = scratch;
        result
    }
}

struct SpillFileInner {
    path: TempPath,
    frames: u64,
    bytes: u64,
    page_size: usize,
}

/// A finished spill file. Clones share the file, which is removed when the
/// last clone and the last reader drop.
#[derive(Clone)]
pub struct SpillFile {
    inner: Arc<SpillFileInner>,
}

impl fmt::Debug for SpillFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpillFile")
            .field("path", &self.path())
            .field("frames", &self.inner.frames)
            .field("bytes", &self.inner.bytes)
            .finish()
    }
}

impl SpillFile {
    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Payload bytes in the file.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.inner.bytes
    }

    /// Frames (pages) in the file.
    #[must_use]
    pub fn frames(&self) -> u64 {
        self.inner.frames
    }

    /// Size of the file on disk, headers included.
    #[must_use]
    pub fn file_len(&self) -> u64 {
        FILE_HEADER as u64 + self.inner.frames * FRAME_HEADER as u64 + self.inner.bytes
    }

    /// Opens a reader with one page buffer and `read_ahead` more pages of
    /// buffered read-ahead, all charged to `reservation`.
    ///
    /// # Errors
    ///
    /// [`SpillError::Io`] when the file cannot be opened (for example it was
    /// deleted), [`SpillError::Corrupt`] for a bad file header,
    /// [`SpillError::Memory`] when the buffers do not fit the reservation.
    pub fn reader(
        &self,
        reservation: &MemoryReservation,
        read_ahead: usize,
    ) -> Result<SpillReader, SpillError> {
        let page = reservation.allocate_page()?;
        let buffer = read_ahead * (self.inner.page_size + FRAME_HEADER);
        reservation.try_grow(buffer)?;
        let grown = GrownBytes { reservation: reservation.clone(), bytes: buffer };
        let path = self.path();
        let mut file = File::open(path).map_err(io_error(path, None))?;
        let mut header = [0u8; FILE_HEADER];
        match file.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(SpillError::Truncated {
                    path: path.to_path_buf(),
                    frame: 0,
                    expected: self.inner.frames,
                });
            }
            Err(e) => return Err(io_error(path, None)(e)),
        }
        if &header[..8] != FILE_MAGIC
            || u32::from_le_bytes([header[8], header[9], header[10], header[11]]) as usize
                != self.inner.page_size
        {
            return Err(SpillError::Corrupt {
                path: path.to_path_buf(),
                frame: 0,
                reason: "file header does not match (magic or page size)".into(),
            });
        }
        Ok(SpillReader {
            file: SpillFile::clone(self),
            input: BufReader::with_capacity(buffer.max(FRAME_HEADER), file),
            _grown: grown,
            page,
            fill: 0,
            pos: 0,
            frames_read: 0,
            scratch: Vec::new(),
        })
    }
}

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

/// Reads a spill file back, frame by frame, checking every frame.
pub struct SpillReader {
    file: SpillFile,
    input: BufReader<File>,
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

impl SpillReader {
    /// The file being read.
    #[must_use]
    pub fn file(&self) -> &SpillFile {
        &self.file
    }

    /// Loads the next frame into the page buffer; `false` after the last.
    fn load_frame(&mut self) -> Result<bool, SpillError> {
        let expected = self.file.frames();
        let frame = self.frames_read;
        if frame == expected {
            return Ok(false);
        }
        let path = self.file.path();
        let truncated = || SpillError::Truncated { path: path.to_path_buf(), frame, expected };
        let corrupt = |reason: String| SpillError::Corrupt { path: path.to_path_buf(), frame, reason };
        let mut header = [0u8; FRAME_HEADER];
        read_full(&mut self.input, &mut header)
            .map_err(io_error(path, Some(frame)))?
            .then_some(())
            .ok_or_else(truncated)?;
        let word = |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        if word(0) != FRAME_MAGIC {
            return Err(corrupt("frame magic does not match".into()));
        }
        let len = word(8) as usize;
        if len > self.page.size() {
            return Err(corrupt(format!("frame length {len} exceeds the page size {}", self.page.size())));
        }
        let payload = &mut self.page.as_mut_slice()[..len];
        read_full(&mut self.input, payload)
            .map_err(io_error(path, Some(frame)))?
            .then_some(())
            .ok_or_else(truncated)?;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&header[..12]);
        crc.update(payload);
        if crc.finalize() != word(12) {
            return Err(corrupt("checksum mismatch".into()));
        }
        if u64::from(word(4)) != frame {
            return Err(corrupt(format!("frame index {} where {frame} was expected", word(4))));
        }
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

    fn is_at_end(&mut self) -> Result<bool, SpillError> {
        while self.pos == self.fill {
            if !self.load_frame()? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
