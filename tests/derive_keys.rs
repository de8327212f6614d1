//! Keys: normalized-key byte order equals the key tuple's order, compare_key
//! equals canonical-key memcmp, hashes agree with equality (also across two
//! structs with matching keys), `bits = N` at every width, and
//! `key_has_null` tests exactly the null bits of the `Option` key parts.
mod common;

use std::cmp::Ordering;

use common::{Bench, check_embedded_key_nulls, check_key_nulls};

use proptest::prelude::*;
use segrec::EncodeError;
use segrec::prelude::*;

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Mixed {
    #[segment(key)]
    a: u32,
    note: String,
    #[segment(key, desc)]
    b: i64,
    #[segment(key)]
    f: f64,
    #[segment(key, nulls_last)]
    o: Option<i16>,
    #[segment(key)]
    s: String,
    #[segment(key, desc)]
    t: Option<String>,
    #[segment(key, desc, nulls_last)]
    g: Option<f32>,
}

/// Same key fields and attributes as `Mixed`, different other fields.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct MixedTwin {
    extra: u8,
    #[segment(key)]
    a: u32,
    #[segment(key, desc)]
    b: i64,
    #[segment(key)]
    f: f64,
    flag: bool,
    #[segment(key, nulls_last)]
    o: Option<i16>,
    #[segment(key)]
    s: String,
    #[segment(key, desc)]
    t: Option<String>,
    #[segment(key, desc, nulls_last)]
    g: Option<f32>,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Fixed {
    #[segment(key)]
    tag: u8,
    #[segment(key, desc)]
    price: f64,
    #[segment(key)]
    i: i64,
    #[segment(key, nulls_last)]
    n: Option<u64>,
    #[segment(key)]
    flag: bool,
    #[segment(key, desc)]
    w: i128,
    #[segment(key)]
    c: char,
    #[segment(key, desc, bits = 12)]
    small: i16,
    #[segment(key)]
    arr: [i8; 2],
    payload: String,
}

