//! Bytes that are not a valid record give a `DecodeError`, never a panic; the
//! key functions on garbage return something without panicking.
use proptest::prelude::*;
use segrec::DecodeError;
use segrec::prelude::*;

#[derive(SegmentEnum, Debug, Clone, Copy, PartialEq)]
pub enum Three {
    A,
    B,
    C,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Inner {
    #[segment(key)]
    s: String,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Strings {
    #[segment(key)]
    a: String,
    #[segment(key)]
    b: Option<Vec<u8>>,
    c: char,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Nested {
    #[segment(key)]
    e: Three,
    #[segment(key)]
    inner: Inner,
    o: Option<Inner>,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Flat {
    #[segment(key)]
    k: u64,
    #[segment(bits = 3)]
    x: i8,
    f: f32,
}

fn poke<T: SegmentRecord>(bytes: &[u8]) {
    let d = T::decode(bytes);
    let v = T::view(bytes);
    assert_eq!(d.is_ok(), v.is_ok());
    let _ = T::record_len(bytes);
    let mut k = Vec::new();
    T::write_key(bytes, &mut k);
    let mut n = vec![0; T::NORMALIZED_KEY_LEN];
    T::write_normalized_key(bytes, &mut n);
    let _ = T::hash_key(bytes, 1);
    let _ = T::compare_key(bytes, &n);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        poke::<Strings>(&bytes);
        poke::<Nested>(&bytes);
        poke::<Flat>(&bytes);
    }

    #[test]
    fn mutated_records_never_panic(s in ".{0,10}", at in any::<prop::sample::Index>(), x in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let v = Nested { e: Three::C, inner: Inner { s: s.clone() }, o: Some(Inner { s }) };
        let mut buf = vec![0; v.encoded_len()];
        v.encode(&mut buf).unwrap();
        let i = at.index(buf.len());
        buf[i] ^= x;
        poke::<Nested>(&buf);
        buf.truncate(cut.index(buf.len()));
        poke::<Nested>(&buf);
    }
}

#[test]
fn specific_errors() {
    let v = Strings { a: "héllo".into(), b: Some(vec![1]), c: 'x' };
    let mut buf = vec![0; v.encoded_len()];
    v.encode(&mut buf).unwrap();
    let fixed = Strings::FIXED_LEN;
    assert!(matches!(Strings::decode(&buf[..fixed - 1]), Err(DecodeError::Truncated { .. })));
    assert!(matches!(
        Strings::decode(&buf[..buf.len() - 1]),
        Err(DecodeError::LengthOutOfBounds { field: "b", .. })
    ));
    let mut long = buf.clone();
    long.push(0);
    assert!(matches!(Strings::decode(&long), Err(DecodeError::TrailingBytes { extra: 1 })));
    let mut bad = buf.clone();
    bad[fixed + 1] = 0xFF; // inside "héllo"
    assert!(matches!(Strings::view(&bad), Err(DecodeError::InvalidUtf8 { field: "a" })));
    let mut bad = buf.clone();
    // c's bits, wherever the layout put them
    let c = Strings::LAYOUT.fields.iter().find(|f| f.name == "c").expect("field c");
    segrec::bits::write(&mut bad, c.bit_offset, 32, 0xD800);
    assert!(matches!(Strings::view(&bad), Err(DecodeError::InvalidChar { field: "c", value: 0xD800 })));

    let n = Nested { e: Three::B, inner: Inner { s: "x".into() }, o: None };
    let mut buf = vec![0; n.encoded_len()];
    n.encode(&mut buf).unwrap();
    segrec::bits::write(&mut buf, 0, 2, 3);
    assert!(matches!(
        Nested::view(&buf),
        Err(DecodeError::InvalidEnum { field: "e", index: 3, variants: 3 })
    ));
}

#[test]
fn overflow_in_an_embedded_record_writes_nothing() {
    #[derive(SegmentRecord, Debug, Clone, PartialEq)]
    struct Small {
        #[segment(bits = 4)]
        x: u8,
    }
    #[derive(SegmentRecord, Debug, Clone, PartialEq)]
    struct Outer {
        a: u64,
        inner: Small,
    }
    let v = Outer { a: u64::MAX, inner: Small { x: 16 } };
    assert!(matches!(
        v.check_encode(),
        Err(segrec::EncodeError::Overflow { field: "x", value: 16, bits: 4 })
    ));
    let mut buf = vec![0x77; v.encoded_len()];
    assert!(matches!(v.encode(&mut buf), Err(segrec::EncodeError::Overflow { field: "x", .. })));
    assert!(buf.iter().all(|&b| b == 0x77), "encode wrote before failing");
    let ok = Outer { a: 1, inner: Small { x: 15 } };
    assert_eq!(ok.check_encode(), Ok(()));
}

#[test]
fn none_with_stored_bytes_is_refused() {
    let encode = |r: &Strings| {
        let mut buf = vec![0u8; r.encoded_len()];
        r.encode(&mut buf).expect("encodes");
        buf
    };
    let none = encode(&Strings { a: "x".into(), b: None, c: 'c' });
    let empty = encode(&Strings { a: "x".into(), b: Some(Vec::new()), c: 'c' });
    // The two encodings differ in exactly the null bit of `b`.
    let diff: Vec<usize> =
        (0..none.len() * 8).filter(|&i| (none[i / 8] ^ empty[i / 8]) >> (i % 8) & 1 == 1).collect();
    assert_eq!(diff.len(), 1, "None and Some(empty) differ in one bit");
    let null_bit = diff[0];
    let mut forged = encode(&Strings { a: "x".into(), b: Some(vec![1, 2, 3]), c: 'c' });
    assert!(Strings::view(&forged).is_ok());
    forged[null_bit / 8] ^= 1 << (null_bit % 8);
    assert!(matches!(Strings::view(&forged), Err(DecodeError::NullWithBytes { field: "b", len: 3 })));
    assert!(Strings::decode(&forged).is_err());
}
