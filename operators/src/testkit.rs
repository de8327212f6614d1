//! Records for the crate's unit tests: derived, of several shapes, with key
//! fields of matching types across pairs (`Fx`/`Fy`, `Vs`/`Vt`, `Ox`/`Oy`)
//! so joins can match rows of different structs.

use segrec_macros::SegmentRecord;

/// Fixed size, `u64` key.
#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[segment(crate = "segrec_core")]
pub struct Fx {
    #[segment(key)]
    pub key: u64,
    pub payload: u32,
}

/// Fixed size, `u64` key, a different shape than [`Fx`].
#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[segment(crate = "segrec_core")]
pub struct Fy {
    pub tag: u8,
    #[segment(key)]
    pub key: u64,
}

/// Variable size, `String` key.
#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[segment(crate = "segrec_core")]
pub struct Vs {
    #[segment(key)]
    pub key: String,
    pub n: u32,
}

/// Variable size, `String` key, with a blob.
#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[segment(crate = "segrec_core")]
pub struct Vt {
    #[segment(key)]
    pub key: String,
    pub blob: Vec<u8>,
}

/// Fixed size, `Option<u32>` key.
#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[segment(crate = "segrec_core")]
pub struct Ox {
    #[segment(key)]
    pub key: Option<u32>,
    pub v: u16,
}

/// Fixed size, `Option<u32>` key alone.
#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[segment(crate = "segrec_core")]
pub struct Oy {
    #[segment(key)]
    pub key: Option<u32>,
}

mod tests {
    use proptest::prelude::{any, proptest};
    use segrec_core::SegmentRecord;

    use super::{Ox, Oy};

    /// `key_has_null` of `v` once encoded is `want` and equals the trait's
    /// default logic with any one bit of the record flipped: it tests the
    /// null bit of the `Option` key and nothing else.
    fn check<T: SegmentRecord>(v: &T, want: bool) {
        let mut e = vec![0; v.encoded_len()];
        v.encode(&mut e).expect("test values fit their fields");
        assert_eq!(T::key_has_null(&e), want);
        for bit in 0..e.len() * 8 {
            e[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(T::key_has_null(&e), T::LAYOUT.key_field_is_null(&e), "bit {bit} flipped");
            e[bit / 8] ^= 1 << (bit % 8);
        }
    }

    proptest! {
        #[test]
        fn option_keys_are_null_exactly_when_none(key in any::<Option<u32>>(), v in any::<u16>()) {
            check(&Ox { key, v }, key.is_none());
            check(&Oy { key }, key.is_none());
        }
    }
}
