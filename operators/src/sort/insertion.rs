//! Insertion sort, the finishing pass of the radix sorts: their last digit
//! leaves sub-buckets of a few elements, where it beats anything cleverer.

/// Sorts `v` by insertion. Elements compare as wholes, so equal ones keep
/// their order (callers make their elements unique anyway).
#[inline(always)]
pub(crate) fn insertion_sort<T: Copy + Ord>(v: &mut [T]) {
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] > x {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

/// [`insertion_sort`], also telling whether any two elements that end up
/// next to each other are `same` (a coarser equality of the caller's).
///
/// Each element is checked against its final left neighbour only: if `same`
/// means "equal in some leading bits", elements equal that way are adjacent
/// once sorted, and an element inserted between two of them is `same` as its
/// left neighbour too, so no pair is missed.
#[inline(always)]
pub(crate) fn insertion_sort_noting<T: Copy + Ord>(v: &mut [T], same: impl Fn(T, T) -> bool) -> bool {
    let mut any = false;
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] > x {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
        any |= j > 0 && same(v[j - 1], x);
    }
    any
}
