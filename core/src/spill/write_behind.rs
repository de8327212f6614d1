//! Write-behind for [`SpillWriter`](super::SpillWriter): full staging pages
//! go to a background I/O thread that checksums and writes them while the
//! caller fills the next page, and come back for reuse.
//!
//! The pages circulate between two channels: `jobs` carries full pages (with
//! their frame index, length and offset in the file) to the thread, `free`
//! carries written pages back. The writer owns its staging page plus the
//! free pages; nothing else is allocated, so the pages charged when the
//! writer was created bound its memory. When no page is free (the thread is
//! behind, or has no core on a busy machine), the writer writes the full
//! page itself at its offset (a positioned write) rather than wait; the
//! thread seeks past such frames. Every frame lands at the offset it would
//! have in a synchronous writer's file, so the file is byte for byte the
//! same.
//!
//! The thread stops at the first failed write and returns the error; the
//! writer sees it at its next hand-off (the thread no longer takes or
//! returns pages) or at `finish`, by joining the thread. Dropping the writer
//! tells the thread to skip what is still queued and joins it before the
//! file is removed.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use super::{FILE_HEADER, FRAME_HEADER, MAX_BATCH, SpillError, frame_header, write_frames};
use crate::memory::Page;

/// One full page on its way to the file.
struct Job {
    page: Page,
    len: usize,
    frame: u64,
    /// Where the frame starts in the file.
    offset: u64,
}

/// The writer's end of a background I/O thread.
pub(super) struct WriteBehind {
    /// Full pages to the thread; `None` once the thread was told to stop.
    jobs: Option<Sender<Job>>,
    /// Written pages back from the thread.
    free: Receiver<Page>,
    /// Pages on hand, not yet used as staging.
    spare: Vec<Page>,
    /// Set on drop: skip the queued writes, the file is going away.
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<File, SpillError>>>,
    path: PathBuf,
    /// The caller's own handle, for frames it writes itself.
    file: File,
}

impl WriteBehind {
    /// Starts the thread writing into `file` (already past its header).
    /// `spare` are the pages besides the caller's staging page; on failure
    /// to start, the file and the pages come back.
    pub(super) fn start(
        file: File,
        path: PathBuf,
        spare: Vec<Page>,
    ) -> Result<Self, (File, Vec<Page>, io::Error)> {
        // Neither is ever full: at most every page is in one at once.
        let (jobs, job_rx) = crossbeam_channel::bounded::<Job>(spare.len() + 1);
        let (free_tx, free) = crossbeam_channel::bounded::<Page>(spare.len() + 1);
        let cancel = Arc::new(AtomicBool::new(false));
        // The thread gets its own handle, so a failed spawn leaves ours.
        let theirs = match file.try_clone() {
            Ok(f) => f,
            Err(e) => return Err((file, spare, e)),
        };
        let thread_path = path.clone();
        let thread_cancel = Arc::clone(&cancel);
        let spawned = std::thread::Builder::new()
            .name("segrec-spill-io".into())
            .spawn(move || io_loop(theirs, &thread_path, &job_rx, &free_tx, &thread_cancel));
        match spawned {
            Ok(handle) => {
                Ok(Self { jobs: Some(jobs), free, spare, cancel, thread: Some(handle), path, file })
            }
            Err(e) => Err((file, spare, e)),
        }
    }

    /// Hands the first `len` bytes of `staging` to the thread as frame
    /// `frame` (at `offset` in the file) and puts an empty page in its
    /// place. When every page is still queued, the caller writes the frame
    /// itself (at its offset) and keeps the page: on a busy machine the
    /// thread may have no core to run on, and waking it for each page would
    /// cost more than the write.
    ///
    /// # Errors
    ///
    /// The thread's error when it has stopped, or the caller's own write's.
    pub(super) fn hand_off(
        &mut self,
        staging: &mut Page,
        len: usize,
        frame: u64,
        offset: u64,
    ) -> Result<(), SpillError> {
        if self.jobs.is_none() {
            return Err(self.stop());
        }
        let next = match self.spare.pop() {
            Some(page) => page,
            None => match self.free.try_recv() {
                Ok(page) => page,
                Err(TryRecvError::Empty) => return self.write_here(staging, len, frame, offset),
                // The thread dropped its end: it stopped on an error.
                Err(TryRecvError::Disconnected) => return Err(self.stop()),
            },
        };
        let page = core::mem::replace(staging, next);
        let Some(jobs) = &self.jobs else {
            return Err(self.stop());
        };
        if let Err(crossbeam_channel::SendError(job)) = jobs.send(Job { page, len, frame, offset }) {
            // Put the unsent page back where it was; the thread is gone.
            let next = core::mem::replace(staging, job.page);
            self.spare.push(next);
            return Err(self.stop());
        }
        Ok(())
    }

    /// Writes a frame on the caller's thread, at its place in the file (the
    /// thread's writes elsewhere do not move it).
    #[cfg(unix)]
    fn write_here(&mut self, staging: &Page, len: usize, frame: u64, offset: u64) -> Result<(), SpillError> {
        use std::os::unix::fs::FileExt;

        let payload = &staging.as_slice()[..len];
        let header = frame_header(&self.path, frame, payload)?;
        self.file
            .write_all_at(&header, offset)
            .and_then(|()| self.file.write_all_at(payload, offset + FRAME_HEADER as u64))
            .map_err(|source| SpillError::Io { path: self.path.clone(), frame: Some(frame), source })
    }

