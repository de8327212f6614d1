use segrec::SegmentEnum;

#[derive(SegmentEnum, Clone, Copy, Debug)]
enum Bad {
    A,
    B(u32),
    C { x: u8 },
}

fn main() {}
