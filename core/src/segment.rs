//! [`MemorySegment`]: one fixed-size, 64-byte aligned page of memory.
//!
//! The page is the unit everything in segrec is counted in: the memory
//! manager's budget, the record storage of sort and join, spill file frames and
//! network buffers. Accessors are bounds-checked and return [`SegmentError`]
//! on a bad offset; the few unchecked fast paths used inside the crate carry
//! debug assertions. Like Flink's `MemorySegment`, multi-byte accessors come in
//! little- and big-endian flavours; big-endian is what normalized keys use.

use core::cmp::Ordering;
use core::fmt;
use core::ptr::NonNull;
use std::alloc::{self, Layout};

use thiserror::Error;

use crate::bits;

/// Smallest page size: 4 KiB.
pub const MIN_PAGE_SIZE: usize = 4 << 10;
/// Largest page size: 16 MiB.
pub const MAX_PAGE_SIZE: usize = 16 << 20;
/// The default page size: 32 KiB, as Flink's.
pub const DEFAULT_PAGE_SIZE: usize = 32 << 10;
/// Alignment of every page: one cache line.
pub const PAGE_ALIGN: usize = 64;

/// An access outside a segment, or a segment that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SegmentError {
    /// `offset..offset + len` is not inside the segment.
    #[error("access of {len} bytes at offset {offset} is outside a segment of {size} bytes")]
    OutOfBounds {
        /// Start of the access.
        offset: usize,
        /// Bytes accessed.
        len: usize,
        /// Size of the segment.
        size: usize,
    },
    /// A bit field outside the segment, or a width outside `1..=64`.
    #[error(
        "bit field of {width} bits at bit {bit_offset} is outside a segment of {size} bytes or wider than 64 bits"
    )]
    BitsOutOfBounds {
        /// First bit of the field.
        bit_offset: usize,
        /// Bits in the field.
        width: u32,
        /// Size of the segment in bytes.
        size: usize,
    },
    /// The requested size is not a power of two between 4 KiB and 16 MiB.
    #[error("page size {0} is not a power of two between 4 KiB and 16 MiB")]
    InvalidSize(usize),
    /// The system allocator returned no memory.
    #[error("the system allocator could not provide {0} bytes")]
    AllocationFailed(usize),
}

/// A fixed-size, 64-byte aligned, zero-initialised page.
///
/// # Examples
///
/// ```
/// use segrec_core::MemorySegment;
/// let mut seg = MemorySegment::new(4096)?;
/// seg.put_u32_be(10, 0xDEAD_BEEF)?;
/// assert_eq!(seg.get_u32_be(10)?, 0xDEAD_BEEF);
/// assert_eq!(seg.get_u8(10)?, 0xDE);
/// assert!(seg.get_u64_le(4090).is_err()); // would cross the end
/// # Ok::<(), segrec_core::SegmentError>(())
/// ```
pub struct MemorySegment {
    ptr: NonNull<u8>,
    size: usize,
    /// Whether `ptr` is this segment's own allocation (freed on drop) or a
    /// slice of a slab owned by the memory manager.
    owned: bool,
}

// SAFETY: a `MemorySegment` owns its allocation exclusively (like a `Box<[u8]>`),
// so moving it to another thread or sharing `&MemorySegment` is as safe as for
// `Box<[u8]>`.
unsafe impl Send for MemorySegment {}
// SAFETY: see `Send`; `&MemorySegment` only gives shared reads.
unsafe impl Sync for MemorySegment {}

