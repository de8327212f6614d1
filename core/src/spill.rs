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
//!
//! # Write-behind
//!
//! A writer made by [`SpillWriter::write_behind_in`] hands each full staging
//! page to a background I/O thread, which checksums and writes it while the
//! caller fills the next one (double buffering, as a database's log writer
//! or Flink's asynchronous block writer do), then hands the page back. The
//! pages (2 to [`MAX_WRITE_BEHIND_PAGES`]) are all charged to the
//! reservation; the file is the same as a synchronous writer's.
//!
//! # Read-ahead
//!
//! Readers opened with [`SpillFile::reader_ahead`] share one [`ReadAhead`]
//! thread, which reads and checks each reader's next frames into the
//! reader's own pages while the caller works through the current one (a
//! merge opens all its runs on one thread).

use core::fmt;
use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tempfile::TempPath;
use thiserror::Error;

use crate::memory::{MemoryError, MemoryManager, MemoryReservation, Page};
use crate::view::ByteSink;

mod read_ahead;
mod reader;
mod reaper;
mod write_behind;

pub use read_ahead::ReadAhead;
pub use reader::SpillReader;
use write_behind::WriteBehind;

const FILE_MAGIC: &[u8; 8] = b"SEGRSPL1";
const FRAME_MAGIC: u32 = u32::from_le_bytes(*b"SGPG");
const FILE_HEADER: usize = 16;
const FRAME_HEADER: usize = 16;

/// The most pages a write-behind writer circulates.
pub const MAX_WRITE_BEHIND_PAGES: usize = 64;

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

/// The header of frame `frame` holding `payload`, checksum included.
fn frame_header(path: &Path, frame: u64, payload: &[u8]) -> Result<[u8; FRAME_HEADER], SpillError> {
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
    Ok(header)
}

fn write_frame(file: &mut File, path: &Path, frame: u64, payload: &[u8]) -> Result<(), SpillError> {
    write_frames(file, path, frame, &[payload])
}

/// The most frames [`write_frames`] takes at once.
const MAX_BATCH: usize = 8;

/// Writes `payloads` (at most [`MAX_BATCH`]) as consecutive frames from
/// index `first`, headers and payloads gathered into as few system calls as
/// the OS takes (one, usually).
fn write_frames(file: &mut File, path: &Path, first: u64, payloads: &[&[u8]]) -> Result<(), SpillError> {
    debug_assert!(payloads.len() <= MAX_BATCH);
    let mut headers = [[0u8; FRAME_HEADER]; MAX_BATCH];
    for (i, (header, payload)) in headers.iter_mut().zip(payloads).enumerate() {
        *header = frame_header(path, first + i as u64, payload)?;
    }
    let mut slices = [IoSlice::new(&[]); 2 * MAX_BATCH];
    for (i, (header, payload)) in headers.iter().zip(payloads).enumerate() {
        slices[2 * i] = IoSlice::new(header);
        slices[2 * i + 1] = IoSlice::new(payload);
    }
    let mut pending = &mut slices[..2 * payloads.len()];
    let mut written = 0usize;
    while !pending.is_empty() {
        match file.write_vectored(pending) {
            Ok(0) => {
                let source = io::Error::new(io::ErrorKind::WriteZero, "failed to write whole frames");
                return Err(io_at(path, first, payloads, written)(source));
            }
            Ok(n) => {
                written += n;
                IoSlice::advance_slices(&mut pending, n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_at(path, first, payloads, written)(e)),
        }
    }
    Ok(())
}

/// An I/O error naming the frame that `written` bytes into a batch of
/// frames from `first` stopped in.
fn io_at<'a>(
    path: &'a Path,
    first: u64,
    payloads: &[&[u8]],
    written: usize,
) -> impl FnOnce(io::Error) -> SpillError + 'a {
    let mut end = 0;
    let done = payloads
        .iter()
        .take_while(|p| {
            end += FRAME_HEADER + p.len();
            end <= written
        })
        .count();
    io_error(path, Some(first + done as u64))
}

/// Where sealed pages go.
enum Output {
    /// Written on the caller's thread.
    Direct(File),
    /// Handed to a background I/O thread.
    Behind(WriteBehind),
}

