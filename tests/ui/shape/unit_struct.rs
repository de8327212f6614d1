use segrec::SegmentRecord;

#[derive(SegmentRecord)]
struct Bad;

fn main() {}
