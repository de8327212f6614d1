use segrec::SegmentRecord;

#[derive(SegmentRecord)]
struct Bad {
    #[segment(key, nulls_last)]
    x: u32,
}

fn main() {}
