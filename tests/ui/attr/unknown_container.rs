use segrec::SegmentRecord;

#[derive(SegmentRecord)]
#[segment(key)]
struct Bad {
    x: u32,
}

fn main() {}
