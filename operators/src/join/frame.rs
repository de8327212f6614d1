//! How the join lays records into its pages and spill files.
//!
//! ```text
//! frame = flag:u8 [len:u32le, only when the type has no fixed size] record
//! flag  = bit 0: matched (a build row that found a probe row, or a probe row
//!         that found a build row in an earlier block-nested-loop pass)
//! ```
//!
//! The flag lives in the frame's first byte, which always lies in the page
//! the frame's pointer names, so marking a build row matched is one byte
//! write.

use segrec_core::{ByteSource, PagedWriter, RecordPointer, SegmentRecord};

use super::error::JoinError;

/// Flag bit: the row found a partner.
pub(crate) const MATCHED: u8 = 1;

/// Bytes before the record in a frame of `T`.
#[inline]
pub(crate) const fn header_len<T: SegmentRecord>() -> usize {
    if T::ENCODED_SIZE.is_some() { 1 } else { 5 }
}

/// Length of the frame of a record of `len` bytes.
#[inline]
pub(crate) const fn frame_len<T: SegmentRecord>(len: usize) -> usize {
    header_len::<T>() + len
}

/// Fills `out` (exactly `frame_len` bytes) with a frame.
#[inline]
pub(crate) fn fill<T: SegmentRecord>(out: &mut [u8], flag: u8, record: &[u8]) {
    out[0] = flag;
    let h = header_len::<T>();
    if h == 5 {
        // Lengths were checked against the record size limit, far below 4 GiB.
        out[1..5].copy_from_slice(&(record.len() as u32).to_le_bytes());
    }
    out[h..].copy_from_slice(record);
}

/// Appends a frame to in-memory pages.
#[inline]
pub(crate) fn write_paged<T: SegmentRecord>(
    w: &mut PagedWriter,
    flag: u8,
    record: &[u8],
) -> Result<RecordPointer, segrec_core::MemoryError> {
    w.write_with(frame_len::<T>(record.len()), |out| {
        fill::<T>(out, flag, record);
        Ok(())
    })
}

/// Appends a frame to any byte sink (a spill file).
#[inline]
pub(crate) fn write_sink<T: SegmentRecord, W: segrec_core::ByteSink>(
    w: &mut W,
    flag: u8,
    record: &[u8],
) -> Result<(), W::Error> {
    w.write_with(frame_len::<T>(record.len()), |out| -> Result<(), W::Error> {
        fill::<T>(out, flag, record);
        Ok(())
    })
}

/// Reads the next frame: `(flag, record)`, `None` at the end.
pub(crate) fn read<T: SegmentRecord, S: ByteSource>(src: &mut S) -> Result<Option<(u8, &[u8])>, JoinError>
where
    JoinError: From<S::Error>,
{
    if src.is_at_end()? {
        return Ok(None);
    }
    let (flag, len) = match T::ENCODED_SIZE {
        Some(n) => (src.read_bytes(1)?[0], n),
        None => {
            let h = src.read_bytes(5)?;
            (h[0], u32::from_le_bytes([h[1], h[2], h[3], h[4]]) as usize)
        }
    };
    let rec = src.read_bytes(len)?;
    Ok(Some((flag, rec)))
}

/// Reads the frame whose first byte is `page[offset]` when it lies inside
/// the page: `(flag, record)`; `None` when it straddles into the next page.
#[inline]
pub(crate) fn in_page<T: SegmentRecord>(page: &[u8], offset: usize) -> Option<(u8, &[u8])> {
    let flag = *page.get(offset)?;
    let (start, len) = match T::ENCODED_SIZE {
        Some(n) => (offset + 1, n),
        None => {
            let h = page.get(offset + 1..offset + 5)?;
            (offset + 5, u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize)
        }
    };
    page.get(start..start.checked_add(len)?).map(|r| (flag, r))
}
