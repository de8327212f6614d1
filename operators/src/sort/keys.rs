//! Normalized-key prefixes as index words, and the comparison of records
//! whose keys tie on them.
//!
//! An index entry keeps the first `prefix_len` (at most 16) bytes of the
//! record's normalized key as two big-endian `u64` words, so comparing the
//! words as integers compares the bytes as `memcmp` would, 8 bytes at a time.
//! When those bytes are the whole canonical key (fixed-width keys, not
//! truncated), equal words mean equal keys and no record is ever touched;
//! otherwise equal words fall back to [`SegmentRecord::compare_key`].

use core::marker::PhantomData;

use segrec_core::SegmentRecord;

/// Extracts key prefixes of one record type.
#[derive(Debug)]
pub(crate) struct KeyCodec<T> {
    /// Bytes of the prefix kept, 1..=16.
    prefix_len: usize,
    /// Whether equal prefixes still need [`SegmentRecord::compare_key`].
    tiebreak: bool,
    /// Holds a full normalized key (at least 16 bytes).
    buf: Vec<u8>,
    _t: PhantomData<fn() -> T>,
}

impl<T: SegmentRecord> KeyCodec<T> {
    /// A codec keeping `prefix_len` bytes (clamped to 1..=16 and to the
    /// type's normalized key length).
    pub(crate) fn new(prefix_len: usize) -> Self {
        let prefix_len = prefix_len.clamp(1, 16).min(T::NORMALIZED_KEY_LEN);
        let tiebreak = T::NORMALIZED_KEY_IS_PREFIX || prefix_len < T::NORMALIZED_KEY_LEN;
        Self { prefix_len, tiebreak, buf: vec![0; T::NORMALIZED_KEY_LEN.max(16)], _t: PhantomData }
    }

    /// Whether equal prefixes must be compared on the records.
    #[inline]
    pub(crate) fn tiebreak(&self) -> bool {
        self.tiebreak
    }

    /// The prefix of an encoded record's key as two big-endian words.
    #[inline]
    pub(crate) fn prefix(&mut self, encoded: &[u8]) -> [u64; 2] {
        let n = T::NORMALIZED_KEY_LEN;
        if n == 0 {
            return [0, 0];
        }
        T::write_normalized_key(encoded, &mut self.buf[..n]);
        let p = self.prefix_len;
        if p < 16 {
            self.buf[p..16].fill(0);
        }
        let mut w0 = [0u8; 8];
        let mut w1 = [0u8; 8];
        w0.copy_from_slice(&self.buf[..8]);
        w1.copy_from_slice(&self.buf[8..16]);
        [u64::from_be_bytes(w0), u64::from_be_bytes(w1)]
    }
}
