//! Paged writer and reader: byte records of any size round-trip through
//! pages of any size, and running out of pages loses nothing.

use proptest::prelude::*;
use segrec_core::{MemoryError, MemoryManager, PagedReader, PagedWriter, RecordPointer, ViewError};

fn manager(page_size: usize, budget: usize) -> MemoryManager {
    MemoryManager::builder().budget(budget).page_size(page_size).build().unwrap()
}

fn record(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn records_round_trip_across_page_boundaries(
        page_shift in 12u32..=20,
        lens in prop::collection::vec(prop_oneof![0usize..64, 0usize..5000, 0usize..3_000_000], 1..40),
        via_write_with in any::<bool>(),
    ) {
        let page_size = 1usize << page_shift;
        let memory = manager(page_size, 256 << 20);
        let mut writer = PagedWriter::new(memory.reservation("prop"));
        let mut pointers = Vec::new();
        for (i, &len) in lens.iter().enumerate() {
            let bytes = record(i as u64, len);
            let p = if via_write_with {
                writer.write_with(len, |out: &mut [u8]| -> Result<(), MemoryError> {
                    out.copy_from_slice(&bytes);
                    Ok(())
                })?
            } else {
                writer.write(&bytes)?
            };
            pointers.push(p);
        }
        prop_assert_eq!(writer.len(), lens.iter().map(|&l| l as u64).sum::<u64>());
        let used_pages = (writer.len() as usize).div_ceil(page_size);
        prop_assert_eq!(writer.pages().len(), used_pages);

        let mut sequential = writer.reader();
        for (i, &len) in lens.iter().enumerate() {
            let expected = record(i as u64, len);
            prop_assert_eq!(sequential.read(len)?, expected.as_slice());
        }
        prop_assert_eq!(sequential.remaining(), 0);
        prop_assert!(sequential.read(1).is_err());

        // Random access, in reverse.
        let mut random = writer.reader();
        for (i, (&len, &p)) in lens.iter().zip(&pointers).enumerate().rev() {
            random.seek(p)?;
            let expected = record(i as u64, len);
            prop_assert_eq!(random.read(len)?, expected.as_slice());
        }
        drop(random);
        drop(sequential);
        drop(writer);
        prop_assert_eq!(memory.stats().in_use, 0);
    }
}

#[test]
fn exhaustion_leaves_what_was_written_intact() {
    let memory = manager(4096, 3 * 4096);
    let mut writer = PagedWriter::new(memory.reservation("small"));
    writer.write(&record(1, 5000)).unwrap();
    // Needs two more pages but only one is left: nothing is written.
    let err = writer.write(&record(2, 8000)).unwrap_err();
    assert!(matches!(err, MemoryError::Exhausted { requested: 4096, .. }), "{err:?}");
    assert_eq!(writer.len(), 5000);
    assert_eq!(memory.stats().in_use, 2 * 4096, "the page taken before the refusal was returned");
    let err = writer
        .write_with(9000, |_: &mut [u8]| -> Result<(), MemoryError> { unreachable!("no room, no fill") })
        .unwrap_err();
    assert!(matches!(err, MemoryError::Exhausted { .. }));
    let p = writer.write(&record(3, 4000)).unwrap();
    assert_eq!(p, RecordPointer { page: 1, offset: 904 });
    let mut reader = writer.reader();
    assert_eq!(reader.read(5000).unwrap(), record(1, 5000).as_slice());
    assert_eq!(reader.read(4000).unwrap(), record(3, 4000).as_slice());
    assert_eq!(memory.stats().peak, 3 * 4096);
}

#[test]
fn failed_fill_appends_nothing() {
    let memory = manager(4096, 1 << 20);
    let mut writer = PagedWriter::new(memory.reservation("fill"));
    writer.write(b"abc").unwrap();
    #[derive(Debug)]
    struct Refused;
    impl From<MemoryError> for Refused {
        fn from(_: MemoryError) -> Self {
            Refused
        }
    }
    assert!(writer.write_with(10, |_: &mut [u8]| Err(Refused)).is_err());
    assert!(writer.write_with(10_000, |_: &mut [u8]| Err(Refused)).is_err());
    assert_eq!(writer.len(), 3);
    assert_eq!(writer.pages().len(), 1, "the pages taken for the failed fill went back");
    assert_eq!(memory.stats().in_use, 4096);
    let p = writer.write(b"def").unwrap();
    assert_eq!(p.offset, 3);
    assert_eq!(writer.reader().read(6).unwrap(), b"abcdef");
}

#[test]
fn page_ends_and_contiguous_records() {
    let memory = manager(4096, 1 << 20);
    let mut writer = PagedWriter::new(memory.reservation("edges"));
    assert_eq!(writer.position(), RecordPointer { page: 0, offset: 0 });
    assert_eq!(writer.write(&[]).unwrap(), RecordPointer { page: 0, offset: 0 });
    writer.write(&[1; 4096]).unwrap();
    assert_eq!(writer.pages().len(), 1, "an exactly full page takes no second page");
    assert_eq!(writer.position(), RecordPointer { page: 1, offset: 0 });
    writer.write(&[2; 4090]).unwrap();
    writer.ensure_contiguous(16).unwrap();
    let p = writer.write(&[3; 16]).unwrap();
    assert_eq!(p, RecordPointer { page: 2, offset: 0 });
    let mut reader = writer.reader();
    reader.seek(p).unwrap();
    assert_eq!(reader.read(16).unwrap(), &[3; 16]);
    assert!(matches!(reader.seek(RecordPointer { page: 9, offset: 0 }), Err(ViewError::BadPointer(_))));
    let (pages, len) = writer.into_pages();
    assert_eq!(len, 4096 * 2 + 16);
    let mut again = PagedReader::new(&pages, len);
    again.seek(RecordPointer { page: 1, offset: 4090 }).unwrap();
    assert_eq!(again.read(6).unwrap(), &[0; 6], "the skipped tail reads as padding");
}
