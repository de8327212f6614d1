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
