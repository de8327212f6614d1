//! Grouping a sorted stream by key: the reduce side of sort-based
//! aggregation (and of a sort-merge join), zero-copy.
//!
//! Records with equal keys are adjacent in a [`SortedStream`], so a group is
//! a run of neighbours; the first record of each group is kept (copied once)
//! to compare the following ones with [`SegmentRecord::key_eq`].

use core::fmt;

use segrec_core::SegmentRecord;

use super::{SortError, SortedStream};

/// A sorted stream read one key group at a time, made by
/// [`SortedStream::group_by_key`]. Records of a group come in push order; a
/// group left unfinished is skipped by the next
/// [`next_group`](Self::next_group).
///
/// # Examples
///
/// ```ignore
/// let mut groups = sorter.finish()?.group_by_key();
/// while let Some(mut group) = groups.next_group()? {
///     let mut total = 0;
///     while let Some(r) = group.next_ref()? {
///         total += r.amount();
///     }
/// }
/// ```
pub struct GroupBy<T: SegmentRecord> {
    stream: SortedStream<T>,
    /// Encoded bytes of the current group's first record.
    first: Vec<u8>,
    /// Whether records of the current group may still be unread.
    in_group: bool,
    groups: u64,
}

impl<T: SegmentRecord> fmt::Debug for GroupBy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupBy").field("stream", &self.stream).field("groups", &self.groups).finish()
    }
}

impl<T: SegmentRecord> GroupBy<T> {
    pub(crate) fn new(stream: SortedStream<T>) -> Self {
        Self { stream, first: Vec::new(), in_group: false, groups: 0 }
    }

    /// Groups started so far.
    #[must_use]
    pub fn groups(&self) -> u64 {
        self.groups
    }

    /// Moves to the next key group (skipping what is left of the current
    /// one); `None` when the stream is exhausted.
    ///
    /// # Errors
    ///
    /// Whatever reading the sorted stream fails with.
    pub fn next_group(&mut self) -> Result<Option<Group<'_, T>>, SortError> {
        while self.in_group {
            self.next_in_group()?;
        }
        match self.stream.next_encoded()? {
            None => return Ok(None),
            Some(bytes) => {
                self.first.clear();
                self.first.extend_from_slice(bytes);
            }
        }
        self.stream.unread();
        self.in_group = true;
        self.groups += 1;
        Ok(Some(Group { owner: self }))
    }

    /// Advances within the group: `true` when the stream's next record
    /// belongs to it (and has been consumed, ready to be re-served).
    fn next_in_group(&mut self) -> Result<bool, SortError> {
        let same = match self.stream.next_encoded()? {
            None => false,
            Some(bytes) => {
                if T::key_eq(&self.first, bytes) {
                    return Ok(true);
                }
                self.stream.unread();
                false
            }
        };
        self.in_group = same;
        Ok(same)
    }
}

/// The records of one key group, read with [`next_ref`](Self::next_ref).
pub struct Group<'g, T: SegmentRecord> {
    owner: &'g mut GroupBy<T>,
}

impl<T: SegmentRecord> fmt::Debug for Group<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group").field("group", &self.owner.groups).finish()
    }
}

impl<T: SegmentRecord> Group<'_, T> {
    /// The group's first record, which carries the key.
    ///
    /// # Errors
    ///
    /// [`SortError::Decode`] when its bytes do not validate.
    pub fn first(&self) -> Result<T::Ref<'_>, SortError> {
        Ok(T::view(&self.owner.first)?)
    }

    /// The next record of the group as a zero-copy view; `None` after its
    /// last.
    ///
    /// # Errors
    ///
    /// Whatever reading the sorted stream fails with.
    pub fn next_ref(&mut self) -> Result<Option<T::Ref<'_>>, SortError> {
        if !self.owner.in_group || !self.owner.next_in_group()? {
            return Ok(None);
        }
        // The record was consumed to compare it; serve it again.
        self.owner.stream.unread();
        match self.owner.stream.next_encoded()? {
            Some(bytes) => Ok(Some(T::view(bytes)?)),
            None => Ok(None),
        }
    }
}
