//! Spill files: round trip, damage of every kind is an error naming the file,
//! and nothing is left on disk.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use segrec_core::{ByteSink, ByteSource, MemoryError, MemoryManager, SpillError, SpillWriter};

fn manager(dir: &Path) -> MemoryManager {
    MemoryManager::builder().budget(64 << 10).page_size(4096).spill_dir(dir).build().unwrap()
}

fn files_in(dir: &Path) -> usize {
    fs::read_dir(dir).unwrap().count()
}

fn stream(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Writes `data` in uneven chunks through both write paths.
fn write_file(memory: &MemoryManager, data: &[u8]) -> segrec_core::SpillFile {
    let r = memory.reservation("spill-test");
    write_chunks(SpillWriter::new(&r).unwrap(), data)
}

/// Writes `data` through `w` in uneven chunks, by `write_bytes` and
/// `write_with` in turn.
fn write_chunks(mut w: SpillWriter, data: &[u8]) -> segrec_core::SpillFile {
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let n = rest.len().min([1, 100, 4096, 9000, 17][i % 5]);
        if i % 2 == 0 {
            w.write_bytes(&rest[..n]).unwrap();
        } else {
            let chunk = &rest[..n];
            w.write_with(n, |out: &mut [u8]| -> Result<(), SpillError> {
                out.copy_from_slice(chunk);
                Ok(())
            })
            .unwrap();
        }
        rest = &rest[n..];
        i += 1;
    }
    w.finish().unwrap()
}

fn read_all(memory: &MemoryManager, file: &segrec_core::SpillFile) -> Result<Vec<u8>, SpillError> {
    let r = memory.reservation("read");
    let mut reader = file.reader(&r, 2)?;
    let mut out = Vec::new();
    while !reader.is_at_end()? {
        out.extend_from_slice(reader.read_bytes(700.min(file.bytes() as usize - out.len()))?);
    }
    Ok(out)
}

#[test]
fn read_next_reads_as_is_at_end_and_read_bytes_do() {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(dir.path());
    let data = stream(50_000);
    let file = write_file(&memory, &data);
    let r = memory.reservation("read");
    // Reads that end inside a frame, on its end, and straddle frames (the
    // frames are uneven), then the end of the file, by a fixed length and
    // by a short last one.
    for len in [1, 13, 700, 4096, 5000] {
        let mut reader = file.reader(&r, 1).unwrap();
        let mut out = Vec::new();
        // At the end the length asked is 0, and the answer the end.
        while let Some(bytes) = reader.read_next(len.min(data.len() - out.len())).unwrap() {
            out.extend_from_slice(bytes);
        }
        assert_eq!(out, data, "len {len}");
        assert_eq!(reader.read_next(len).unwrap(), None, "len {len}: the end, again");
        assert_eq!(reader.read_next(0).unwrap(), None);
    }
    // Past the end mid-read is the reader's error, not `None`.
    let mut reader = file.reader(&r, 0).unwrap();
    reader.read_bytes(data.len() - 3).unwrap();
    assert!(matches!(reader.read_next(4), Err(SpillError::UnexpectedEnd { requested: 4, .. })));
    drop(reader);
    // No bytes asked inside the stream: an empty read, not the end.
    let mut reader = file.reader(&r, 0).unwrap();
    assert_eq!(reader.read_next(0).unwrap(), Some(&[][..]));
    drop(reader);
    drop(file);
    assert_eq!(files_in(dir.path()), 0);
}

#[test]
fn round_trip_and_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(dir.path());
    let data = stream(100_000);
    let file = write_file(&memory, &data);
    assert_eq!(file.bytes(), 100_000);
    assert_eq!((memory.stats().spill_files, memory.stats().spilled_bytes), (1, 100_000));
    // `write_with` keeps a chunk that fits a page inside one frame, so a few
    // frames end early.
    assert!((100_000u64.div_ceil(4096)..=100_000u64.div_ceil(4096) + 8).contains(&file.frames()));
    assert_eq!(fs::metadata(file.path()).unwrap().len(), file.file_len());
    assert_eq!(read_all(&memory, &file).unwrap(), data);
    // Page-level reading sees the same bytes.
    let r = memory.reservation("pages");
    let mut reader = file.reader(&r, 0).unwrap();
    let mut pages = Vec::new();
    while let Some(p) = reader.next_page().unwrap() {
        pages.extend_from_slice(p);
    }
    assert_eq!(pages, data);
    drop(reader);
    assert_eq!(memory.stats().in_use, 0, "reader buffers returned");
    assert_eq!(files_in(dir.path()), 1);
    drop(file);
    assert_eq!(files_in(dir.path()), 0, "file removed with its owner");
    assert!(memory.stats().peak <= memory.budget());
}

