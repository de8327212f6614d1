use segrec::SegmentRecord;

#[derive(SegmentRecord)]
struct Bad {
    #[segment(primary)]
    x: u32,
    #[segment(key, ascending)]
    y: u32,
    #[segment(crate = "segrec")]
    z: u32,
}

fn main() {}
