use segrec::SegmentRecord;

#[derive(SegmentRecord)]
struct Bad {
    #[segment(desc)]
    x: u32,
    #[segment(nulls_last)]
    y: Option<u32>,
}

fn main() {}
