//! [`ReadAhead`]: one background thread reading spill frames ahead for a
//! group of readers (the runs of one merge), so the caller's thread finds
//! the next frame read and checked when it gets there.
//!
//! Demand-driven double buffering: a reader hands each page it has used up
//! back to the thread, which reads the reader's next unrequested frame into
//! it, checks it and sends it back. Per file the requests are served in
//! order, so frames arrive in order. The pages are the readers' own,
//! charged to their reservations; the thread allocates nothing per frame.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::SpillError;
use super::reader::read_frame;
use crate::memory::Page;

/// Requests queued to the thread at most.
const REQUEST_QUEUE: usize = 256;

/// What a reader asks of the thread.
enum Request {
    /// Takes over an opened file (past its header).
    Open { id: u64, file: File, path: PathBuf, frames: u64, replies: Sender<Reply> },
    /// Reads frame `frame` of file `id` into `page`.
    Fill { id: u64, page: Page, frame: u64 },
    /// Closes file `id`.
    Close { id: u64 },
}

/// A page back from the thread: the frame's payload length, or why not.
pub(super) struct Reply {
    pub(super) page: Page,
    pub(super) result: Result<usize, SpillError>,
}

/// The thread, shared by the readers opened on it; joined when the last of
/// them and the [`ReadAhead`] handle are gone.
struct Shared {
    requests: Option<Sender<Request>>,
    thread: Option<JoinHandle<()>>,
    next_id: AtomicU64,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.requests = None;
        if let Some(handle) = self.thread.take() {
            // The thread only ends by its request channel closing; a panic
            // there has already dropped its pages.
            let _ = handle.join();
        }
    }
}

/// A background thread that reads and checks frames ahead for the readers
/// opened with [`SpillFile::reader_ahead`](super::SpillFile::reader_ahead).
///
/// One thread serves any number of readers (a merge opens all its runs on
/// one); it ends once this handle and every reader on it have dropped.
#[derive(Clone)]
pub struct ReadAhead {
    shared: Arc<Shared>,
}

impl core::fmt::Debug for ReadAhead {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReadAhead").finish_non_exhaustive()
    }
}

impl ReadAhead {
    /// Starts the thread.
    ///
    /// # Errors
    ///
    /// The OS error when no thread can be started (read synchronously then).
    pub fn new() -> io::Result<Self> {
        // Bounded (one allocation, none per request); a full queue only
        // makes a reader wait for the thread to catch up.
        let (requests, inbox) = crossbeam_channel::bounded::<Request>(REQUEST_QUEUE);
        let thread =
            std::thread::Builder::new().name("segrec-read-ahead".into()).spawn(move || serve(&inbox))?;
        Ok(Self {
            shared: Arc::new(Shared {
                requests: Some(requests),
                thread: Some(thread),
                next_id: AtomicU64::new(0),
            }),
        })
    }

    /// Registers an opened file (positioned past its header) of `frames`
    /// frames, and asks for its first frames into `pages`.
    pub(super) fn open(&self, file: File, path: PathBuf, frames: u64, pages: Vec<Page>) -> Client {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply_tx, replies) = crossbeam_channel::bounded(pages.len() + 1);
        let mut client = Client {
            shared: Arc::clone(&self.shared),
            id,
            replies,
            requested: 0,
            frames,
            in_flight: 0,
            failed: false,
        };
        client.send(Request::Open { id, file, path, frames, replies: reply_tx });
        for page in pages {
            client.request(page);
        }
        client
    }
}

/// A reader's end: the frames it asked for and not yet received.
pub(super) struct Client {
    shared: Arc<Shared>,
    id: u64,
    replies: Receiver<Reply>,
    /// The next frame to ask for.
    requested: u64,
    frames: u64,
    in_flight: usize,
    /// A frame failed: the replies after it are for later frames, and no
    /// more are asked for, so every later call fails too.
    failed: bool,
}

impl Client {
    fn send(&self, request: Request) -> bool {
        self.shared.requests.as_ref().is_some_and(|r| r.send(request).is_ok())
    }

    /// Asks for the next frame into `page`; past the last frame the page is
    /// simply dropped (back to the pool).
    fn request(&mut self, page: Page) {
        if self.requested < self.frames
            && self.send(Request::Fill { id: self.id, page, frame: self.requested })
        {
            self.requested += 1;
            self.in_flight += 1;
        }
    }

    /// Swaps `page` (used up) for the next frame's page and returns that
    /// frame's payload length; the old page goes to read a later frame.
    pub(super) fn next(&mut self, page: &mut Page, path: &std::path::Path) -> Result<usize, SpillError> {
        if self.failed {
            return Err(SpillError::Io {
                path: path.to_path_buf(),
                frame: None,
                source: io::Error::other("an earlier frame of this file failed to read"),
            });
        }
        let reply = self.replies.recv().map_err(|_| SpillError::Io {
            path: path.to_path_buf(),
            frame: None,
            source: io::Error::other("the read-ahead thread stopped"),
        })?;
        self.in_flight -= 1;
        let used = core::mem::replace(page, reply.page);
        match reply.result {
            Ok(len) => {
                self.request(used);
                Ok(len)
            }
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Take the pages still out before closing, so they are back in the
        // pool when the reader is gone.
        while self.in_flight > 0 && self.replies.recv().is_ok() {
            self.in_flight -= 1;
        }
        self.send(Request::Close { id: self.id });
    }
}

/// An open file on the thread.
struct Open {
    file: File,
    path: PathBuf,
    frames: u64,
    replies: Sender<Reply>,
}

/// The thread: serves requests in arrival order until every sender is gone.
fn serve(inbox: &Receiver<Request>) {
    let mut files: HashMap<u64, Open> = HashMap::new();
    for request in inbox {
        match request {
            Request::Open { id, file, path, frames, replies } => {
                files.insert(id, Open { file, path, frames, replies });
            }
            Request::Fill { id, mut page, frame } => {
                let Some(open) = files.get_mut(&id) else { continue };
                let result = read_frame(&mut open.file, &mut page, &open.path, frame, open.frames);
                // The reader may be gone: the page then returns to the pool.
                let _ = open.replies.send(Reply { page, result });
            }
            Request::Close { id } => {
                // Possibly the file's last handle, after its name is gone.
                if let Some(open) = files.remove(&id) {
                    super::reaper::close(open.file);
                }
            }
        }
    }
}
