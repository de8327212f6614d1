use segrec::SegmentRecord;

#[derive(SegmentRecord)]
struct Bad(u32, u64);

fn main() {}