macro_rules! typed_access {
    ($($ty:ty => $get_le:ident, $put_le:ident, $get_be:ident, $put_be:ident;)*) => {$(
        #[doc = concat!("Reads a little-endian `", stringify!($ty), "` at `offset`.")]
        ///
        /// # Errors
        ///
        /// [`SegmentError::OutOfBounds`] when the value does not lie inside the segment.
        #[inline]
        pub fn $get_le(&self, offset: usize) -> Result<$ty, SegmentError> {
            let b = self.range(offset, size_of::<$ty>())?;
            Ok(<$ty>::from_le_bytes(b.try_into().expect("range has the type's size")))
        }
        #[doc = concat!("Writes a little-endian `", stringify!($ty), "` at `offset`.")]
        ///
        /// # Errors
        ///
        /// [`SegmentError::OutOfBounds`] when the value does not lie inside the segment.
        #[inline]
        pub fn $put_le(&mut self, offset: usize, value: $ty) -> Result<(), SegmentError> {
            self.range_mut(offset, size_of::<$ty>())?.copy_from_slice(&value.to_le_bytes());
            Ok(())
        }
        #[doc = concat!("Reads a big-endian `", stringify!($ty), "` at `offset`.")]
        ///
        /// # Errors
        ///
        /// [`SegmentError::OutOfBounds`] when the value does not lie inside the segment.
        #[inline]
        pub fn $get_be(&self, offset: usize) -> Result<$ty, SegmentError> {
            let b = self.range(offset, size_of::<$ty>())?;
            Ok(<$ty>::from_be_bytes(b.try_into().expect("range has the type's size")))
        }
        #[doc = concat!("Writes a big-endian `", stringify!($ty), "` at `offset`.")]
        ///
        /// # Errors
        ///
        /// [`SegmentError::OutOfBounds`] when the value does not lie inside the segment.
        #[inline]
        pub fn $put_be(&mut self, offset: usize, value: $ty) -> Result<(), SegmentError> {
            self.range_mut(offset, size_of::<$ty>())?.copy_from_slice(&value.to_be_bytes());
            Ok(())
        }
    )*};
}

impl MemorySegment {
    /// Allocates a zeroed segment of `size` bytes, a power of two from
    /// [`MIN_PAGE_SIZE`] to [`MAX_PAGE_SIZE`].
    ///
    /// # Errors
    ///
    /// [`SegmentError::InvalidSize`] for another size,
    /// [`SegmentError::AllocationFailed`] when the system has no memory.
    pub fn new(size: usize) -> Result<Self, SegmentError> {
        if !Self::is_valid_size(size) {
            return Err(SegmentError::InvalidSize(size));
        }
        let layout = Self::layout(size);
        // SAFETY: `layout` has a non-zero size (at least MIN_PAGE_SIZE).
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or(SegmentError::AllocationFailed(size))?;
        Ok(Self { ptr, size, owned: true })
    }

    /// A segment over memory it does not own (a page of a slab).
    ///
    /// # Safety
    ///
    /// `ptr` is valid for reads and writes of `size` initialised bytes,
    /// aligned to [`PAGE_ALIGN`], used by no one else while the segment
    /// lives, and outlives the segment; `size` is a valid page size.
    pub(crate) unsafe fn from_slab(ptr: NonNull<u8>, size: usize) -> Self {
        debug_assert!(Self::is_valid_size(size));
        debug_assert_eq!(ptr.as_ptr() as usize % PAGE_ALIGN, 0);
        Self { ptr, size, owned: false }
    }

    /// Whether `size` is an allowed page size.
    #[must_use]
    pub const fn is_valid_size(size: usize) -> bool {
        size.is_power_of_two() && size >= MIN_PAGE_SIZE && size <= MAX_PAGE_SIZE
    }

    fn layout(size: usize) -> Layout {
        // A power of two up to 16 MiB with alignment 64 never overflows isize.
        Layout::from_size_align(size, PAGE_ALIGN).expect("valid page layout")
    }

    /// Size in bytes.
    #[inline]
    #[must_use]
    pub fn size(&self) -> usize {
        self.size
    }