/// Fixed-width keys of at most 16 bytes: the derive computes their
/// normalized-key words in registers, from the bytes and from the fields.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Word {
    #[segment(key)]
    tag: u8,
    #[segment(key, desc)]
    price: f64,
    #[segment(key, nulls_last)]
    o: Option<i16>,
    payload: u32,
    #[segment(key)]
    flag: bool,
    #[segment(key, desc, bits = 12)]
    small: i16,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Word2 {
    #[segment(key)]
    c: char,
    #[segment(key, desc)]
    g: Option<f32>,
    #[segment(key, desc)]
    arr: [i8; 2],
    #[segment(key)]
    n: Option<u32>,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Wide {
    #[segment(key, desc)]
    w: i128,
    #[segment(bits = 3)]
    x: u8,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Bools {
    a: bool,
    b: bool,
    c: bool,
    d: bool,
    e: bool,
    f: bool,
    g: bool,
    h: bool,
}

fn total<T, F: Fn(&T, &T) -> Ordering>(a: &Option<T>, b: &Option<T>, nulls_last: bool, cmp: F) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => cmp(x, y),
        (None, None) => Ordering::Equal,
        (None, Some(_)) => {
            if nulls_last {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Some(_), None) => {
            if nulls_last {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
    }
}

/// The oracle: the key tuple compared field by field.
fn oracle_mixed(x: &Mixed, y: &Mixed) -> Ordering {
    x.a.cmp(&y.a)
        .then(y.b.cmp(&x.b))
        .then(x.f.total_cmp(&y.f))
        .then(total(&x.o, &y.o, true, |p, q| p.cmp(q)))
        .then(x.s.cmp(&y.s))
        .then(total(&x.t, &y.t, false, |p, q| q.cmp(p)))
        .then(total(&x.g, &y.g, true, |p, q| q.total_cmp(p)))
}

fn oracle_fixed(x: &Fixed, y: &Fixed) -> Ordering {
    x.tag
        .cmp(&y.tag)
        .then(y.price.total_cmp(&x.price))
        .then(x.i.cmp(&y.i))
        .then(total(&x.n, &y.n, true, |p, q| p.cmp(q)))
        .then(x.flag.cmp(&y.flag))
        .then(y.w.cmp(&x.w))
        .then(x.c.cmp(&y.c))
        .then(y.small.cmp(&x.small))
        .then(x.arr.cmp(&y.arr))
}

/// Encodes, and checks the round trip through `decode` and `view` by bytes
/// (NaN keys make `PartialEq` useless here).
fn enc<T: SegmentRecord>(v: &T) -> Vec<u8> {
    let mut buf = vec![0; v.encoded_len()];
    v.encode(&mut buf).unwrap();
    for back in [T::decode(&buf).unwrap(), T::view(&buf).unwrap().to_record()] {
        let mut again = vec![0; back.encoded_len()];
        back.encode(&mut again).unwrap();
        assert_eq!(again, buf, "decode/view round trip changed the bytes");
    }
    check_words(v, &buf);
    buf
}

/// `normalized_key_word` of the bytes and `normalized_key_word_of` the
/// value both equal the first 16 bytes of `write_normalized_key`, zero-padded.
fn check_words<T: SegmentRecord>(v: &T, e: &[u8]) {
    let mut k = vec![0; T::NORMALIZED_KEY_LEN.max(16)];
    T::write_normalized_key(e, &mut k);
    let want = u128::from_be_bytes(k[..16].try_into().unwrap());
    assert_eq!(T::normalized_key_word(e), want, "normalized_key_word of the bytes");
    assert_eq!(v.normalized_key_word_of(), want, "normalized_key_word_of the value");
}

fn canonical<T: SegmentRecord>(e: &[u8]) -> Vec<u8> {
    let mut k = Vec::new();
    T::write_key(e, &mut k);
    k
}

fn normalized<T: SegmentRecord>(e: &[u8]) -> Vec<u8> {
    let mut k = vec![0xEE; T::NORMALIZED_KEY_LEN + 2];
    T::write_normalized_key(e, &mut k);
    assert_eq!(k[T::NORMALIZED_KEY_LEN..], [0xEE, 0xEE], "normalized key wrote past its length");
    k.truncate(T::NORMALIZED_KEY_LEN);
    let c = canonical::<T>(e);
    let n = c.len().min(k.len());
    assert_eq!(k[..n], c[..n], "normalized key is not a prefix of the canonical key");
    assert!(k[n..].iter().all(|&b| b == 0), "normalized key is not zero-padded");
    k
}

/// Checks every key property on one pair.
fn check_pair<T: SegmentRecord>(x: &T, y: &T, oracle: Ordering) {
    let (ex, ey) = (enc(x), enc(y));
    assert_eq!(T::compare_key(&ex, &ey), oracle, "compare_key");
    assert_eq!(canonical::<T>(&ex).cmp(&canonical::<T>(&ey)), oracle, "canonical memcmp");
    let (nx, ny) = (normalized::<T>(&ex), normalized::<T>(&ey));
    if T::NORMALIZED_KEY_IS_PREFIX {
        let n = nx.cmp(&ny);
        assert!(n == oracle || n == Ordering::Equal, "normalized key contradicts the order");
    } else {
        assert_eq!(nx.cmp(&ny), oracle, "normalized memcmp");
    }
    if !T::NORMALIZED_KEY_IS_PREFIX && T::NORMALIZED_KEY_LEN <= 16 {
        let (wx, wy) = (T::normalized_key_word(&ex), T::normalized_key_word(&ey));
        assert_eq!(wx.cmp(&wy), oracle, "normalized key words");
    }
    assert_eq!(T::key_eq(&ex, &ey), oracle == Ordering::Equal);
    if oracle == Ordering::Equal {
        assert_eq!(T::hash_key(&ex, 7), T::hash_key(&ey, 7));
    }
}

const EDGE_F64: [f64; 9] =
    [f64::NAN, -f64::NAN, -0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY, 1.0, -1.0, f64::MIN_POSITIVE];

fn f64s() -> impl Strategy<Value = f64> {
    prop_oneof![any::<f64>(), proptest::sample::select(EDGE_F64.to_vec())]
}

fn strings() -> impl Strategy<Value = String> {
    let long = "commonprefix".repeat(4);
    prop_oneof![
        Just(String::new()),
        "[a-c\u{0}]{0,4}",
        "[a-c]{0,3}".prop_map(move |s| format!("{long}{s}")),
        any::<String>(),
    ]
}

prop_compose! {
    fn mixed()(a in 0u32..3, b in prop_oneof![Just(i64::MIN), Just(i64::MAX), -2i64..2], f in f64s(),
               o in proptest::option::of(prop_oneof![Just(i16::MIN), -1i16..1]), s in strings(),
               t in proptest::option::of(strings()), g in proptest::option::of(f64s().prop_map(|f| f as f32)),
               note in ".{0,5}") -> Mixed {
        Mixed { a, note, b, f, o, s, t, g }
    }
}

prop_compose! {
    fn fixed()(tag in 0u8..2, price in f64s(), i in prop_oneof![Just(i64::MIN), Just(i64::MAX), -1i64..1],
               n in proptest::option::of(prop_oneof![Just(u64::MAX), 0u64..2]), flag in any::<bool>(),
               w in prop_oneof![Just(i128::MIN), Just(i128::MAX), -1i128..1], c in any::<char>(),
               small in -2048i16..2048, arr in any::<[i8; 2]>()) -> Fixed {
        Fixed { tag, price, i, n, flag, w, c, small, arr, payload: "p".into() }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn mixed_keys_order_like_the_tuple(x in mixed(), y in mixed()) {
        check_pair(&x, &y, oracle_mixed(&x, &y));
        check_pair(&x, &x, Ordering::Equal);
        // the same key in a different struct: same canonical key and hash
        let twin = |m: &Mixed| MixedTwin { extra: 1, a: m.a, b: m.b, f: m.f, flag: true, o: m.o, s: m.s.clone(), t: m.t.clone(), g: m.g };
        let (ex, tx) = (enc(&x), enc(&twin(&x)));
        prop_assert_eq!(canonical::<Mixed>(&ex), canonical::<MixedTwin>(&tx));
        prop_assert_eq!(normalized::<Mixed>(&ex), normalized::<MixedTwin>(&tx));
        prop_assert_eq!(Mixed::hash_key(&ex, 42), MixedTwin::hash_key(&tx, 42));
    }

    #[test]
    fn fixed_keys_order_like_the_tuple(x in fixed(), y in fixed()) {
        check_pair(&x, &y, oracle_fixed(&x, &y));
        check_pair(&x, &x, Ordering::Equal);
    }

    /// Keys of up to 16 bytes, whose words the derive computes in registers.
    #[test]
    fn word_keys_order_like_the_tuple(x in fixed(), y in fixed()) {
        let word = |f: &Fixed| Word {
            tag: f.tag, price: f.price, o: f.n.map(|v| v as i16), payload: 9, flag: f.flag, small: f.small,
        };
        let (a, b) = (word(&x), word(&y));
        let oracle = a.tag.cmp(&b.tag)
            .then(b.price.total_cmp(&a.price))
            .then(total(&a.o, &b.o, true, |p, q| p.cmp(q)))
            .then(a.flag.cmp(&b.flag))
            .then(b.small.cmp(&a.small));
        check_pair(&a, &b, oracle);

        let word2 = |f: &Fixed| Word2 {
            c: f.c, g: (!f.flag).then_some(f.price as f32), arr: f.arr, n: f.n.map(|v| v as u32),
        };
        let (a, b) = (word2(&x), word2(&y));
        let oracle = a.c.cmp(&b.c)
            .then(total(&a.g, &b.g, false, |p, q| q.total_cmp(p)))
            .then(b.arr.cmp(&a.arr))
            .then(total(&a.n, &b.n, false, |p, q| p.cmp(q)));
        check_pair(&a, &b, oracle);

        let (a, b) = (Wide { w: x.w, x: 5 }, Wide { w: y.w, x: 2 });
        check_pair(&a, &b, b.w.cmp(&a.w));
    }

    #[test]
    fn hashes_spread(xs in proptest::collection::hash_set(any::<u64>(), 100)) {
        let hashes: std::collections::HashSet<u64> = xs.iter().map(|&key| {
            Bench::hash_key(&enc(&Bench { key, a: 0, b: 0, price: 0.0, flag1: false, flag2: false, flag3: false, tag: 0 }), 1)
        }).collect();
        prop_assert_eq!(hashes.len(), 100);
    }
}

#[test]
fn normalized_key_lengths() {
    const { assert!(!Fixed::NORMALIZED_KEY_IS_PREFIX) };
    assert_eq!(Fixed::NORMALIZED_KEY_LEN, 1 + 8 + 8 + 9 + 1 + 16 + 4 + 2 + 2);
    const { assert!(Mixed::NORMALIZED_KEY_IS_PREFIX) };
    assert_eq!(Mixed::NORMALIZED_KEY_LEN % 8, 0);
    assert_eq!(Bench::NORMALIZED_KEY_LEN, 8);
    let b = Bench {
        key: 0x0102_0304_0506_0708,
        a: 1,
        b: -1,
        price: 1.0,
        flag1: true,
        flag2: false,
        flag3: true,
        tag: 9,
    };
    let mut k = [0u8; 8];
    Bench::write_normalized_key(&enc(&b), &mut k);
    assert_eq!(k, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(b.key(), (0x0102_0304_0506_0708,));
}

#[test]
fn layout_sizes() {
    assert_eq!(Bools::FIXED_LEN, 1);
    assert_eq!(Bools::ENCODED_SIZE, Some(1));
    assert_eq!(Bench::FIXED_LEN, 26);
    assert_eq!(Bench::ENCODED_SIZE, Some(26));
    assert_eq!(std::mem::size_of::<Bench>(), 32);
    assert_eq!(Mixed::ENCODED_SIZE, None);
    let table = Bench::LAYOUT.to_string();
    assert!(table.starts_with("Bench: 26 bytes fixed (203 bits), variable part: no"), "{table}");
    assert!(table.contains("key    u64     64       0  1 asc"), "{table}");
}

macro_rules! widths {
    ($($m:ident $n:literal),*) => {
        $(
            mod $m {
                use super::*;
                #[derive(SegmentRecord, Debug, Clone, PartialEq)]
                pub struct W {
                    #[segment(key, bits = $n)]
                    pub u: u64,
                    #[segment(key, bits = $n)]
                    pub i: i64,
                    pub pad: bool,
                }
            }
        )*
        fn check_width(n: u32, u: u64, i: i64) {
            match n {
                $($n => check_one::<$m::W>(n, $m::W { u, i, pad: true }, |w| (w.u, w.i)),)*
                _ => unreachable!(),
            }
        }
    };
}

widths!(w1 1, w2 2, w3 3, w4 4, w5 5, w6 6, w7 7, w8 8, w9 9, w10 10, w11 11, w12 12, w13 13, w14 14, w15 15, w16 16, w17 17, w18 18, w19 19, w20 20, w21 21, w22 22, w23 23, w24 24, w25 25, w26 26, w27 27, w28 28, w29 29, w30 30, w31 31, w32 32, w33 33, w34 34, w35 35, w36 36, w37 37, w38 38, w39 39, w40 40, w41 41, w42 42, w43 43, w44 44, w45 45, w46 46, w47 47, w48 48, w49 49, w50 50, w51 51, w52 52, w53 53, w54 54, w55 55, w56 56, w57 57, w58 58, w59 59, w60 60, w61 61, w62 62, w63 63, w64 64);

fn check_one<T: SegmentRecord + PartialEq + std::fmt::Debug + Clone>(
    n: u32,
    v: T,
    parts: fn(&T) -> (u64, i64),
) {
    let (u, i) = parts(&v);
    let umax = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
    let (imin, imax) =
        if n == 64 { (i64::MIN, i64::MAX) } else { (-(1i64 << (n - 1)), (1i64 << (n - 1)) - 1) };
    let fits = u <= umax && i >= imin && i <= imax;
    let mut buf = vec![0x55; v.encoded_len()];
    match v.encode(&mut buf) {
        Ok(_) => {
            assert!(fits, "width {n}: {u} / {i} should overflow");
            assert_eq!(T::decode(&buf).unwrap(), v);
            check_words(&v, &buf);
        }
        Err(EncodeError::Overflow { bits, .. }) => {
            assert!(!fits, "width {n}: {u} / {i} should fit");
            assert_eq!(bits, n);
            assert!(buf.iter().all(|&b| b == 0x55), "overflow wrote bytes");
        }
        Err(e) => panic!("{e}"),
    }
    assert_eq!(T::FIXED_LEN, (2 * n as usize + 1).div_ceil(8));
}

fn in_width(n: u32) -> impl Strategy<Value = (u64, i64)> {
    let umax = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
    let (imin, imax) =
        if n == 64 { (i64::MIN, i64::MAX) } else { (-(1i64 << (n - 1)), (1i64 << (n - 1)) - 1) };
    (
        prop_oneof![Just(0), Just(umax), 0..=umax, any::<u64>()],
        prop_oneof![Just(imin), Just(imax), Just(-1), imin..=imax, any::<i64>()],
    )
}

proptest! {
    #[test]
    fn bits_at_every_width((n, (u, i)) in (1u32..=64).prop_flat_map(|n| (Just(n), in_width(n)))) {
        check_width(n, u, i);
    }
}

#[derive(SegmentEnum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Color {
    Red,
    Green,
    Blue,
    Cyan,
    Magenta,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Inner {
    #[segment(key)]
    name: String,
    #[segment(key)]
    id: u16,
    other: u8,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct WithNested {
    #[segment(key)]
    color: Color,
    #[segment(key, desc)]
    inner: Inner,
    #[segment(key)]
    oc: Option<Color>,
    #[segment(key, nulls_last)]
    oi: Option<Inner>,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct EnumKey {
    #[segment(key)]
    color: Color,
    #[segment(key, desc)]
    n: u32,
}

fn color() -> impl Strategy<Value = Color> {
    proptest::sample::select(vec![Color::Red, Color::Green, Color::Blue, Color::Cyan, Color::Magenta])
}

prop_compose! {
    fn inner()(name in strings(), id in 0u16..3, other in any::<u8>()) -> Inner { Inner { name, id, other } }
}

fn inner_cmp(a: &Inner, b: &Inner) -> Ordering {
    a.key().cmp(&b.key())
}

proptest! {
    #[test]
    fn nested_keys_order_like_the_tuple(c in color(), d in color(), i in inner(), j in inner(),
                                        oc in proptest::option::of(color()), od in proptest::option::of(color()),
                                        oi in proptest::option::of(inner()), oj in proptest::option::of(inner()),
                                        n in 0u32..3, m in 0u32..3) {
        let x = WithNested { color: c, inner: i.clone(), oc, oi: oi.clone() };
        let y = WithNested { color: d, inner: j.clone(), oc: od, oi: oj.clone() };
        let oracle = c.cmp(&d)
            .then(inner_cmp(&j, &i))
            .then(oc.cmp(&od))
            .then(total(&oi, &oj, true, inner_cmp));
        check_pair(&x, &y, oracle);
        check_pair(&x, &x, Ordering::Equal);
        prop_assert_eq!(x.key(), (c, (i.name.clone(), i.id), oc, oi.map(|i| (i.name, i.id))));
        let (e, f) = (EnumKey { color: c, n }, EnumKey { color: d, n: m });
        check_pair(&e, &f, c.cmp(&d).then(m.cmp(&n)));
    }
}

#[test]
fn enum_keys_are_fixed_width() {
    const { assert!(!EnumKey::NORMALIZED_KEY_IS_PREFIX) };
    assert_eq!(EnumKey::NORMALIZED_KEY_LEN, 1 + 4);
    assert_eq!(<Color as SegmentEnum>::BITS, 3);
    const { assert!(WithNested::NORMALIZED_KEY_IS_PREFIX) };
}

/// An embedded key with `Option` parts: a `None` in it is a null part of
/// the key of a record that embeds it.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Address {
    #[segment(key)]
    zip: Option<u32>,
    street: String,
    #[segment(key, desc)]
    city: Option<String>,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Shipment {
    #[segment(key)]
    color: Color,
    #[segment(key)]
    to: Address,
    weight: Option<u16>,
    #[segment(key, nulls_last)]
    from: Option<Address>,
    #[segment(key)]
    n: Option<i16>,
}

/// A key part behind a generic parameter, plain and as an `Option`.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Via<T> {
    #[segment(key)]
    hop: T,
    #[segment(key)]
    next: Option<T>,
}

prop_compose! {
    fn address()(zip in proptest::option::of(any::<u32>()), street in ".{0,5}",
                 city in proptest::option::of(strings())) -> Address {
        Address { zip, street, city }
    }
}

fn address_null(a: &Address) -> bool {
    a.zip.is_none() || a.city.is_none()
}

proptest! {
    /// Every record here with `Option` key parts, each part `None` or not
    /// independently of the others: `key_has_null` answers as the value
    /// says, and as the trait's default does on every one-bit change.
    #[test]
    fn key_has_null_tests_the_null_bits_of_the_key(m in mixed(), f in fixed(), c in color(),
                                                   i in inner(), oc in proptest::option::of(color()),
                                                   oi in proptest::option::of(inner()), n in any::<u32>()) {
        check_key_nulls(&m, m.o.is_none() || m.t.is_none() || m.g.is_none());
        let twin = MixedTwin { extra: 1, a: m.a, b: m.b, f: m.f, flag: true, o: m.o, s: m.s.clone(), t: m.t.clone(), g: m.g };
        check_key_nulls(&twin, m.o.is_none() || m.t.is_none() || m.g.is_none());
        check_key_nulls(&f, f.n.is_none());
        let w = Word { tag: f.tag, price: f.price, o: m.o, payload: 9, flag: f.flag, small: f.small };
        check_key_nulls(&w, w.o.is_none());
        let w2 = Word2 { c: f.c, g: m.g, arr: f.arr, n: f.n.map(|v| v as u32) };
        check_key_nulls(&w2, w2.g.is_none() || w2.n.is_none());
        let nested = WithNested { color: c, inner: i.clone(), oc, oi: oi.clone() };
        check_key_nulls(&nested, oc.is_none() || oi.is_none());
        check_key_nulls(&Via { hop: n, next: f.n.map(|v| v as u32) }, f.n.is_none());
        // Keys without `Option` parts: never null.
        check_key_nulls(&i, false);
        check_key_nulls(&EnumKey { color: c, n }, false);
        check_key_nulls(&Wide { w: f.w, x: 1 }, false);
        check_key_nulls(&Bench { key: n.into(), a: 0, b: 0, price: 0.0, flag1: true, flag2: false, flag3: true, tag: 0 }, false);
    }

    /// A `None` inside an embedded key counts, also behind `Option` and
    /// behind a generic parameter.
    #[test]
    fn key_has_null_looks_into_embedded_keys(a in address(), b in proptest::option::of(address()),
                                             weight in proptest::option::of(any::<u16>()),
                                             n in proptest::option::of(any::<i16>()), c in color()) {
        check_key_nulls(&a, address_null(&a));
        let s = Shipment { color: c, to: a.clone(), weight, from: b.clone(), n };
        check_embedded_key_nulls(&s, address_null(&a) || b.as_ref().is_none_or(address_null) || n.is_none());
        let v = Via { hop: a.clone(), next: b.clone() };
        check_embedded_key_nulls(&v, address_null(&a) || b.as_ref().is_none_or(address_null));
    }
}

#[test]
fn key_has_null_of_keys_without_option_parts_is_a_constant() {
    // The fixed part alone (and no bytes at all) are enough to answer.
    for bytes in [&[][..], &[0xFF; 64][..], &[0; 64][..]] {
        assert!(!Bench::key_has_null(bytes));
        assert!(!EnumKey::key_has_null(bytes));
        assert!(!Wide::key_has_null(bytes));
    }
}
