mod common;

use common::Bench;
use segrec::prelude::*;

/// Wider than `common::Order`: a nullable key part and a byte blob too.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
struct Order {
    #[segment(key)]
    customer: u32,
    #[segment(key, desc)]
    amount: i64,
    #[segment(bits = 4)]
    priority: u8,
    shipped: bool,
    discount: Option<f32>,
    comment: String,
    #[segment(key, nulls_last)]
    note: Option<String>,
    blob: Vec<u8>,
}

#[test]
fn smoke() {
    assert_eq!(Bench::FIXED_LEN, 26);
    println!("{}", Bench::LAYOUT);
    let o = Order {
        customer: 7,
        amount: -3,
        priority: 9,
        shipped: true,
        discount: Some(0.5),
        comment: "hello".into(),
        note: None,
        blob: vec![1, 2, 3],
    };
    let mut buf = vec![0u8; o.encoded_len()];
    o.encode(&mut buf).unwrap();
    let r = Order::view(&buf).unwrap();
    println!("{r:?}");
    assert_eq!(r.comment(), "hello");
    assert_eq!(Order::decode(&buf).unwrap(), o);
    println!("{}", Order::LAYOUT);
}