    /// The whole page as bytes.
    #[inline]
    #[must_use]
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` points to `size` initialised (zeroed at allocation)
        // bytes owned by `self`, borrowed shared for the lifetime of `&self`.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.size) }
    }

    /// The address of the first byte, taken without borrowing the bytes: a
    /// pointer for code that reads part of the segment while other parts
    /// are written through [`as_mut_slice`](Self::as_mut_slice) (which it
    /// must not outlive).
    #[inline]
    #[must_use]
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// The address of the first byte, for writing, taken without borrowing
    /// the bytes: a pointer for code that keeps addresses into the segment
    /// (as the sort's block table does) and reads and writes through them
    /// while it holds the segment. It must not outlive the segment, nor be
    /// used while a slice from [`as_slice`](Self::as_slice) or
    /// [`as_mut_slice`](Self::as_mut_slice) overlapping what it touches is
    /// alive.
    #[inline]
    #[must_use]
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The whole page as mutable bytes.
    #[inline]
    #[must_use]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` makes the borrow unique.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.size) }
    }

    #[inline]
    fn check(&self, offset: usize, len: usize) -> Result<(), SegmentError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(SegmentError::OutOfBounds { offset, len, size: self.size }),
        }
    }

    /// The bytes `offset..offset + len`.
    ///
    /// # Errors
    ///
    /// [`SegmentError::OutOfBounds`] when the range is not inside the segment.
    #[inline]
    pub fn range(&self, offset: usize, len: usize) -> Result<&[u8], SegmentError> {
        self.check(offset, len)?;
        Ok(&self.as_slice()[offset..offset + len])
    }

    /// The bytes `offset..offset + len`, mutable.
    ///
    /// # Errors
    ///
    /// [`SegmentError::OutOfBounds`] when the range is not inside the segment.
    #[inline]
    pub fn range_mut(&mut self, offset: usize, len: usize) -> Result<&mut [u8], SegmentError> {
        self.check(offset, len)?;
        Ok(&mut self.as_mut_slice()[offset..offset + len])
    }

    /// Reads the byte at `offset`.
    ///
    /// # Errors
    ///
    /// [`SegmentError::OutOfBounds`] past the end.
    #[inline]
    pub fn get_u8(&self, offset: usize) -> Result<u8, SegmentError> {
        Ok(self.range(offset, 1)?[0])
    }

    /// Writes the byte at `offset`.
    ///
    /// # Errors
    ///
    /// [`SegmentError::OutOfBounds`] past the end.
    #[inline]
    pub fn put_u8(&mut self, offset: usize, value: u8) -> Result<(), SegmentError> {
        self.range_mut(offset, 1)?[0] = value;
        Ok(())
    }

    /// Reads the signed byte at `offset`.
    ///
    /// # Errors
    ///
    /// [`SegmentError::OutOfBounds`] past the end.
    #[inline]
    pub fn get_i8(&self, offset: usize) -> Result<i8, SegmentError> {
        Ok(self.get_u8(offset)? as i8)
    }

    /// Writes the signed byte at `offset`.
    ///
    /// # Errors
    ///
    /// [`SegmentError::OutOfBounds`] past the end.
    #[inline]
    pub fn put_i8(&mut self, offset: usize, value: i8) -> Result<(), SegmentError> {
        self.put_u8(offset, value as u8)
    }

    typed_access! {
        u16 => get_u16_le, put_u16_le, get_u16_be, put_u16_be;
        u32 => get_u32_le, put_u32_le, get_u32_be, put_u32_be;
        u64 => get_u64_le, put_u64_le, get_u64_be, put_u64_be;
        i16 => get_i16_le, put_i16_le, get_i16_be, put_i16_be;
        i32 => get_i32_le, put_i32_le, get_i32_be, put_i32_be;
        i64 => get_i64_le, put_i64_le, get_i64_be, put_i64_be;
        f32 => get_f32_le, put_f32_le, get_f32_be, put_f32_be;
        f64 => get_f64_le, put_f64_le, get_f64_be, put_f64_be;
    }

    /// Reads a field of `width` bits (1..=64) at `bit_offset` (little-endian
    /// bit order, see [`bits`]).
    ///
    /// # Errors
    ///
    /// [`SegmentError::BitsOutOfBounds`] when the field is not inside the
    /// segment or `width` is not in `1..=64`.
    #[inline]
    pub fn get_bits(&self, bit_offset: usize, width: u32) -> Result<u64, SegmentError> {
        bits::read(self.as_slice(), bit_offset, width).ok_or(SegmentError::BitsOutOfBounds {
            bit_offset,
            width,
            size: self.size,
        })
    }

    /// Writes the low `width` bits of `value` at `bit_offset`, other bits
    /// untouched.
    ///
    /// # Errors
    ///
    /// [`SegmentError::BitsOutOfBounds`] as for [`get_bits`](Self::get_bits).
    #[inline]
    pub fn put_bits(&mut self, bit_offset: usize, width: u32, value: u64) -> Result<(), SegmentError> {
        let size = self.size;
        if bits::write(self.as_mut_slice(), bit_offset, width, value) {
            Ok(())
        } else {
            Err(SegmentError::BitsOutOfBounds { bit_offset, width, size })
        }
    }

    /// Copies `len` bytes at `offset` into `target` at `target_offset`.
    ///
    /// # Errors
    ///
    /// [`SegmentError::OutOfBounds`] when either range is outside its segment;
    /// nothing is copied then.
    pub fn copy_to(
        &self,
        offset: usize,
        target: &mut MemorySegment,
        target_offset: usize,
        len: usize,
    ) -> Result<(), SegmentError> {
        let src = self.range(offset, len)?;
        target.range_mut(target_offset, len)?.copy_from_slice(src);
        Ok(())
    }

    /// Copies `len` bytes within this segment; the ranges may overlap.
    ///
    /// # Errors
    ///
    /// [`SegmentError::OutOfBounds`] when either range is outside the segment.
    pub fn copy_within(
        &mut self,
        offset: usize,
        target_offset: usize,
        len: usize,
    ) -> Result<(), SegmentError> {
        self.check(offset, len)?;
        self.check(target_offset, len)?;
        self.as_mut_slice().copy_within(offset..offset + len, target_offset);
        Ok(())
    }

    /// Compares `len` bytes at `offset` with `len` bytes of `other` at
    /// `other_offset`, as unsigned bytes (memcmp).
    ///
    /// # Errors
    ///
    /// [`SegmentError::OutOfBounds`] when either range is outside its segment.
    pub fn compare(
        &self,
        offset: usize,
        other: &MemorySegment,
        other_offset: usize,
        len: usize,
    ) -> Result<Ordering, SegmentError> {
        Ok(self.range(offset, len)?.cmp(other.range(other_offset, len)?))
    }

    /// Swaps `len` bytes at `offset` with `len` bytes of `other` at
    /// `other_offset`. (Two distinct segments: the borrow checker rules out
    /// overlap; use [`swap_within`](Self::swap_within) inside one segment.)
    ///
    /// # Errors
    ///
    /// [`SegmentError::OutOfBounds`] when either range is outside its segment;
    /// nothing is swapped then.
    pub fn swap(
        &mut self,
        offset: usize,
        other: &mut MemorySegment,
        other_offset: usize,
        len: usize,
    ) -> Result<(), SegmentError> {
        other.check(other_offset, len)?;
        let a = self.range_mut(offset, len)?;
        a.swap_with_slice(&mut other.as_mut_slice()[other_offset..other_offset + len]);
        Ok(())
    }

    /// Swaps two non-overlapping ranges of `len` bytes inside this segment.
    ///
    /// # Errors
    ///
    /// [`SegmentError::OutOfBounds`] when a range is outside the segment or
    /// the ranges overlap.
    pub fn swap_within(&mut self, a: usize, b: usize, len: usize) -> Result<(), SegmentError> {
        self.check(a, len)?;
        self.check(b, len)?;
        if a == b {
            return Ok(());
        }
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        if lo + len > hi {
            return Err(SegmentError::OutOfBounds { offset: hi, len, size: self.size });
        }
        let (left, right) = self.as_mut_slice().split_at_mut(hi);
        left[lo..lo + len].swap_with_slice(&mut right[..len]);
        Ok(())
    }

    /// Sets every byte to zero.
    pub fn clear(&mut self) {
        self.as_mut_slice().fill(0);
    }
}

