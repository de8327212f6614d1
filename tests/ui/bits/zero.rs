use segrec::SegmentRecord;

#[derive(SegmentRecord)]
struct Bad {
    #[segment(bits = 0)]
    x: u32,
}

fn main() {}