/// Writes a byte stream (or whole pages) into a new spill file.
///
/// [`new`](Self::new) and [`new_in`](Self::new_in) write each page as it
/// fills, on the caller's thread; [`write_behind_in`](Self::write_behind_in)
/// writes them on a background thread (see the [module docs](self)).
pub struct SpillWriter {
    manager: MemoryManager,
    /// Before `path`: a write-behind thread is joined before the file is
    /// removed.
    output: Output,
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
            .field("write_behind", &self.is_write_behind())
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
        Self::new_in(reservation, reservation.manager().spill_dir())
    }

    /// Creates a spill file in `dir` (instead of the manager's spill
    /// directory), with one staging page taken from `reservation`.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn new_in(reservation: &MemoryReservation, dir: &Path) -> Result<Self, SpillError> {
        Self::create(reservation, dir, 1, |file, _| Ok(file))
    }

    /// Creates a spill file in `dir` whose full pages are written by a
    /// background I/O thread while the caller fills the next one.
    ///
    /// `pages` (clamped to 2..=[`MAX_WRITE_BEHIND_PAGES`]) are taken from
    /// `reservation`: one staging page and the rest in flight. Two or three
    /// overlap filling with writing page by page; more let the thread write
    /// a stream's tail while the caller goes on to other work. When the
    /// reservation refuses every page past the first, or no thread can be
    /// started, the writer writes synchronously as [`new_in`](Self::new_in)
    /// does ([`is_write_behind`](Self::is_write_behind) tells). A failed
    /// background write surfaces as [`SpillError::Io`], naming the file and
    /// the frame, from the call that hands over the next page or from
    /// [`finish`](Self::finish).
    ///
    /// One thread per writer: meant for one long sequential stream (a sort
    /// run), not for the many partitions a hash join keeps open.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    ///
    /// # Examples
    ///
    /// ```
    /// use segrec_core::{MemoryManager, SpillWriter};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let memory = MemoryManager::builder().budget(1 << 20).page_size(4096).build()?;
    /// let reservation = memory.reservation("run");
    /// let mut writer = SpillWriter::write_behind_in(&reservation, dir.path(), 3)?;
    /// assert!(writer.is_write_behind());
    /// writer.write_bytes(&[7u8; 10_000])?;
    /// let file = writer.finish()?;
    /// assert_eq!((file.bytes(), file.frames()), (10_000, 3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_behind_in(
        reservation: &MemoryReservation,
        dir: &Path,
        pages: usize,
    ) -> Result<Self, SpillError> {
        Self::create(reservation, dir, pages.clamp(2, MAX_WRITE_BEHIND_PAGES), |file, _| Ok(file))
    }

    /// Creates the file with `pages` staging pages (write-behind from two);
    /// `reopen` may swap the file handle after the header is written (tests
    /// use it to make writes fail).
    fn create(
        reservation: &MemoryReservation,
        dir: &Path,
        pages: usize,
        reopen: impl FnOnce(File, &Path) -> io::Result<File>,
    ) -> Result<Self, SpillError> {
        let staging = reservation.allocate_page()?;
        let manager = reservation.manager();
        let named = tempfile::Builder::new()
            .prefix("segrec-")
            .suffix(".spill")
            .tempfile_in(dir)
            .map_err(io_error(dir, None))?;
        let (mut file, path) = named.into_parts();
        let mut header = [0u8; FILE_HEADER];
        header[..8].copy_from_slice(FILE_MAGIC);
        header[8..12].copy_from_slice(&(staging.size() as u32).to_le_bytes());
        file.write_all(&header).map_err(io_error(&path, None))?;
        let file = reopen(file, &path).map_err(io_error(&path, None))?;
        manager.note_spill_file();
        // Past the staging page, whatever the budget grants.
        let spare: Vec<Page> = (1..pages).map_while(|_| reservation.allocate_page().ok()).collect();
        let output = if spare.is_empty() {
            Output::Direct(file)
        } else {
            match WriteBehind::start(file, path.to_path_buf(), spare) {
                Ok(behind) => Output::Behind(behind),
                // No thread: write on this one (the pages go back).
                Err((file, _pages, _)) => Output::Direct(file),
            }
        };
        Ok(Self { manager, output, path, staging, fill: 0, frames: 0, bytes: 0, scratch: Vec::new() })
    }

    /// Whether full pages are written by a background thread.
    #[must_use]
    pub fn is_write_behind(&self) -> bool {
        matches!(self.output, Output::Behind(_))
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the next frame starts in the file.
    fn offset(&self) -> u64 {
        FILE_HEADER as u64 + self.frames * FRAME_HEADER as u64 + self.bytes
    }

    /// Bytes of payload written so far.
    #[must_use]
    pub fn bytes_written(&self) -> u64 {
        self.bytes + self.fill as u64
    }

    /// Seals the staging page as the next frame (once per page: out of the
    /// record loops' way).
    #[inline(never)]
    fn flush_staging(&mut self) -> Result<(), SpillError> {
        if self.fill == 0 {
            return Ok(());
        }
        let at = self.offset();
        match &mut self.output {
            Output::Direct(file) => {
                write_frame(file, &self.path, self.frames, &self.staging.as_slice()[..self.fill])?;
            }
            Output::Behind(behind) => behind.hand_off(&mut self.staging, self.fill, self.frames, at)?,
        }
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
        let at = self.offset();
        match &mut self.output {
            Output::Direct(file) => write_frame(file, &self.path, self.frames, payload)?,
            Output::Behind(behind) => {
                // Through the staging page, which is empty now.
                self.staging.as_mut_slice()[..payload.len()].copy_from_slice(payload);
                behind.hand_off(&mut self.staging, payload.len(), self.frames, at)?;
            }
        }
        self.frames += 1;
        self.bytes += payload.len() as u64;
        self.manager.note_spilled_bytes(payload.len() as u64);
        Ok(())
    }

    /// Bytes the current frame can still take before [`write_bytes`]
    /// seals it and starts the next.
    ///
    /// [`write_bytes`]: Self::write_bytes
    #[must_use]
    pub fn frame_room(&self) -> usize {
        self.staging.size() - self.fill
    }

    /// Seals what was written since the last frame as a frame of its own
    /// (nothing when that is nothing), so the next bytes start a frame: a
    /// reader's [`next_page`](SpillReader::next_page) then returns them
    /// apart from what came before.
    ///
    /// # Errors
    ///
    /// [`SpillError::Io`] on a write failure.
    pub fn end_frame(&mut self) -> Result<(), SpillError> {
        self.flush_staging()
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
        let mut file = match self.output {
            Output::Direct(file) => file,
            Output::Behind(behind) => behind.finish()?,
        };
        file.flush().map_err(io_error(&self.path, None))?;
        reaper::start();
        Ok(SpillFile {
            inner: Arc::new(SpillFileInner {
                path: Some(self.path),
                frames: self.frames,
                bytes: self.bytes,
                page_size: self.staging.size(),
            }),
        })
    }
}

