use segrec::SegmentRecord;

#[derive(SegmentRecord)]
enum Bad {
    A(u32),
    B { x: u8 },
}

fn main() {}