#[test]
fn empty_file_reads_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(dir.path());
    let file = write_file(&memory, &[]);
    assert_eq!(file.frames(), 0);
    assert_eq!(read_all(&memory, &file).unwrap(), Vec::<u8>::new());
    let r = memory.reservation("r");
    let mut reader = file.reader(&r, 1).unwrap();
    assert!(matches!(reader.read_bytes(1), Err(SpillError::UnexpectedEnd { requested: 1, .. })));
}

fn damage(path: &Path, offset: u64, f: impl FnOnce(u8) -> u8) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset as usize] = f(bytes[offset as usize]);
    let mut file = fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.write_all(&bytes).unwrap();
}

#[test]
fn every_flipped_byte_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(dir.path());
    let data = stream(9000);
    let file = write_file(&memory, &data);
    let len = file.file_len();
    // Flip one bit in each of a spread of positions: headers and payloads.
    for offset in (0..len).step_by(97).chain([8, 16, 20, 24, 28, 32, len - 1]) {
        damage(file.path(), offset, |b| b ^ 0x10);
        let err = read_all(&memory, &file).expect_err(&format!("flip at {offset} went unnoticed"));
        let message = err.to_string();
        assert!(message.contains(&file.path().display().to_string()), "error names the file: {message}");
        assert!(
            matches!(err, SpillError::Corrupt { .. } | SpillError::Truncated { .. }),
            "flip at {offset}: {err:?}"
        );
        damage(file.path(), offset, |b| b ^ 0x10);
    }
    assert_eq!(read_all(&memory, &file).unwrap(), data, "undamaged again");
    assert_eq!(memory.stats().in_use, 0);
}

#[test]
fn truncation_and_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(dir.path());
    let file = write_file(&memory, &stream(20_000));
    let full = file.file_len();
    for cut in [full - 1, full - 4096, 40, 16, 3, 0] {
        fs::OpenOptions::new().write(true).open(file.path()).unwrap().set_len(cut).unwrap();
        let err = read_all(&memory, &file).unwrap_err();
        assert!(matches!(err, SpillError::Truncated { .. }), "cut at {cut}: {err:?}");
    }
    fs::remove_file(file.path()).unwrap();
    let err = read_all(&memory, &file).unwrap_err();
    match &err {
        SpillError::Io { path, source, .. } => {
            assert_eq!(path, file.path());
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    drop(file);
    assert_eq!(files_in(dir.path()), 0);
    assert_eq!(memory.stats().in_use, 0);
}

#[test]
fn unwritable_directory_and_abandoned_writer() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("does-not-exist");
    let memory = manager(&missing);
    let err = SpillWriter::new(&memory.reservation("r")).unwrap_err();
    assert!(matches!(&err, SpillError::Io { path, .. } if path == &missing), "{err:?}");
    assert_eq!(memory.stats().in_use, 0, "staging page returned on error");

    let memory = manager(dir.path());
    let r = memory.reservation("r");
    let mut w = SpillWriter::new(&r).unwrap();
    w.write_bytes(&stream(50_000)).unwrap();
    assert_eq!(files_in(dir.path()), 1);
    drop(w);
    assert_eq!(files_in(dir.path()), 0, "an unfinished file is removed");
}

#[test]
fn buffers_come_from_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(dir.path()); // 16 pages
    let file = write_file(&memory, &stream(10_000));
    let r = memory.reservation_with_limit("tight", 3 * 4096);
    let err = file.reader(&r, 4).unwrap_err();
    assert!(matches!(err, SpillError::Memory(MemoryError::Exhausted { .. })), "{err:?}");
    assert_eq!(r.held(), 0);
    let reader = file.reader(&r, 1).unwrap();
    assert_eq!(r.held(), 4096 + 4096 + 16);
    drop(reader);
    assert_eq!(r.held(), 0);
}

/// Write-behind: the file is byte for byte the synchronous writer's, at
/// sizes around the page edges and with 2 to 4 pages in circulation, all of
/// them charged to the reservation while the writer lives.
#[test]
fn write_behind_writes_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(dir.path());
    for pages in 2..=4 {
        for len in [0, 1, 4095, 4096, 4097, 50_000, 300_000] {
            let data = stream(len);
            let expected = write_file(&memory, &data);
            let r = memory.reservation("behind");
            let w = SpillWriter::write_behind_in(&r, dir.path(), pages).unwrap();
            assert!(w.is_write_behind());
            assert_eq!(r.held(), pages * 4096, "every page is charged");
            let file = write_chunks(w, &data);
            assert_eq!(r.held(), 0, "pages returned at finish");
            assert_eq!((file.bytes(), file.frames()), (expected.bytes(), expected.frames()));
            assert_eq!(fs::read(file.path()).unwrap(), fs::read(expected.path()).unwrap(), "{pages} {len}");
            assert_eq!(read_all(&memory, &file).unwrap(), data);
        }
    }
    assert_eq!(files_in(dir.path()), 0);
    assert_eq!(memory.stats().in_use, 0);
    assert!(memory.stats().peak <= memory.budget());
}

