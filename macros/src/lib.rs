//! `#[derive(SegmentRecord)]` and `#[derive(SegmentEnum)]`.
