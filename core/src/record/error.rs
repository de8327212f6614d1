use thiserror::Error;

/// A value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// An integer does not fit the bits its field declares.
    #[error("value {value} of field `{field}` does not fit in {bits} bits")]
    Overflow {
        /// The field's name.
        field: &'static str,
        /// The value that did not fit (a `u128` above `i128::MAX` reads as
        /// `i128::MAX`).
        value: i128,
        /// The field's declared width.
        bits: u32,
    },
    /// The output slice is shorter than the encoded record.
    #[error("output buffer of {available} bytes is too small for a record of {needed} bytes")]
    BufferTooSmall {
        /// Bytes the record needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// A variable-length field is longer than its length field can express.
    #[error("field `{field}` is {len} bytes long, more than a record can hold")]
    LengthOverflow {
        /// The field's name.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
    },
}

/// Bytes are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than the record needs.
    #[error("record truncated: needs {needed} bytes, has {available}")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// A variable-length field's stored length reaches past the end.
    #[error("field `{field}` claims {len} bytes at offset {offset}, past the record's {available} bytes")]
    LengthOutOfBounds {
        /// The field's name.
        field: &'static str,
        /// Where its bytes start.
        offset: usize,
        /// Its stored length.
        len: usize,
        /// Bytes in the record.
        available: usize,
    },
    /// A string field is not valid UTF-8.
    #[error("field `{field}` is not valid UTF-8")]
    InvalidUtf8 {
        /// The field's name.
        field: &'static str,
    },
    /// A `char` field holds a value that is not a Unicode scalar value.
    #[error("field `{field}` holds {value:#x}, which is not a char")]
    InvalidChar {
        /// The field's name.
        field: &'static str,
        /// The stored value.
        value: u32,
    },
    /// An enum field holds an index past its last variant.
    #[error("field `{field}` holds variant index {index}, past the enum's {variants} variants")]
    InvalidEnum {
        /// The field's name.
        field: &'static str,
        /// The stored index.
        index: u32,
        /// Number of variants.
        variants: u32,
    },
    /// An `Option` field is `None` but its stored length is not zero: the
    /// bytes were not written by `encode`.
    #[error("field `{field}` is None but claims {len} bytes")]
    NullWithBytes {
        /// The field's name.
        field: &'static str,
        /// Its stored length.
        len: usize,
    },
    /// Bytes follow the record's end.
    #[error("{extra} unexpected bytes after the record's end")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
}
