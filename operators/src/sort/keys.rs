//! Normalized-key prefixes as index words, and the comparison of records
//! whose keys tie on them.
//!
//! An index entry keeps the first `prefix_len` (at most 12) bytes of the
//! record's normalized key as the big-endian top of a `u128`, so comparing
//! prefixes as integers compares the bytes as `memcmp` would.
//! When those bytes are the whole canonical key (fixed-width keys, not
//! truncated), equal words mean equal keys and no record is ever touched;
//! otherwise equal words fall back to [`SegmentRecord::compare_key`].

use core::marker::PhantomData;

use segrec_core::SegmentRecord;

/// The longest key prefix an index entry holds, in bytes.
pub(crate) const MAX_PREFIX: usize = 12;

/// Extracts key prefixes of one record type.
#[derive(Debug)]
pub(crate) struct KeyCodec<T> {
    /// Keeps the prefix's bytes of a key word (the top `prefix_len` bytes,
    /// 1..=12).
    mask: u128,
    /// Whether equal prefixes still need [`SegmentRecord::compare_key`].
    tiebreak: bool,
    /// Holds a full normalized key longer than a word.
    buf: Vec<u8>,
    _t: PhantomData<fn() -> T>,
}

impl<T: SegmentRecord> KeyCodec<T> {
    /// A codec keeping `prefix_len` bytes (clamped to 1..=12 and to the
    /// type's normalized key length).
    pub(crate) fn new(prefix_len: usize) -> Self {
        let prefix_len = prefix_len.clamp(1, MAX_PREFIX).min(T::NORMALIZED_KEY_LEN);
        let tiebreak = T::NORMALIZED_KEY_IS_PREFIX || prefix_len < T::NORMALIZED_KEY_LEN;
        let mask = !(u128::MAX >> (8 * prefix_len));
        Self { mask, tiebreak, buf: vec![0; T::NORMALIZED_KEY_LEN.max(MAX_PREFIX)], _t: PhantomData }
    }

    /// Whether equal prefixes must be compared on the records.
    #[inline]
    pub(crate) fn tiebreak(&self) -> bool {
        self.tiebreak
    }

    /// The prefix of an encoded record's key, big-endian and left-aligned in
    /// the top 96 bits (the low 32 bits are zero, for the position).
    #[inline]
    pub(crate) fn prefix(&mut self, encoded: &[u8]) -> u128 {
        let n = T::NORMALIZED_KEY_LEN;
        if n == 0 {
            return 0;
        }
        let word = if n <= 16 {
            // In registers (see `SegmentRecord::normalized_key_word`): a
            // key written to a buffer and read back as one word would wait
            // on store forwarding.
            T::normalized_key_word(encoded)
        } else {
            // The whole key into `buf` (no allocation per record), then its
            // first word.
            T::write_normalized_key(encoded, &mut self.buf[..n]);
            let mut w = [0u8; 16];
            w.copy_from_slice(&self.buf[..16]);
            u128::from_be_bytes(w)
        };
        word & self.mask
    }
}
