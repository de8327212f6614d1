//! Record framing in byte streams: how a sequence of encoded records is laid
//! into pages, memory or spill files alike.
//!
//! A record type with a fixed encoded size ([`SegmentRecord::ENCODED_SIZE`]
//! is `Some`) is stored as its bytes back to back, with no overhead. Any
//! other record is preceded by its length as a little-endian `u32`. A record
//! and its length are always handed to the sink as one contiguous write, so
//! an encoder writes straight into the page when the record fits.

use thiserror::Error;

use crate::record::{EncodeError, SegmentRecord};
use crate::view::{ByteSink, ByteSource};

/// Bytes of the length prefix of a variable-size record.
pub const LENGTH_PREFIX: usize = 4;

/// A record could not be written to a stream.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WriteError<S> {
    /// The record could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The sink failed (pages exhausted, disk error).
    #[error(transparent)]
    Sink(S),
    /// The record is longer than a length prefix can say.
    #[error("record of {0} bytes is too large to frame (at most 4 GiB - 1)")]
    TooLarge(usize),
}

impl<S> WriteError<S> {
    /// Maps the sink error.
    pub fn map_sink<T>(self, f: impl FnOnce(S) -> T) -> WriteError<T> {
        match self {
            Self::Encode(e) => WriteError::Encode(e),
            Self::Sink(s) => WriteError::Sink(f(s)),
            Self::TooLarge(n) => WriteError::TooLarge(n),
        }
    }
}

/// Bytes a record takes in a stream, framing included.
#[must_use]
pub fn framed_len<T: SegmentRecord>(encoded_len: usize) -> usize {
    if T::ENCODED_SIZE.is_some() { encoded_len } else { encoded_len + LENGTH_PREFIX }
}

/// Encodes `record` into `sink` with its framing.
///
/// # Errors
///
/// [`WriteError::Encode`] when the record cannot be encoded (nothing is
/// appended), [`WriteError::Sink`] when the sink refuses.
pub fn write_record<T: SegmentRecord, W: ByteSink>(
    sink: &mut W,
    record: &T,
) -> Result<(), WriteError<W::Error>> {
    let len = record.encoded_len();
    if T::ENCODED_SIZE.is_some() {
        return sink
            .write_with(len, |out: &mut [u8]| -> Result<(), FrameFill<W::Error>> {
                record.encode(out).map_err(FrameFill::Encode)?;
                Ok(())
            })
            .map_err(FrameFill::into_write_error);
    }
    let prefix = u32::try_from(len).map_err(|_| WriteError::TooLarge(len))?;
    sink.write_with(len + LENGTH_PREFIX, |out: &mut [u8]| -> Result<(), FrameFill<W::Error>> {
        out[..LENGTH_PREFIX].copy_from_slice(&prefix.to_le_bytes());
        record.encode(&mut out[LENGTH_PREFIX..]).map_err(FrameFill::Encode)?;
        Ok(())
    })
    .map_err(FrameFill::into_write_error)
}

/// Appends already encoded record bytes with their framing.
///
/// # Errors
///
/// [`WriteError::Sink`] when the sink refuses, [`WriteError::TooLarge`] for a
/// record over 4 GiB.
pub fn write_encoded<T: SegmentRecord, W: ByteSink>(
    sink: &mut W,
    encoded: &[u8],
) -> Result<(), WriteError<W::Error>> {
    let len = encoded.len();
    if T::ENCODED_SIZE.is_some() {
        debug_assert_eq!(Some(len), T::ENCODED_SIZE, "fixed-size record of the wrong length");
        return sink
            .write_with(len, |out: &mut [u8]| -> Result<(), FrameFill<W::Error>> {
                out.copy_from_slice(encoded);
                Ok(())
            })
            .map_err(FrameFill::into_write_error);
    }
    let prefix = u32::try_from(len).map_err(|_| WriteError::TooLarge(len))?;
    sink.write_with(len + LENGTH_PREFIX, |out: &mut [u8]| -> Result<(), FrameFill<W::Error>> {
        out[..LENGTH_PREFIX].copy_from_slice(&prefix.to_le_bytes());
        out[LENGTH_PREFIX..].copy_from_slice(encoded);
        Ok(())
    })
    .map_err(FrameFill::into_write_error)
}

/// The error of the fill closure: an encoding failure or the sink's own.
enum FrameFill<S> {
    Encode(EncodeError),
    Sink(S),
}

impl<S> FrameFill<S> {
    fn into_write_error(self) -> WriteError<S> {
        match self {
            Self::Encode(e) => WriteError::Encode(e),
            Self::Sink(s) => WriteError::Sink(s),
        }
    }
}

impl<S> From<S> for FrameFill<S> {
    fn from(s: S) -> Self {
        Self::Sink(s)
    }
}

/// Reads the next record's bytes (without framing) from `source`; `None` at
/// the end of the stream.
///
/// # Errors
///
/// The source's error when the stream ends inside a record or the medium
/// fails.
#[inline]
pub fn read_record<T: SegmentRecord, S: ByteSource>(source: &mut S) -> Result<Option<&[u8]>, S::Error> {
    let len = match T::ENCODED_SIZE {
        Some(n) => return source.read_next(n),
        None => {
            let Some(prefix) = source.read_next(LENGTH_PREFIX)? else { return Ok(None) };
            u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize
        }
    };
    source.read_bytes(len).map(Some)
}
