//! Small, inlined building blocks the derive's generated code calls: bit-field
//! access with compile-time offsets, the byte-comparable key transforms and
//! string escaping, and the key hasher.
//!
//! Everything here is safe and bounds-checked. The generated code calls these
//! functions with constant offsets and widths, so after inlining the branches
//! on them fold away and a byte-aligned `u64` read is one load.
//!
//! Not a stable API: items are public for the generated code only.

use core::cmp::Ordering;

/// Reads `width` (1..=64) bits at bit `off` of `buf`, little-endian bit order
/// as in [`crate::bits`]; `0` when the field is out of bounds (a view never
/// reaches that case: `view` checked the length).
#[inline(always)]
#[must_use]
pub fn get_bits(buf: &[u8], off: usize, width: u32) -> u64 {
    let first = off / 8;
    let shift = (off % 8) as u32;
    if shift == 0 && width == 64 {
        return match buf.get(first..first + 8) {
            Some(s) => u64::from_le_bytes(to_array(s)),
            None => 0,
        };
    }
    if shift == 0 && width == 32 {
        return match buf.get(first..first + 4) {
            Some(s) => u64::from(u32::from_le_bytes(to_array(s))),
            None => 0,
        };
    }
    if shift == 0 && width == 16 {
        return match buf.get(first..first + 2) {
            Some(s) => u64::from(u16::from_le_bytes(to_array(s))),
            None => 0,
        };
    }
    if shift == 0 && width == 8 {
        return match buf.get(first) {
            Some(&b) => u64::from(b),
            None => 0,
        };
    }
    let mask = crate::bits::low_mask(width);
    let nbytes = (shift + width).div_ceil(8) as usize;
    if nbytes <= 8 {
        // Whole 8-byte window when it lies inside the buffer, else the exact bytes.
        if let Some(s) = buf.get(first..first + 8) {
            return (u64::from_le_bytes(to_array(s)) >> shift) & mask;
        }
        let mut w = [0u8; 8];
        match buf.get(first..first + nbytes) {
            Some(s) => w[..nbytes].copy_from_slice(s),
            None => return 0,
        }
        (u64::from_le_bytes(w) >> shift) & mask
    } else {
        let mut w = [0u8; 16];
        match buf.get(first..first + nbytes) {
            Some(s) => w[..nbytes].copy_from_slice(s),
            None => return 0,
        }
        ((u128::from_le_bytes(w) >> shift) as u64) & mask
    }
}

/// Reads 128 bits at bit `off`.
#[inline(always)]
#[must_use]
pub fn get_bits128(buf: &[u8], off: usize) -> u128 {
    u128::from(get_bits(buf, off, 64)) | (u128::from(get_bits(buf, off + 64, 64)) << 64)
}

/// Writes the low `width` (1..=64) bits of `value` at bit `off`, leaving the
/// other bits as they were. Out of bounds writes nothing (the generated code
/// checked the length before).
#[inline(always)]
pub fn put_bits(buf: &mut [u8], off: usize, width: u32, value: u64) {
    let first = off / 8;
    let shift = (off % 8) as u32;
    if shift == 0 && width == 64 {
        if let Some(s) = buf.get_mut(first..first + 8) {
            s.copy_from_slice(&value.to_le_bytes());
        }
        return;
    }
    if shift == 0 && width == 32 {
        if let Some(s) = buf.get_mut(first..first + 4) {
            s.copy_from_slice(&(value as u32).to_le_bytes());
        }
        return;
    }
    if shift == 0 && width == 16 {
        if let Some(s) = buf.get_mut(first..first + 2) {
            s.copy_from_slice(&(value as u16).to_le_bytes());
        }
        return;
    }
    if shift == 0 && width == 8 {
        if let Some(b) = buf.get_mut(first) {
            *b = value as u8;
        }
        return;
    }
    let mask = crate::bits::low_mask(width);
    let nbytes = (shift + width).div_ceil(8) as usize;
    if nbytes <= 8 {
        let Some(s) = buf.get_mut(first..first + nbytes) else { return };
        let mut w = [0u8; 8];
        w[..nbytes].copy_from_slice(s);
        let m = mask << shift;
        let v = (u64::from_le_bytes(w) & !m) | ((value << shift) & m);
        s.copy_from_slice(&v.to_le_bytes()[..nbytes]);
    } else {
        let Some(s) = buf.get_mut(first..first + nbytes) else { return };
        let mut w = [0u8; 16];
        w[..nbytes].copy_from_slice(s);
        let m = u128::from(mask) << shift;
        let v = (u128::from_le_bytes(w) & !m) | ((u128::from(value) << shift) & m);
        s.copy_from_slice(&v.to_le_bytes()[..nbytes]);
    }
}

/// Writes 128 bits at bit `off`.
#[inline(always)]
pub fn put_bits128(buf: &mut [u8], off: usize, value: u128) {
    put_bits(buf, off, 64, value as u64);
    put_bits(buf, off + 64, 64, (value >> 64) as u64);
}

#[inline(always)]
fn to_array<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    a
}

