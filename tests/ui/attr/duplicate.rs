use segrec::SegmentRecord;

#[derive(SegmentRecord)]
struct Bad {
    #[segment(key, key)]
    x: u32,
    #[segment(bits = 3)]
    #[segment(bits = 4)]
    y: u32,
}

fn main() {}
