//! Misuse of the derives is a compile error with a span on the offending
//! field or attribute.
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
}