/// Whether `value` (sign-extended into an `i128`) fits `bits` bits of an
/// unsigned (`signed == false`) or two's complement field.
#[inline(always)]
#[must_use]
pub const fn fits_bits(value: i128, bits: u32, signed: bool) -> bool {
    if bits >= 128 {
        return true;
    }
    if signed {
        let half = 1i128 << (bits - 1);
        value >= -half && value < half
    } else {
        value >= 0 && value < (1i128 << bits)
    }
}

/// Whether one of the null bits `mask` of byte `byte` of `buf` is 0 (a
/// `None`): `key_has_null` tests the null bits of a key's `Option` parts a
/// byte at a time with it. A byte past the end holds no null (as in the
/// trait's default).
#[inline(always)]
#[must_use]
pub fn any_null_bit(buf: &[u8], byte: usize, mask: u8) -> bool {
    match buf.get(byte) {
        Some(&b) => b & mask != mask,
        None => false,
    }
}

/// The order-preserving unsigned form of an `f32`'s bits (IEEE 754 total
/// order: negative NaN < -inf < ... < -0.0 < +0.0 < ... < +inf < NaN).
#[inline(always)]
#[must_use]
pub const fn f32_key(bits: u32) -> u32 {
    if bits >> 31 == 1 { !bits } else { bits | (1 << 31) }
}

/// The order-preserving unsigned form of an `f64`'s bits, see [`f32_key`].
#[inline(always)]
#[must_use]
pub const fn f64_key(bits: u64) -> u64 {
    if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
}

/// Appends the canonical key form of a byte string: every `0x00` becomes
/// `0x00 0xFF`, then the terminator `0x00 0x00`; with `desc` every byte is
/// inverted.
pub fn write_escaped(bytes: &[u8], desc: bool, out: &mut Vec<u8>) {
    let x = if desc { 0xFF } else { 0 };
    out.reserve(bytes.len() + 2);
    for &b in bytes {
        out.push(b ^ x);
        if b == 0 {
            out.push(0xFF ^ x);
        }
    }
    out.push(x);
    out.push(x);
}

/// A cursor writing a prefix of a canonical key into a fixed-size buffer: bytes
/// past the end are dropped, the rest is zero-filled by [`finish`](Self::finish).
#[derive(Debug)]
pub struct PrefixWriter<'o> {
    out: &'o mut [u8],
    pos: usize,
}

impl<'o> PrefixWriter<'o> {
    /// Writes into `out`, starting at `pos`.
    #[inline(always)]
    pub fn new(out: &'o mut [u8], pos: usize) -> Self {
        Self { out, pos }
    }

    /// Whether the buffer is full.
    #[inline(always)]
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.pos >= self.out.len()
    }

    /// Where the next byte goes; once the buffer is full, at least its
    /// length.
    #[inline(always)]
    #[must_use]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Inverts the bytes written from canonical position `start` on (those
    /// that fit): the `desc` form of a part written in ascending form.
    #[inline]
    pub fn invert_from(&mut self, start: usize) {
        let end = self.pos.min(self.out.len());
        for b in &mut self.out[start.min(end)..end] {
            *b = !*b;
        }
    }

    /// Appends bytes, dropping what does not fit.
    #[inline(always)]
    pub fn put(&mut self, bytes: &[u8]) {
        let room = self.out.len().saturating_sub(self.pos);
        let n = room.min(bytes.len());
        self.out[self.pos..self.pos + n].copy_from_slice(&bytes[..n]);
        self.pos += n;
    }

    /// Appends `n` zero bytes, dropping what does not fit.
    #[inline(always)]
    pub fn put_zeros(&mut self, n: usize) {
        let end = self.out.len().min(self.pos.saturating_add(n));
        self.out[self.pos.min(end)..end].fill(0);
        self.pos = self.pos.saturating_add(n);
    }

    /// Appends the escaped and terminated form of `bytes` (see
    /// [`write_escaped`]), dropping what does not fit.
    pub fn put_escaped(&mut self, bytes: &[u8], desc: bool) {
        let x = if desc { 0xFF } else { 0 };
        for &b in bytes {
            if self.is_full() {
                return;
            }
            if b == 0 {
                self.put(&[x, 0xFF ^ x]);
            } else {
                self.out[self.pos] = b ^ x;
                self.pos += 1;
            }
        }
        self.put(&[x, x]);
    }

    /// Zero-fills the rest of the buffer.
    #[inline(always)]
    pub fn finish(self) {
        if self.pos < self.out.len() {
            self.out[self.pos..].fill(0);
        }
    }
}

/// Reverses `o` when `desc`.
#[inline(always)]
#[must_use]
pub fn order(o: Ordering, desc: bool) -> Ordering {
    if desc { o.reverse() } else { o }
}

/// Compares the presence of two `Option` key parts; `None` when both are
/// present (compare the values next).
#[inline(always)]
#[must_use]
pub fn cmp_nulls(a_some: bool, b_some: bool, nulls_last: bool) -> Option<Ordering> {
    match (a_some, b_some) {
        (true, true) => None,
        (false, false) => Some(Ordering::Equal),
        (a, b) => Some(if nulls_last { b.cmp(&a) } else { a.cmp(&b) }),
    }
}