impl Drop for MemorySegment {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: an owned `ptr` was returned by `alloc_zeroed` with
            // exactly this layout and is freed once, here.
            unsafe { alloc::dealloc(self.ptr.as_ptr(), Self::layout(self.size)) }
        }
    }
}

impl fmt::Debug for MemorySegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySegment").field("size", &self.size).finish_non_exhaustive()
    }
}

impl AsRef<[u8]> for MemorySegment {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsMut<[u8]> for MemorySegment {
    fn as_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert!(MemorySegment::new(4096).is_ok());
        assert!(MemorySegment::new(16 << 20).is_ok());
        for bad in [0, 2048, 4097, 32 << 20, 48 << 10] {
            assert_eq!(MemorySegment::new(bad).unwrap_err(), SegmentError::InvalidSize(bad));
        }
        let seg = MemorySegment::new(4096).unwrap();
        assert_eq!(seg.as_slice().as_ptr() as usize % PAGE_ALIGN, 0);
        assert!(seg.as_slice().iter().all(|&b| b == 0));
    }

    #[test]
    fn typed_access_at_both_ends_and_across_the_end() {
        let mut s = MemorySegment::new(4096).unwrap();
        let last = 4096;
        s.put_u8(0, 0xAB).unwrap();
        s.put_u8(last - 1, 0xCD).unwrap();
        assert_eq!(s.get_u8(0).unwrap(), 0xAB);
        assert_eq!(s.get_u8(last - 1).unwrap(), 0xCD);
        assert!(s.get_u8(last).is_err());
        assert!(s.put_i8(last, 1).is_err());

        macro_rules! roundtrip {
            ($get:ident, $put:ident, $v:expr, $n:expr) => {{
                for off in [0usize, last - $n] {
                    s.$put(off, $v).unwrap();
                    assert_eq!(s.$get(off).unwrap(), $v);
                }
                assert_eq!(
                    s.$get(last - $n + 1).unwrap_err(),
                    SegmentError::OutOfBounds { offset: last - $n + 1, len: $n, size: last }
                );
                assert!(s.$put(last - $n + 1, $v).is_err());
                assert!(s.$get(usize::MAX).is_err());
            }};
        }
        roundtrip!(get_u16_le, put_u16_le, 0xBEEFu16, 2);
        roundtrip!(get_u16_be, put_u16_be, 0xBEEFu16, 2);
        roundtrip!(get_i16_le, put_i16_le, -2i16, 2);
        roundtrip!(get_i16_be, put_i16_be, i16::MIN, 2);
        roundtrip!(get_u32_le, put_u32_le, 0xDEAD_BEEFu32, 4);
        roundtrip!(get_u32_be, put_u32_be, 7u32, 4);
        roundtrip!(get_i32_le, put_i32_le, i32::MIN, 4);
        roundtrip!(get_i32_be, put_i32_be, -7i32, 4);
        roundtrip!(get_u64_le, put_u64_le, u64::MAX - 3, 8);
        roundtrip!(get_u64_be, put_u64_be, 0x0102_0304_0506_0708u64, 8);
        roundtrip!(get_i64_le, put_i64_le, i64::MIN, 8);
        roundtrip!(get_i64_be, put_i64_be, -1i64, 8);
        roundtrip!(get_f32_le, put_f32_le, 1.5f32, 4);
        roundtrip!(get_f32_be, put_f32_be, -0.0f32, 4);
        roundtrip!(get_f64_le, put_f64_le, f64::MAX, 8);
        roundtrip!(get_f64_be, put_f64_be, f64::MIN_POSITIVE, 8);

        s.put_u32_be(100, 0x0102_0304).unwrap();
        assert_eq!(s.range(100, 4).unwrap(), &[1, 2, 3, 4]);
        s.put_u32_le(100, 0x0102_0304).unwrap();
        assert_eq!(s.range(100, 4).unwrap(), &[4, 3, 2, 1]);
    }

