use segrec::SegmentRecord;

#[derive(SegmentRecord)]
struct Bad {
    #[segment(skip, key)]
    x: u32,
}

fn main() {}