/// The canonical null marker byte of an `Option` key part.
#[inline(always)]
#[must_use]
pub const fn null_marker(some: bool, nulls_last: bool) -> u8 {
    (some != nulls_last) as u8
}

/// Folded 64×64→128 multiply, the mixing step of foldhash and wyhash.
#[inline(always)]
const fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = (a as u128).wrapping_mul(b as u128);
    (full as u64) ^ ((full >> 64) as u64)
}

const K0: u64 = 0x243f_6a88_85a3_08d3;
const K1: u64 = 0x1319_8a2e_0370_7344;
const K2: u64 = 0xa409_3822_299f_31d0;
const K3: u64 = 0x082e_fa98_ec4e_6c89;

/// The seeded key hasher behind [`SegmentRecord::hash_key`](crate::SegmentRecord::hash_key):
/// a foldhash-style multiply-mix over 64-bit words. Fed the key parts in
/// order, so equal keys hash equal across record types with matching keys.
#[derive(Debug, Clone, Copy)]
pub struct KeyHasher {
    acc: u64,
}

impl KeyHasher {
    /// A hasher for `seed`.
    #[inline(always)]
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self { acc: seed ^ K0 }
    }

    /// Mixes in one 64-bit word.
    #[inline(always)]
    pub fn write_u64(&mut self, x: u64) {
        self.acc = folded_multiply(self.acc ^ x, K1);
    }

    /// Mixes in a 128-bit word.
    #[inline(always)]
    pub fn write_u128(&mut self, x: u128) {
        self.acc = folded_multiply(self.acc ^ x as u64, K2 ^ (x >> 64) as u64);
    }

    /// Mixes in a byte string and its length.
    #[inline]
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        let mut acc = self.acc ^ (bytes.len() as u64).wrapping_mul(K3);
        let mut chunks = bytes.chunks_exact(16);
        for c in &mut chunks {
            let a = u64::from_le_bytes(to_array(&c[..8]));
            let b = u64::from_le_bytes(to_array(&c[8..]));
            acc = folded_multiply(acc ^ a, K1 ^ b);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 16];
            w[..rest.len()].copy_from_slice(rest);
            let a = u64::from_le_bytes(to_array(&w[..8]));
            let b = u64::from_le_bytes(to_array(&w[8..]));
            acc = folded_multiply(acc ^ a, K1 ^ b);
        }
        self.acc = folded_multiply(acc, K2);
    }

    /// The hash.
    #[inline(always)]
    #[must_use]
    pub fn finish(self) -> u64 {
        let h = folded_multiply(self.acc, K3);
        h.rotate_left(23) ^ h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_put_match_bits_module() {
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
                    if off + width as usize > len * 8 {
                        continue;
                    }
                    let mut a: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                    let mut b = a.clone();
                    assert_eq!(get_bits(&a, off, width), crate::bits::read(&a, off, width).unwrap());
                    let v = next();
                    put_bits(&mut a, off, width, v);
                    crate::bits::write(&mut b, off, width, v);
                    assert_eq!(a, b, "off {off} width {width}");
                }
            }
        }
        assert_eq!(get_bits(&[1, 2], 8, 16), 0);
    }

    #[test]
    fn float_keys_follow_total_order() {
        let v = [f64::NEG_INFINITY, -1.5, -0.0, 0.0, 1e-300, 2.0, f64::INFINITY, f64::NAN, -f64::NAN];
        for a in v {
            for b in v {
                assert_eq!(f64_key(a.to_bits()).cmp(&f64_key(b.to_bits())), a.total_cmp(&b));
                let (a, b) = (a as f32, b as f32);
                assert_eq!(f32_key(a.to_bits()).cmp(&f32_key(b.to_bits())), a.total_cmp(&b));
            }
        }
    }

    #[test]
    fn escaping_preserves_order_and_is_prefix_free() {
        let v: [&[u8]; 6] = [b"", b"\0", b"\0\0", b"a", b"a\0", b"a\x01"];
        for a in v {
            for b in v {
                let (mut ka, mut kb) = (Vec::new(), Vec::new());
                write_escaped(a, false, &mut ka);
                write_escaped(b, false, &mut kb);
                assert_eq!(ka.cmp(&kb), a.cmp(b));
                if a != b {
                    assert!(!ka.starts_with(&kb) && !kb.starts_with(&ka));
                }
                let (mut da, mut db) = (Vec::new(), Vec::new());
                write_escaped(a, true, &mut da);
                write_escaped(b, true, &mut db);
                assert_eq!(da.cmp(&db), b.cmp(a));
            }
        }
    }

    #[test]
    fn bits_fit() {
        assert!(fits_bits(-4, 3, true) && !fits_bits(-5, 3, true) && !fits_bits(4, 3, true));
        assert!(fits_bits(7, 3, false) && !fits_bits(8, 3, false) && !fits_bits(-1, 3, false));
        assert!(fits_bits(i128::from(u64::MAX), 64, false));
    }
}