    #[test]
    fn bits_at_the_edges() {
        let mut s = MemorySegment::new(4096).unwrap();
        let end_bit = 4096 * 8;
        s.put_bits(end_bit - 64, 64, u64::MAX).unwrap();
        assert_eq!(s.get_bits(end_bit - 64, 64).unwrap(), u64::MAX);
        assert_eq!(s.get_bits(end_bit - 1, 1).unwrap(), 1);
        assert!(s.get_bits(end_bit - 63, 64).is_err());
        assert!(s.put_bits(end_bit, 1, 1).is_err());
        assert!(s.get_bits(0, 0).is_err());
        assert!(s.get_bits(0, 65).is_err());
        s.put_bits(3, 13, 0x1ABC).unwrap();
        assert_eq!(s.get_bits(3, 13).unwrap(), 0x1ABC);
    }

    #[test]
    fn copy_compare_swap() {
        let mut a = MemorySegment::new(4096).unwrap();
        let mut b = MemorySegment::new(8192).unwrap();
        a.range_mut(0, 4).unwrap().copy_from_slice(b"abcd");
        a.copy_to(0, &mut b, 8188, 4).unwrap();
        assert_eq!(b.range(8188, 4).unwrap(), b"abcd");
        assert!(a.copy_to(0, &mut b, 8189, 4).is_err());
        assert!(a.copy_to(4093, &mut b, 0, 4).is_err());
        assert_eq!(a.compare(0, &b, 8188, 4).unwrap(), Ordering::Equal);
        b.put_u8(8191, b'e').unwrap();
        assert_eq!(a.compare(0, &b, 8188, 4).unwrap(), Ordering::Less);
        assert!(a.compare(4095, &b, 0, 2).is_err());

        a.swap(0, &mut b, 8188, 4).unwrap();
        assert_eq!(a.range(0, 4).unwrap(), b"abce");
        assert_eq!(b.range(8188, 4).unwrap(), b"abcd");
        assert!(a.swap(4094, &mut b, 0, 4).is_err());
        assert_eq!(a.range(0, 4).unwrap(), b"abce", "failed swap changed nothing");

        a.swap_within(0, 4092, 4).unwrap();
        assert_eq!(a.range(4092, 4).unwrap(), b"abce");
        assert!(a.swap_within(0, 2, 4).is_err(), "overlapping swap refused");
        a.copy_within(4092, 10, 4).unwrap();
        assert_eq!(a.range(10, 4).unwrap(), b"abce");
        a.clear();
        assert!(a.as_slice().iter().all(|&x| x == 0));
    }
}
