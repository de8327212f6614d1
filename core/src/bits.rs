//! Bit fields in byte slices: the derive's bit-packed layouts read and write
//! through these.
//!
//! Bit order is little-endian throughout: bit `i` of a buffer is bit `i % 8`
//! of byte `i / 8`, and a field of `width` bits at `bit_offset` holds its
//! least significant bit at `bit_offset`. A field therefore touches at most
//! nine bytes.

/// Mask of the low `width` bits (`width` in `0..=64`).
#[inline]
#[must_use]
pub const fn low_mask(width: u32) -> u64 {
    if width >= 64 { u64::MAX } else { (1u64 << width) - 1 }
}

/// Whether a field of `width` bits at `bit_offset` lies inside `len` bytes.
#[inline]
#[must_use]
pub const fn fits(len: usize, bit_offset: usize, width: u32) -> bool {
    width >= 1
        && width <= 64
        && match bit_offset.checked_add(width as usize) {
            Some(end) => end.div_ceil(8) <= len,
            None => false,
        }
}

/// Reads `width` bits (1..=64) at `bit_offset`; `None` when out of bounds.
///
/// # Examples
///
/// ```
/// use segrec_core::bits;
/// let buf = [0b1011_0000u8, 0b0000_0001];
/// assert_eq!(bits::read(&buf, 4, 5), Some(0b1_1011));
/// assert_eq!(bits::read(&buf, 12, 8), None);
/// ```
#[inline]
#[must_use]
pub fn read(buf: &[u8], bit_offset: usize, width: u32) -> Option<u64> {
    if !fits(buf.len(), bit_offset, width) {
        return None;
    }
    let first = bit_offset / 8;
    let shift = (bit_offset % 8) as u32;
    let end = (bit_offset + width as usize).div_ceil(8);
    // Fast path: eight bytes can be loaded at once and hold the whole field.
    if shift + width <= 64 && first + 8 <= buf.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&buf[first..first + 8]);
        return Some((u64::from_le_bytes(word) >> shift) & low_mask(width));
    }
    let mut acc: u128 = 0;
    for (i, &b) in buf[first..end].iter().enumerate() {
        acc |= u128::from(b) << (8 * i);
    }
    Some(((acc >> shift) as u64) & low_mask(width))
}

/// Writes the low `width` bits (1..=64) of `value` at `bit_offset`, leaving
/// every other bit as it was; `false` (and nothing written) when out of
/// bounds. Bits of `value` above `width` are ignored.
///
/// # Examples
///
/// ```
/// use segrec_core::bits;
/// let mut buf = [0xFFu8; 2];
/// assert!(bits::write(&mut buf, 3, 6, 0));
/// assert_eq!(buf, [0b0000_0111, 0b1111_1110]);
/// ```
#[inline]
pub fn write(buf: &mut [u8], bit_offset: usize, width: u32, value: u64) -> bool {
    if !fits(buf.len(), bit_offset, width) {
        return false;
    }
    let first = bit_offset / 8;
    let shift = (bit_offset % 8) as u32;
    let end = (bit_offset + width as usize).div_ceil(8);
    let mask = u128::from(low_mask(width)) << shift;
    let bits = (u128::from(value) << shift) & mask;
    if shift + width <= 64 && first + 8 <= buf.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&buf[first..first + 8]);
        let w = (u64::from_le_bytes(word) & !(mask as u64)) | bits as u64;
        buf[first..first + 8].copy_from_slice(&w.to_le_bytes());
        return true;
    }
    for (i, b) in buf[first..end].iter_mut().enumerate() {
        let m = (mask >> (8 * i)) as u8;
        let v = (bits >> (8 * i)) as u8;
        *b = (*b & !m) | v;
    }
    true
}

/// Sign-extends the low `width` bits of `raw` (two's complement).
#[inline]
#[must_use]
pub const fn sign_extend(raw: u64, width: u32) -> i64 {
    if width >= 64 {
        raw as i64
    } else {
        let shift = 64 - width;
        ((raw << shift) as i64) >> shift
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious bit-at-a-time reference.
    fn reference_read(buf: &[u8], off: usize, width: u32) -> u64 {
        (0..width as usize).fold(0u64, |acc, i| {
            let bit = (buf[(off + i) / 8] >> ((off + i) % 8)) & 1;
            acc | (u64::from(bit) << i)
        })
    }

    #[test]
    fn every_offset_and_width_matches_reference() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for len in [9usize, 10, 16, 17] {
            for off in 0..64 {
                for width in 1..=64u32 {
                    let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                    let fits_here = off + width as usize <= len * 8;
                    let got = read(&buf, off, width);
                    if !fits_here {
                        assert_eq!(got, None);
                        continue;
                    }
                    assert_eq!(got, Some(reference_read(&buf, off, width)), "off {off} width {width}");
                    let before = buf.clone();
                    let value = next();
                    assert!(write(&mut buf, off, width, value));
                    assert_eq!(reference_read(&buf, off, width), value & low_mask(width));
                    for bit in (0..len * 8).filter(|&b| b < off || b >= off + width as usize) {
                        assert_eq!(
                            (buf[bit / 8] >> (bit % 8)) & 1,
                            (before[bit / 8] >> (bit % 8)) & 1,
                            "bit {bit} outside the field changed (off {off} width {width})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn out_of_bounds_and_zero_width_are_refused() {
        let mut buf = [0u8; 4];
        assert_eq!(read(&buf, 0, 0), None);
        assert_eq!(read(&buf, 0, 65), None);
        assert_eq!(read(&buf, 25, 8), None);
        assert_eq!(read(&buf, usize::MAX, 8), None);
        assert!(!write(&mut buf, 31, 2, 3));
        assert_eq!(buf, [0; 4]);
        assert_eq!(read(&buf, 31, 1), Some(0));
    }

    #[test]
    fn sign_extension() {
        assert_eq!(sign_extend(0b111, 3), -1);
        assert_eq!(sign_extend(0b011, 3), 3);
        assert_eq!(sign_extend(0b100, 3), -4);
        assert_eq!(sign_extend(u64::MAX, 64), -1);
    }
}
