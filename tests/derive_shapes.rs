//! Every field shape round-trips: value → encode → decode / view → equal.
mod common;

use common::check_key_nulls;
use proptest::prelude::*;
use segrec::EncodeError;
use segrec::prelude::*;

#[derive(SegmentEnum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Color {
    Red,
    Green,
    Blue,
}

#[derive(SegmentEnum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Single {
    Only,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Inner {
    #[segment(key)]
    id: u16,
    name: String,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Everything {
    b: bool,
    u8_: u8,
    u16_: u16,
    u32_: u32,
    u64_: u64,
    u128_: u128,
    #[segment(bits = 40)]
    u128_small: u128,
    #[segment(bits = 70)]
    i128_mid: i128,
    i8_: i8,
    i16_: i16,
    i32_: i32,
    i64_: i64,
    i128_: i128,
    f32_: f32,
    f64_: f64,
    c: char,
    arr: [u16; 3],
    bools: [bool; 5],
    chars: [char; 2],
    s: String,
    bytes: Vec<u8>,
    color: Color,
    single: Single,
    inner: Inner,
    #[segment(skip)]
    skipped: u32,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Optionals {
    b: Option<bool>,
    u: Option<u64>,
    i: Option<i32>,
    w: Option<u128>,
    f: Option<f64>,
    c: Option<char>,
    arr: Option<[i8; 4]>,
    s: Option<String>,
    bytes: Option<Vec<u8>>,
    color: Option<Color>,
    inner: Option<Inner>,
    #[segment(bits = 3)]
    small: Option<u8>,
}

/// Like `Optionals` without nested fields: every offset is a literal, so
/// `encode` takes the word-at-a-time path.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct OptionalsFlat {
    b: Option<bool>,
    u: Option<u64>,
    i: Option<i32>,
    w: Option<u128>,
    #[segment(bits = 70)]
    x: Option<i128>,
    f: Option<f64>,
    c: Option<char>,
    arr: Option<[i8; 4]>,
    s: Option<String>,
    bytes: Option<Vec<u8>>,
    #[segment(bits = 3)]
    small: Option<u8>,
    chars: [char; 3],
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Generic<T> {
    #[segment(key)]
    id: u32,
    payload: T,
    more: Option<T>,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct ConstArr<const N: usize> {
    #[segment(key)]
    a: [u8; N],
    #[segment(bits = 5)]
    b: [u8; N],
}

#[derive(SegmentRecord, Debug, Clone, PartialEq, Default)]
pub struct Empty {}

fn any_color() -> impl Strategy<Value = Color> {
    prop_oneof![Just(Color::Red), Just(Color::Green), Just(Color::Blue)]
}

prop_compose! {
    fn any_inner()(id in any::<u16>(), name in ".{0,20}") -> Inner { Inner { id, name } }
}

prop_compose! {
    fn any_everything()(
        a in (any::<bool>(), any::<u8>(), any::<u16>(), any::<u32>(), any::<u64>(), any::<u128>()),
        b in (any::<i8>(), any::<i16>(), any::<i32>(), any::<i64>(), any::<i128>()),
        c in (any::<f32>(), any::<f64>(), any::<char>(), any::<[u16; 3]>(), any::<[bool; 5]>(), any::<[char; 2]>()),
        d in (".{0,40}", proptest::collection::vec(any::<u8>(), 0..40), any_color(), any_inner()),
    ) -> Everything {
        Everything {
            b: a.0, u8_: a.1, u16_: a.2, u32_: a.3, u64_: a.4, u128_: a.5, u128_small: a.5 >> 88, i128_mid: b.4 >> 58,
            i8_: b.0, i16_: b.1, i32_: b.2, i64_: b.3, i128_: b.4,
            f32_: c.0, f64_: c.1, c: c.2, arr: c.3, bools: c.4, chars: c.5,
            s: d.0, bytes: d.1, color: d.2, single: Single::Only, inner: d.3, skipped: 0,
        }
    }
}

prop_compose! {
    fn any_optionals()(
        a in (any::<Option<bool>>(), any::<Option<u64>>(), any::<Option<i32>>(), any::<Option<u128>>(), any::<Option<f64>>(), any::<Option<char>>()),
        b in (any::<Option<[i8; 4]>>(), proptest::option::of(".{0,30}"), proptest::option::of(proptest::collection::vec(any::<u8>(), 0..30))),
        c in (proptest::option::of(any_color()), proptest::option::of(any_inner()), proptest::option::of(0u8..8)),
    ) -> Optionals {
        Optionals { b: a.0, u: a.1, i: a.2, w: a.3, f: a.4, c: a.5, arr: b.0, s: b.1, bytes: b.2, color: c.0, inner: c.1, small: c.2 }
    }
}

/// Encodes, checks the length functions, decodes and views.
fn round_trip<T: SegmentRecord + PartialEq + std::fmt::Debug>(v: &T) -> Vec<u8> {
    let len = v.encoded_len();
    let mut buf = vec![0xAAu8; len + 3];
    assert_eq!(v.encode(&mut buf).unwrap(), len);
    assert_eq!(buf[len..], [0xAA; 3], "encode wrote past encoded_len");
    buf.truncate(len);
    assert_eq!(T::record_len(&buf).unwrap(), len);
    if let Some(n) = T::ENCODED_SIZE {
        assert_eq!(n, len);
    }
    assert_eq!(&T::decode(&buf).unwrap(), v);
    let r = T::view(&buf).unwrap();
    assert_eq!(&r.to_record(), v);
    assert_eq!(r.bytes(), &buf[..]);
    // too short a buffer is an error, not a panic
    if len > 0 {
        assert!(matches!(v.encode(&mut vec![0; len - 1]), Err(EncodeError::BufferTooSmall { .. })));
    }
    buf
}

/// Compares floats by bits so that NaN round trips count as equal.
fn same_bits(a: &Everything, b: &Everything) -> bool {
    a.f32_.to_bits() == b.f32_.to_bits() && a.f64_.to_bits() == b.f64_.to_bits()
}

proptest! {
    #[test]
    fn everything_round_trips(mut v in any_everything()) {
        // NaN != NaN: compare those by bits, the rest by value
        let (f, g) = (v.f32_, v.f64_);
        v.f32_ = 0.0; v.f64_ = 0.0;
        round_trip(&v);
        v.f32_ = f; v.f64_ = g;
        let mut buf = vec![0; v.encoded_len()];
        v.encode(&mut buf).unwrap();
        let d = Everything::decode(&buf).unwrap();
        prop_assert!(same_bits(&d, &v));
        let r = Everything::view(&buf).unwrap();
        prop_assert_eq!(r.f64_().to_bits(), g.to_bits());
        prop_assert_eq!(r.s(), v.s.as_str());
        prop_assert_eq!(r.bytes(), &v.bytes[..]);
        prop_assert_eq!(r.inner().name(), v.inner.name.as_str());
        prop_assert_eq!(r.color(), v.color);
        prop_assert_eq!(r.chars(), v.chars);
    }

    #[test]
    fn optionals_round_trip(mut v in any_optionals()) {
        if v.f.is_some_and(f64::is_nan) { v.f = Some(1.0); }
        round_trip(&v);
    }

    #[test]
    fn flat_optionals_round_trip(v in any_optionals(), chars in any::<[char; 3]>(), x in any::<Option<i64>>()) {
        let f = OptionalsFlat { b: v.b, u: v.u, i: v.i, w: v.w, x: x.map(|x| i128::from(x) << 5), f: v.f.filter(|f| !f.is_nan()),
            c: v.c, arr: v.arr, s: v.s, bytes: v.bytes, small: v.small, chars };
        round_trip(&f);
    }

    #[test]
    fn generic_round_trips(id in any::<u32>(), inner in any_inner(), more in proptest::option::of(any_inner()), c in any_color()) {
        round_trip(&Generic { id, payload: inner.clone(), more: more.clone() });
        round_trip(&Generic { id, payload: c, more: Some(c) });
        round_trip(&ConstArr::<3> { a: [id as u8, 1, 2], b: [1, 31, 0] });
    }
}

#[test]
fn skipped_fields_come_back_as_default() {
    let v = Everything {
        b: true,
        u8_: 1,
        u16_: 2,
        u32_: 3,
        u64_: 4,
        u128_: 5,
        u128_small: 6,
        i128_mid: -7,
        i8_: -1,
        i16_: -2,
        i32_: -3,
        i64_: -4,
        i128_: -5,
        f32_: 1.5,
        f64_: 2.5,
        c: 'λ',
        arr: [1, 2, 3],
        bools: [true; 5],
        chars: ['a', '😀'],
        s: "s".into(),
        bytes: vec![0],
        color: Color::Blue,
        single: Single::Only,
        inner: Inner { id: 1, name: "x".into() },
        skipped: 99,
    };
    let mut buf = vec![0; v.encoded_len()];
    v.encode(&mut buf).unwrap();
    let d = Everything::decode(&buf).unwrap();
    assert_eq!(d.skipped, 0);
    assert_eq!(Everything { skipped: 99, ..d }, v);
    assert!(format!("{:?}", Everything::view(&buf).unwrap()).starts_with("Everything { b: true, u8_: 1"));
    round_trip(&Empty {});
    assert_eq!(Empty::ENCODED_SIZE, Some(0));
    println!("{}", Everything::LAYOUT);
    println!("{}", Optionals::LAYOUT);
}

/// Whole-byte fields declared after smaller ones.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Unaligned {
    #[segment(key)]
    t: u8,
    flag: bool,
    #[segment(key, desc)]
    p: f64,
    a: u32,
    #[segment(key, nulls_last)]
    o: Option<u16>,
    h: u16,
    k: i64,
    arr: [u8; 3],
}

#[test]
fn whole_byte_fields_are_laid_out_at_multiples_of_their_size() {
    let at = |name| Unaligned::LAYOUT.fields.iter().find(|f| f.name == name).expect("a field").bit_offset;
    // 64-bit fields first, then 32, 16 and 8 (arrays by their whole width),
    // then bit fields and `Option`s, each in declaration order.
    assert_eq!([at("p"), at("k"), at("a"), at("h"), at("t"), at("arr")], [0, 64, 128, 160, 176, 184]);
    assert_eq!([at("flag"), at("o")], [208, 209]);
    assert_eq!(Unaligned::ENCODED_SIZE, Some(29));
    let v = Unaligned { t: 7, flag: true, p: -2.5, a: 3, o: Some(0xBEEF), h: 9, k: -1, arr: [1, 2, 3] };
    let buf = round_trip(&v);
    // The layout changes where bytes lie, not the order of keys.
    assert_eq!(&buf[..8], &(-2.5f64).to_le_bytes());
    let w = Unaligned { t: 6, p: -3.0, ..v.clone() };
    assert_eq!(keys_of(&w).0.cmp(&keys_of(&v).0), core::cmp::Ordering::Less);
    // The null bit of an `Option` key part, found where it now lies.
    check_key_nulls(&v, false);
    let none = Unaligned { o: None, ..v };
    round_trip(&none);
    check_key_nulls(&none, true);
}

#[test]
fn empty_and_large_strings() {
    #[derive(SegmentRecord, Debug, Clone, PartialEq)]
    struct S {
        #[segment(key)]
        s: String,
        o: Option<String>,
        v: Vec<u8>,
    }
    for s in [String::new(), "x".repeat(100 * 1024), "é".repeat(50 * 1024)] {
        let v = S { s: s.clone(), o: Some(s.clone()), v: s.clone().into_bytes() };
        let buf = round_trip(&v);
        assert_eq!(S::view(&buf).unwrap().s(), s);
        round_trip(&S { s, o: None, v: vec![] });
    }
}

/// A generic key field: with `T` a primitive or a string it behaves exactly
/// like the field written with that type.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct GenKey<T> {
    #[segment(key)]
    k: T,
    #[segment(key, nulls_last)]
    o: Option<T>,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct DirectI32 {
    #[segment(key)]
    k: i32,
    #[segment(key, nulls_last)]
    o: Option<i32>,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct DirectStr {
    #[segment(key)]
    k: String,
    #[segment(key, nulls_last)]
    o: Option<String>,
}

fn keys_of<T: SegmentRecord>(v: &T) -> (Vec<u8>, Vec<u8>, u64) {
    let mut buf = vec![0; v.encoded_len()];
    v.encode(&mut buf).unwrap();
    let mut canon = Vec::new();
    T::write_key(&buf, &mut canon);
    let mut norm = vec![0; T::NORMALIZED_KEY_LEN];
    T::write_normalized_key(&buf, &mut norm);
    (canon, norm, T::hash_key(&buf, 3))
}

proptest! {
    #[test]
    fn generic_primitives_and_strings(k in any::<i32>(), o in any::<Option<i32>>(), s in ".{0,30}", os in proptest::option::of(".{0,30}"),
                                      u in any::<u64>(), c in any::<char>(), f in any::<f32>(), b in any::<Vec<u8>>()) {
        round_trip(&GenKey { k, o });
        round_trip(&GenKey { k: s.clone(), o: os.clone() });
        round_trip(&GenKey { k: u, o: Some(u) });
        round_trip(&GenKey { k: c, o: None });
        round_trip(&GenKey { k: b.clone(), o: Some(b) });
        round_trip(&GenKey { k: true, o: Some(false) });
        let _ = keys_of(&GenKey { k: f, o: Some(f) });
        prop_assert_eq!(keys_of(&GenKey { k, o }), keys_of(&DirectI32 { k, o }));
        prop_assert_eq!(keys_of(&GenKey { k: s.clone(), o: os.clone() }), keys_of(&DirectStr { k: s.clone(), o: os.clone() }));
        // `key_has_null` tests the null bit of `o`, at a constant
        // expression after a generic field and at a literal offset.
        check_key_nulls(&GenKey { k, o }, o.is_none());
        check_key_nulls(&DirectI32 { k, o }, o.is_none());
        check_key_nulls(&GenKey { k: s.clone(), o: os.clone() }, os.is_none());
        check_key_nulls(&DirectStr { k: s, o: os.clone() }, os.is_none());
    }
}
