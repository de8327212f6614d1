//! Closing removed spill files off the caller's thread.
//!
//! Removing a file of a few tens of megabytes costs milliseconds on a
//! filesystem such as ext4: its blocks and cached pages are freed when its
//! last name and last handle are gone, on the thread that lets go last. A
//! sort that ends by dropping a dozen run files would spend that at its
//! very end, with nothing left to overlap it. So a spill file's name is
//! unlinked on the caller's thread while a handle is still open (which
//! only removes the name: the directory is clean at once), and its handles
//! are closed by one background thread, which then frees the blocks.

use std::fs::File;
use std::sync::OnceLock;

use crossbeam_channel::Sender;

/// The reaper's queue, or `None` when its thread could not be started
/// (files are then closed on the caller's thread).
fn reaper() -> Option<&'static Sender<File>> {
    static REAPER: OnceLock<Option<Sender<File>>> = OnceLock::new();
    REAPER
        .get_or_init(|| {
            let (tx, rx) = crossbeam_channel::unbounded::<File>();
            // Lives as long as the process, idle in `recv` between files.
            std::thread::Builder::new()
                .name("segrec-spill-reaper".into())
                .spawn(move || rx.iter().for_each(drop))
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// Starts the reaper thread if it is not running yet: done when a spill
/// file is finished, so the thread is not spawned (and briefly named after
/// its parent) by whichever thread happens to close a file first.
pub(super) fn start() {
    let _ = reaper();
}

/// Closes `file` (a handle on a spill file that may be unlinked already)
/// on the reaper thread.
pub(super) fn close(file: File) {
    match reaper() {
        Some(tx) => {
            // The thread never drops its end, so a failed send only hands
            // the file back; close it here then.
            if let Err(e) = tx.send(file) {
                drop(e.into_inner());
            }
        }
        None => drop(file),
    }
}
