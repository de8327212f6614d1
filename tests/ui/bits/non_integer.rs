use segrec::SegmentRecord;

#[derive(SegmentRecord)]
struct Bad {
    #[segment(bits = 16)]
    price: f64,
    #[segment(bits = 1)]
    flag: bool,
    #[segment(bits = 8)]
    name: String,
}

fn main() {}