    /// Without positioned writes, waits for the thread to return a page.
    #[cfg(not(unix))]
    fn write_here(
        &mut self,
        staging: &mut Page,
        len: usize,
        frame: u64,
        offset: u64,
    ) -> Result<(), SpillError> {
        match self.free.recv() {
            Ok(page) => {
                self.spare.push(page);
                self.hand_off(staging, len, frame, offset)
            }
            Err(_) => Err(self.stop()),
        }
    }

    /// Waits for every handed-off page to be written and returns the file.
    ///
    /// # Errors
    ///
    /// The first write that failed.
    pub(super) fn finish(mut self) -> Result<File, SpillError> {
        self.jobs = None;
        self.join()
    }

    /// Tells the thread no more pages come, waits for it and turns an
    /// early end into the error it reported.
    fn stop(&mut self) -> SpillError {
        self.jobs = None;
        match self.join() {
            Err(e) => e,
            Ok(_) => SpillError::Io {
                path: self.path.clone(),
                frame: None,
                source: io::Error::other("the spill I/O thread stopped early"),
            },
        }
    }

    fn join(&mut self) -> Result<File, SpillError> {
        let gone = || SpillError::Io {
            path: self.path.clone(),
            frame: None,
            source: io::Error::other("the spill I/O thread has already stopped"),
        };
        let handle = self.thread.take().ok_or_else(gone)?;
        handle.join().unwrap_or_else(|_| {
            Err(SpillError::Io {
                path: self.path.clone(),
                frame: None,
                source: io::Error::other("the spill I/O thread panicked"),
            })
        })
    }
}

impl Drop for WriteBehind {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.cancel.store(true, Ordering::Relaxed);
            self.jobs = None;
            // Dropped mid-way: the file is removed next, whatever the thread
            // reports.
            let _ = self.join();
        }
    }
}

/// The thread: writes the pages handed over, in order, gathering what is
/// queued and contiguous in the file into one system call, and hands them
/// back.
fn io_loop(
    mut file: File,
    path: &std::path::Path,
    jobs: &Receiver<Job>,
    free: &Sender<Page>,
    cancel: &AtomicBool,
) -> Result<File, SpillError> {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    // Past the file header, where the creator left the handle.
    let mut position = FILE_HEADER as u64;
    let mut held: Option<Job> = None;
    loop {
        let first = match held.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return Ok(file),
            },
        };
        let mut end = first.offset + (FRAME_HEADER + first.len) as u64;
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                // The caller wrote the frames between: a batch of its own.
                Ok(job) if job.offset != end => {
                    held = Some(job);
                    break;
                }
                Ok(job) => {
                    end += (FRAME_HEADER + job.len) as u64;
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        if !cancel.load(Ordering::Relaxed) {
            if batch[0].offset != position {
                file.seek(SeekFrom::Start(batch[0].offset)).map_err(|source| SpillError::Io {
                    path: path.to_path_buf(),
                    frame: Some(batch[0].frame),
                    source,
                })?;
            }
            let mut payloads: [&[u8]; MAX_BATCH] = [&[]; MAX_BATCH];
            for (p, job) in payloads.iter_mut().zip(&batch) {
                *p = &job.page.as_slice()[..job.len];
            }
            write_frames(&mut file, path, batch[0].frame, &payloads[..batch.len()])?;
            position = end;
        }
        for job in batch.drain(..) {
            // The writer may be gone (dropped): the page then returns to
            // the pool.
            let _ = free.try_send(job.page);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use crate::memory::MemoryManager;
    use crate::spill::{SpillError, SpillWriter};

    /// A write-behind writer whose file handle refuses writes (opened
    /// read-only after the header): the thread's first write fails, and the
    /// error reaches the caller naming the file and frame 0.
    #[test]
    fn a_failed_background_write_surfaces_with_file_and_frame() {
        let dir = tempfile::tempdir().expect("temp dir");
        let memory = MemoryManager::builder().budget(64 << 10).page_size(4096).build().expect("memory");
        let reservation = memory.reservation("run");
        let mut writer =
            SpillWriter::create(&reservation, dir.path(), 3, |_, path| File::open(path)).expect("writer");
        assert!(writer.is_write_behind());
        let path = writer.path().to_path_buf();
        // Two frames, each on a page on hand: both go to the thread, which
        // fails on the first; `finish` reports it.
        writer.write_bytes(&[5u8; 6000]).expect("staged, the thread fails later");
        let err = writer.finish().expect_err("the file is read-only");
        match err {
            SpillError::Io { path: p, frame, .. } => {
                assert_eq!(p, path);
                assert_eq!(frame, Some(0));
            }
            other => panic!("expected SpillError::Io, got {other:?}"),
        }
        assert_eq!(memory.stats().in_use, 0, "every page is back in the pool");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0, "the file is removed");
    }

    /// A later call after a failure keeps failing instead of writing.
    #[test]
    fn a_writer_stays_failed_after_a_background_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let memory = MemoryManager::builder().budget(64 << 10).page_size(4096).build().expect("memory");
        let reservation = memory.reservation("run");
        let mut writer =
            SpillWriter::create(&reservation, dir.path(), 2, |_, path| File::open(path)).expect("writer");
        // The thread's error, or the caller's own when it writes a frame
        // itself while the thread holds every page: either names a frame.
        let first = (0..64).find_map(|_| writer.write_bytes(&[1u8; 4096]).err());
        assert!(matches!(first, Some(SpillError::Io { frame: Some(_), .. })), "{first:?}");
        let again = writer.write_bytes(&[1u8; 4096]).and_then(|()| writer.write_bytes(&[1u8; 4096]));
        assert!(matches!(again, Err(SpillError::Io { .. })), "{again:?}");
        assert!(writer.finish().is_err());
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }
}