/// Whole pages through `write_page`, mixed with streamed bytes.
#[test]
fn write_behind_whole_pages() {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(dir.path());
    let r = memory.reservation("behind");
    let mut w = SpillWriter::write_behind_in(&r, dir.path(), 3).unwrap();
    let data = stream(30_000);
    let mut frames = Vec::new();
    for (i, chunk) in data.chunks(3000).enumerate() {
        if i % 3 == 0 {
            w.write_bytes(chunk).unwrap();
            frames.push(None);
        } else {
            w.write_page(chunk).unwrap();
            frames.push(Some(chunk.len()));
        }
    }
    w.write_page(&[]).unwrap();
    assert!(w.write_page(&stream(4097)).is_err(), "a frame larger than a page is refused");
    let file = w.finish().unwrap();
    assert_eq!(file.bytes(), 30_000);
    let mut reader = file.reader(&r, 0).unwrap();
    let mut back = Vec::new();
    let mut lens = Vec::new();
    while let Some(p) = reader.next_page().unwrap() {
        back.extend_from_slice(p);
        lens.push(p.len());
    }
    assert_eq!(back, data);
    // Streamed chunks are sealed by the page after them; the empty page
    // is a frame of its own.
    assert_eq!(lens, [3000, 3000, 3000, 3000, 3000, 3000, 3000, 3000, 3000, 3000, 0]);
}

/// A budget that refuses the extra pages gets a synchronous writer; one
/// that grants some of them, a write-behind writer with what it granted.
#[test]
fn write_behind_falls_back_inside_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(dir.path());
    let one = memory.reservation_with_limit("one page", 4096);
    let w = SpillWriter::write_behind_in(&one, dir.path(), 4).unwrap();
    assert!(!w.is_write_behind());
    let data = stream(20_000);
    assert_eq!(read_all(&memory, &write_chunks(w, &data)).unwrap(), data);
    let two = memory.reservation_with_limit("two pages", 2 * 4096);
    let w = SpillWriter::write_behind_in(&two, dir.path(), 4).unwrap();
    assert!(w.is_write_behind());
    assert_eq!(two.held(), 2 * 4096);
    assert_eq!(read_all(&memory, &write_chunks(w, &data)).unwrap(), data);
    let none = memory.reservation_with_limit("none", 0);
    let err = SpillWriter::write_behind_in(&none, dir.path(), 2).unwrap_err();
    assert!(matches!(err, SpillError::Memory(MemoryError::Exhausted { .. })), "{err:?}");
    assert_eq!(files_in(dir.path()), 0);
    assert_eq!(memory.stats().in_use, 0);
}

/// Dropping a write-behind writer mid-way (pages still queued) removes the
/// file and returns every page.
#[test]
fn write_behind_dropped_midway() {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(dir.path());
    for stop in [0, 1, 4096, 50_000] {
        let r = memory.reservation("behind");
        let mut w = SpillWriter::write_behind_in(&r, dir.path(), 4).unwrap();
        w.write_bytes(&stream(stop)).unwrap();
        assert_eq!(files_in(dir.path()), 1);
        drop(w);
        assert_eq!(files_in(dir.path()), 0, "an unfinished file is removed");
        assert_eq!(memory.stats().in_use, 0, "pages returned");
    }
    let missing = dir.path().join("does-not-exist");
    let r = memory.reservation("r");
    let err = SpillWriter::write_behind_in(&r, &missing, 3).unwrap_err();
    assert!(matches!(&err, SpillError::Io { path, .. } if path == &missing), "{err:?}");
    assert_eq!(memory.stats().in_use, 0);
}

