use core::fmt;

/// A record type's binary layout, as `const` data the derive emits.
///
/// `Display` prints a table a person can read:
///
/// ```text
/// Order: 26 bytes fixed (205 bits), variable part: no
///   field      type    bits  offset  key
///   key        u64       64       0  1 asc
///   ...
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The struct's name.
    pub name: &'static str,
    /// Fields in declaration order (skipped fields are left out).
    pub fields: &'static [FieldLayout],
    /// Bits of the fixed part before rounding up to bytes.
    pub fixed_bits: usize,
    /// Bytes of the fixed part.
    pub fixed_bytes: usize,
    /// Whether records have a variable part.
    pub has_variable_part: bool,
}

/// One field's place in a [`Layout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldLayout {
    /// The field's name.
    pub name: &'static str,
    /// The field's Rust type as written.
    pub ty: &'static str,
    /// How the field is stored.
    pub kind: FieldKind,
    /// Offset of the field's fixed bits from the record's start.
    pub bit_offset: usize,
    /// Bits the field takes in the fixed part (for variable fields: the
    /// length field, plus the null bit of an `Option`).
    pub bit_width: usize,
    /// Its place in the key, if it is a key field.
    pub key: Option<KeyPartLayout>,
}

/// How a field is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A value at its full width (`u32`, `f64`, `char`, arrays, ...).
    Fixed,
    /// An integer in fewer bits than its type (`#[segment(bits = N)]`), or a
    /// `bool` or a `SegmentEnum`.
    Packed,
    /// A string or byte vector in the variable part.
    Variable,
    /// An embedded `SegmentRecord`.
    Embedded,
}

/// A key field's position and ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPartLayout {
    /// 0 for the most significant key field.
    pub position: usize,
    /// Ascending or descending.
    pub order: KeyOrder,
    /// Where `None` sorts, for `Option` keys.
    pub nulls: NullOrder,
}

/// Sort direction of a key part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrder {
    /// Smallest first.
    Asc,
    /// Largest first (`#[segment(key, desc)]`).
    Desc,
}

/// Where `None` sorts in an `Option` key part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullOrder {
    /// `None` before every value (the default).
    First,
    /// `None` after every value (`#[segment(key, nulls_last)]`).
    Last,
}

impl Layout {
    /// Whether a key field is an `Option`, whose null bit then sits at its
    /// `bit_offset` (1 = `Some`). Embedded records are not looked into.
    #[must_use]
    pub const fn has_nullable_key(&self) -> bool {
        let mut i = 0;
        while i < self.fields.len() {
            if self.fields[i].is_nullable_key() {
                return true;
            }
            i += 1;
        }
        false
    }

    /// Whether an `Option` key field listed here is `None` in the encoded
    /// record `encoded`: its null bit (at `bit_offset`, 1 = `Some`) is 0. A
    /// bit past the end of `encoded` counts as not null, and the key fields
    /// of embedded records are not looked into. This is what
    /// [`SegmentRecord::key_has_null`](super::SegmentRecord::key_has_null)
    /// returns by default.
    #[must_use]
    pub fn key_field_is_null(&self, encoded: &[u8]) -> bool {
        self.fields.iter().any(|f| {
            f.is_nullable_key()
                && encoded.get(f.bit_offset / 8).is_some_and(|b| (b >> (f.bit_offset % 8)) & 1 == 0)
        })
    }
}

impl FieldLayout {
    /// Whether this is a key field of type `Option<..>`.
    #[must_use]
    pub const fn is_nullable_key(&self) -> bool {
        self.key.is_some() && type_is_option(self.ty)
    }
}

/// Whether a type, as written, is `Option<..>`, possibly path-qualified
/// (`std::option::Option<..>`): `Option<` preceded only by a path.
const fn type_is_option(ty: &str) -> bool {
    const PAT: &[u8] = b"Option<";
    let b = ty.as_bytes();
    let mut start = 0;
    while start + PAT.len() <= b.len() {
        let mut j = 0;
        while j < PAT.len() && b[start + j] == PAT[j] {
            j += 1;
        }
        if j == PAT.len() && (start == 0 || b[start - 1] == b':') {
            return true;
        }
        let c = b[start];
        if !(c.is_ascii_alphanumeric() || c == b'_' || c == b':') {
            return false;
        }
        start += 1;
    }
    false
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} bytes fixed ({} bits), variable part: {}",
            self.name,
            self.fixed_bytes,
            self.fixed_bits,
            if self.has_variable_part { "yes" } else { "no" }
        )?;
        let name_w = self.fields.iter().map(|x| x.name.len()).max().unwrap_or(0).max(5);
        let ty_w = self.fields.iter().map(|x| x.ty.len()).max().unwrap_or(0).max(4);
        writeln!(f, "  {:name_w$}  {:ty_w$}  {:>4}  {:>6}  key", "field", "type", "bits", "offset")?;
        for field in self.fields {
            let key = match field.key {
                None => String::new(),
                Some(k) => {
                    let order = match k.order {
                        KeyOrder::Asc => "asc",
                        KeyOrder::Desc => "desc",
                    };
                    let nulls = match k.nulls {
                        NullOrder::First => "",
                        NullOrder::Last => " nulls last",
                    };
                    format!("{} {order}{nulls}", k.position + 1)
                }
            };
            writeln!(
                f,
                "  {:name_w$}  {:ty_w$}  {:>4}  {:>6}  {key}",
                field.name, field.ty, field.bit_width, field.bit_offset
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::type_is_option;

    #[test]
    fn option_types_are_recognised_as_written() {
        for ty in ["Option<u32>", "std::option::Option<String>", "core::option::Option<(u8, u16)>"] {
            assert!(type_is_option(ty), "{ty}");
        }
        for ty in ["u32", "MyOption<u32>", "Vec<Option<u8>>", "String", "[Option<u8>; 2]"] {
            assert!(!type_is_option(ty), "{ty}");
        }
    }
}
