//! Write-behind for [`SpillWriter`](super::SpillWriter): full staging pages
//! go to a background I/O thread that checksums and writes them while the
//! caller fills the next page, and come back for reuse.
//!
//! The pages circulate between two channels: `jobs` carries full pages (with
//! their frame index and length) to the thread, `free` carries written pages
//! back. The writer owns its staging page plus the free pages; nothing else
//! is allocated, so the pages charged when the writer was created bound its
//! memory. Frames are written in the order they were handed over, so the
//! file is byte for byte what a synchronous writer produces.
//!
//! The thread stops at the first failed write and returns the error; the
//! writer sees it at its next hand-off (the thread no longer takes or
//! returns pages) or at `finish`, by joining the thread. Dropping the writer
//! tells the thread to skip what is still queued and joins it before the
//! file is removed.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::{MAX_BATCH, SpillError, write_frames};
use crate::memory::Page;

/// One full page on its way to the file.
struct Job {
    page: Page,
    len: usize,
    frame: u64,
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
                drop(file);
                Ok(Self { jobs: Some(jobs), free, spare, cancel, thread: Some(handle), path })
            }
            Err(e) => Err((file, spare, e)),
        }
    }

    /// Hands the first `len` bytes of `staging` to the thread as frame
    /// `frame` and puts an empty page in its place, waiting for one to come
    /// back when none is on hand.
    ///
    /// # Errors
    ///
    /// The thread's error when it has stopped; `staging` is then unchanged.
    pub(super) fn hand_off(&mut self, staging: &mut Page, len: usize, frame: u64) -> Result<(), SpillError> {
        if self.jobs.is_none() {
            return Err(self.stop());
        }
        let next = match self.spare.pop() {
            Some(page) => page,
            None => match self.free.recv() {
                Ok(page) => page,
                // The thread dropped its end: it stopped on an error.
                Err(_) => return Err(self.stop()),
            },
        };
        let page = core::mem::replace(staging, next);
        let Some(jobs) = &self.jobs else {
            return Err(self.stop());
        };
        if let Err(crossbeam_channel::SendError(job)) = jobs.send(Job { page, len, frame }) {
            // Put the unsent page back where it was; the thread is gone.
            let next = core::mem::replace(staging, job.page);
            self.spare.push(next);
            return Err(self.stop());
        }
        Ok(())
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
/// queued into one system call, and hands them back.
fn io_loop(
    mut file: File,
    path: &std::path::Path,
    jobs: &Receiver<Job>,
    free: &Sender<Page>,
    cancel: &AtomicBool,
) -> Result<File, SpillError> {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Ok(job) = jobs.recv() {
        batch.push(job);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if !cancel.load(Ordering::Relaxed) {
            let mut payloads: [&[u8]; MAX_BATCH] = [&[]; MAX_BATCH];
            for (p, job) in payloads.iter_mut().zip(&batch) {
                *p = &job.page.as_slice()[..job.len];
            }
            write_frames(&mut file, path, batch[0].frame, &payloads[..batch.len()])?;
        }
        for job in batch.drain(..) {
            // The writer may be gone (dropped): the page then returns to
            // the pool.
            let _ = free.try_send(job.page);
        }
    }
    Ok(file)
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
        // Enough pages that a hand-off after the failure has to wait for a
        // page the thread never returns; the error shows there or at finish.
        let mut failed = None;
        for _ in 0..64 {
            if let Err(e) = writer.write_bytes(&[5u8; 1000]) {
                failed = Some(e);
                break;
            }
        }
        let err = match failed {
            Some(e) => {
                drop(writer);
                e
            }
            None => writer.finish().expect_err("the file is read-only"),
        };
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

    /// A later call after the failure keeps failing instead of writing.
    #[test]
    fn a_writer_stays_failed_after_a_background_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let memory = MemoryManager::builder().budget(64 << 10).page_size(4096).build().expect("memory");
        let reservation = memory.reservation("run");
        let mut writer =
            SpillWriter::create(&reservation, dir.path(), 2, |_, path| File::open(path)).expect("writer");
        let first = (0..64).find_map(|_| writer.write_bytes(&[1u8; 4096]).err());
        assert!(matches!(first, Some(SpillError::Io { frame: Some(0), .. })), "{first:?}");
        let again = writer.write_bytes(&[1u8; 4096]).and_then(|()| writer.write_bytes(&[1u8; 4096]));
        assert!(matches!(again, Err(SpillError::Io { .. })), "{again:?}");
        assert!(writer.finish().is_err());
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }
}