/// Read-ahead: readers on one background thread, interleaved, see exactly
/// the bytes written, with 1 to 3 frames in flight each, and hand every page
/// back when done or dropped half-way.
#[test]
fn read_ahead_readers_share_one_thread() {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(dir.path());
    let data: Vec<Vec<u8>> = [0, 1, 4095, 4096, 4097, 30_000].iter().map(|&n| stream(n)).collect();
    let files: Vec<_> = data.iter().map(|d| write_file(&memory, d)).collect();
    let read_ahead = segrec_core::ReadAhead::new().unwrap();
    for pages in 1..=3 {
        let r = memory.reservation("read-ahead");
        let mut readers: Vec<_> =
            files.iter().map(|f| f.reader_ahead(&r, &read_ahead, pages).unwrap()).collect();
        // A page each, and one per frame asked for ahead (short files need
        // fewer).
        let charged: usize = files.iter().map(|f| 1 + pages.min(f.frames() as usize)).sum();
        assert_eq!(r.held(), charged * 4096, "every page is charged");
        let mut out = vec![Vec::new(); files.len()];
        // Round robin, 700 bytes at a time, as a merge would.
        let mut live = true;
        while live {
            live = false;
            for (i, reader) in readers.iter_mut().enumerate() {
                if !reader.is_at_end().unwrap() {
                    let n = 700.min(data[i].len() - out[i].len());
                    out[i].extend_from_slice(reader.read_bytes(n).unwrap());
                    live = true;
                }
            }
        }
        assert_eq!(out, data);
        drop(readers);
        assert_eq!(r.held(), 0);
    }
    // Dropped after a few bytes, with frames in flight.
    let r = memory.reservation("half-way");
    let mut reader = files[5].reader_ahead(&r, &read_ahead, 3).unwrap();
    reader.read_bytes(10).unwrap();
    drop(reader);
    assert_eq!(memory.stats().in_use, 0);
    drop(files);
    assert_eq!(files_in(dir.path()), 0);
    assert!(memory.stats().peak <= memory.budget());
}

/// Damage found by the read-ahead thread reaches the reader as it does on
/// the caller's thread: corrupt or truncated, naming the file and frame.
#[test]
fn read_ahead_reports_damage_with_file_and_frame() {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(dir.path());
    let data = stream(20_000);
    let file = write_file(&memory, &data);
    let read_ahead = segrec_core::ReadAhead::new().unwrap();
    let read = |pages: usize| -> Result<Vec<u8>, SpillError> {
        let r = memory.reservation("read");
        let mut reader = file.reader_ahead(&r, &read_ahead, pages)?;
        let mut out = Vec::new();
        while !reader.is_at_end()? {
            out.extend_from_slice(reader.read_bytes(500.min(data.len() - out.len()))?);
        }
        Ok(out)
    };
    assert_eq!(read(2).unwrap(), data);
    // A flipped payload byte in the third frame.
    let offset = 16 + 2 * (16 + 4096) + 16 + 100;
    damage(file.path(), offset, |b| b ^ 0x01);
    match read(2).unwrap_err() {
        SpillError::Corrupt { path, frame, .. } => {
            assert_eq!(path, file.path());
            assert_eq!(frame, 2);
        }
        other => panic!("expected a corrupt frame, got {other:?}"),
    }
    damage(file.path(), offset, |b| b ^ 0x01);
    assert_eq!(read(1).unwrap(), data);
    let full = file.file_len();
    fs::OpenOptions::new().write(true).open(file.path()).unwrap().set_len(full - 10).unwrap();
    assert!(matches!(read(3), Err(SpillError::Truncated { .. })));
    fs::remove_file(file.path()).unwrap();
    assert!(matches!(read(1), Err(SpillError::Io { .. })));
    assert_eq!(memory.stats().in_use, 0);
}

/// A reader that reported a damaged frame keeps failing, on the read-ahead
/// thread as on the caller's: it never hands out the frame after the damaged
/// one as if it were the damaged one (the records of that frame would be
/// lost without an error), and never waits for a frame nobody asked for.
#[test]
fn read_ahead_keeps_failing_after_a_damaged_frame() {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(dir.path());
    let data = stream(20_000);
    let file = write_file(&memory, &data);
    // A flipped payload byte in the second frame (of five).
    damage(file.path(), 16 + (16 + 4096) + 16 + 100, |b| b ^ 0x01);
    let read_ahead = segrec_core::ReadAhead::new().unwrap();
    for ahead in [false, true] {
        let r = memory.reservation("read");
        let mut reader =
            if ahead { file.reader_ahead(&r, &read_ahead, 3) } else { file.reader(&r, 1) }.unwrap();
        assert_eq!(reader.read_bytes(4096).unwrap(), &data[..4096]);
        assert!(matches!(reader.read_bytes(1), Err(SpillError::Corrupt { frame: 1, .. })), "ahead: {ahead}");
        for _ in 0..4 {
            let again = reader.read_bytes(1).map(<[u8]>::to_vec);
            assert!(again.is_err(), "ahead: {ahead}: read {again:?} after a damaged frame");
        }
        drop(reader);
        assert_eq!(r.held(), 0);
    }
    assert_eq!(memory.stats().in_use, 0);
}
