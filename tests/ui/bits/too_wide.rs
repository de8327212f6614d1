use segrec::SegmentRecord;

#[derive(SegmentRecord)]
struct Bad {
    #[segment(bits = 9)]
    x: u8,
    #[segment(bits = 33)]
    y: Option<i32>,
}

fn main() {}
