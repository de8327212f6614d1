use segrec::SegmentRecord;

#[derive(SegmentRecord)]
struct Bad {
    #[segment(bits = 9)]
    a: u8,
    #[segment(desc)]
    b: u32,
    #[segment(frobnicate)]
    c: u32,
}

fn main() {}
