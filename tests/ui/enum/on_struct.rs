use segrec::SegmentEnum;

#[derive(SegmentEnum, Clone, Copy, Debug)]
struct Bad {
    x: u8,
}

fn main() {}
