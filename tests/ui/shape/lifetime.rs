use segrec::SegmentRecord;

#[derive(SegmentRecord)]
struct Bad<'a> {
    name: &'a str,
}

fn main() {}
