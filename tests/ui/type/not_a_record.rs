use segrec::SegmentRecord;

struct Plain {
    x: u32,
}

#[derive(SegmentRecord)]
struct Bad {
    plain: Plain,
}

fn main() {}