impl ByteSink for SpillWriter {
    type Error = SpillError;

    #[inline]
    fn write_with<E: From<SpillError>>(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        // The common case, inlined into record loops: the bytes fit the
        // staging page.
        let at = self.fill;
        if len <= self.staging.size() - at {
            fill(&mut self.staging.as_mut_slice()[at..at + len])?;
            self.fill += len;
            return Ok(());
        }
        self.write_with_cold(len, fill)
    }
}

impl SpillWriter {
    /// `write_with` when the staging page is full (or the bytes exceed it).
    #[cold]
    #[inline(never)]
    fn write_with_cold<E: From<SpillError>>(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if len <= self.staging.size() {
            self.flush_staging()?;
            fill(&mut self.staging.as_mut_slice()[..len])?;
            self.fill = len;
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
    /// Taken out only in `drop`.
    path: Option<TempPath>,
    frames: u64,
    bytes: u64,
    page_size: usize,
}

impl Drop for SpillFileInner {
    fn drop(&mut self) {
        let Some(path) = self.path.take() else { return };
        // Held open across the unlink, which then only removes the name;
        // the blocks are freed at the last close, on the reaper's thread.
        let held = File::open(&path).ok();
        drop(path);
        if let Some(file) = held {
            reaper::close(file);
        }
    }
}

/// A finished spill file. Clones share the file, which is removed when the
/// last clone and the last reader drop: its name at once, its blocks by a
/// background thread (freeing them takes milliseconds for large files).
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
        self.inner.path.as_deref().unwrap_or(Path::new(""))
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
        SpillReader::open(self, reservation, read_ahead)
    }

    /// Opens a reader whose frames `read_ahead`'s background thread reads
    /// and checks ahead, `pages` (at least 1) frames ahead; the reader's page
    /// and those are charged to `reservation`. Errors reach the caller as
    /// from [`reader`](Self::reader), naming the file and the frame.
    ///
    /// # Errors
    ///
    /// As [`reader`](Self::reader).
    ///
    /// # Examples
    ///
    /// ```
    /// use segrec_core::{ByteSource, MemoryManager, ReadAhead, SpillWriter};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let memory = MemoryManager::builder().budget(1 << 20).page_size(4096).build()?;
    /// let reservation = memory.reservation("merge");
    /// let mut writer = SpillWriter::new_in(&reservation, dir.path())?;
    /// writer.write_bytes(&[9u8; 10_000])?;
    /// let file = writer.finish()?;
    /// let read_ahead = ReadAhead::new()?;
    /// let mut reader = file.reader_ahead(&reservation, &read_ahead, 2)?;
    /// assert_eq!(reader.read_bytes(10_000)?, &[9u8; 10_000][..]);
    /// assert!(reader.is_at_end()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reader_ahead(
        &self,
        reservation: &MemoryReservation,
        read_ahead: &ReadAhead,
        pages: usize,
    ) -> Result<SpillReader, SpillError> {
        SpillReader::open_ahead(self, reservation, read_ahead, pages)
    }
}
