//! Insertion sort, the finishing pass of the radix sorts: their last digit
//! leaves sub-buckets of a few elements, where it beats anything cleverer.

/// Sorts `v` by insertion. Elements compare as wholes, so equal ones keep
/// their order (callers make their elements unique anyway).
#[inline(always)]
pub(crate) fn insertion_sort<T: Copy + Ord>(v: &mut [T]) {
    // Nothing is ever `same`: the checks compile away.
    insertion_sort_noting(v, |_, _| false);
}

/// [`insertion_sort`], also telling whether any two elements that end up
/// next to each other are `same` (a coarser equality of the caller's, such
/// as "equal in some leading bits": elements equal that way are adjacent
/// once sorted).
///
/// Each element is checked against its new neighbours as it is placed: the
/// left one, and the right one when it moved. A later element inserted
/// between two `same` ones is `same` as its left neighbour, so no pair is
/// missed.
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
        if j < i {
            any |= same(x, v[j + 1]);
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use super::insertion_sort_noting;

    #[test]
    fn noting_sees_pairs_on_either_side_of_an_inserted_element() {
        let same = |a: u8, b: u8| a >> 4 == b >> 4;
        // 0x21 goes before its equal 0x22: only its right neighbour is same.
        let mut v = [0x10u8, 0x22, 0x21];
        assert!(insertion_sort_noting(&mut v, same));
        assert_eq!(v, [0x10, 0x21, 0x22]);
        let mut v = [0x31u8, 0x10, 0x22];
        assert!(!insertion_sort_noting(&mut v, same));
        assert_eq!(v, [0x10, 0x22, 0x31]);
        let mut v = [0x22u8, 0x10, 0x21, 0x30];
        assert!(insertion_sort_noting(&mut v, same));
    }
}
