use segrec::SegmentEnum;

#[derive(SegmentEnum, Clone, Copy, Debug)]
enum Bad {}

fn main() {}
