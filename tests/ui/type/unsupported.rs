use std::collections::HashMap;

use segrec::SegmentRecord;

#[derive(SegmentRecord)]
struct Bad {
    ok: u32,
    map: HashMap<u32, u32>,
    size: usize,
    strings: Vec<String>,
    pair: (u8, u8),
    nested: Option<Option<u8>>,
}

fn main() {}
