//! A tour of segrec on generated data: pages from a budget, records written
//! across page boundaries, a checksummed spill file read back.
//!
//! `cargo run --release --example tour`

use segrec::{ByteSource, MemoryManager, PagedWriter, SpillWriter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let memory = MemoryManager::builder().budget(4 << 20).page_size(32 << 10).build()?;
    let reservation = memory.reservation("tour");

    // Fill pages with generated variable-length records until the budget says no.
    let mut writer = PagedWriter::new(reservation.clone());
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut records = 0u64;
    loop {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = 16 + (x % 200) as usize;
        let record: Vec<u8> = (0..len).map(|i| (x >> (i % 8 * 8)) as u8).collect();
        match writer.write(&record) {
            Ok(_) => records += 1,
            Err(segrec::MemoryError::Exhausted { .. }) => break,
            Err(e) => return Err(e.into()),
        }
    }
    println!("wrote {records} records, {} bytes, into {} pages", writer.len(), writer.pages().len());
    println!("{}", memory.stats());

    // Spill them: the pages go to disk and back to the pool.
    let mut spill = {
        let (pages, len) = writer.into_pages();
        let mut reader = segrec::PagedReader::new(&pages, len);
        let bytes = reader.read(len as usize)?.to_vec();
        drop(pages);
        let mut w = SpillWriter::new(&reservation)?;
        w.write_bytes(&bytes)?;
        w.finish()?.reader(&reservation, 4)?
    };
    let mut read_back = 0u64;
    while !spill.is_at_end()? {
        read_back += spill.read_bytes(1)?.len() as u64;
    }
    println!("spilled to {} and read {read_back} bytes back", spill.file().path().display());
    drop(spill);
    println!("{}", memory.stats());
    Ok(())
}
