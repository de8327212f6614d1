//! Which rows a join returns.

/// The kind of join. The left input is the probe side of a [`HashJoin`]
/// (crate::join::HashJoin), the right input its build side.
///
/// | type         | matched pairs | unmatched left | unmatched right |
/// | ------------ | ------------- | -------------- | --------------- |
/// | `Inner`      | `(l, r)`      | —              | —               |
/// | `LeftOuter`  | `(l, r)`      | `(l, None)`    | —               |
/// | `RightOuter` | `(l, r)`      | —              | `(None, r)`     |
/// | `FullOuter`  | `(l, r)`      | `(l, None)`    | `(None, r)`     |
/// | `LeftSemi`   | `(l, None)` once per matching left row | — | —      |
/// | `LeftAnti`   | —             | `(l, None)`    | —               |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinType {
    /// Pairs of rows with equal keys.
    Inner,
    /// Inner pairs plus every left row without a match.
    LeftOuter,
    /// Inner pairs plus every right row without a match.
    RightOuter,
    /// Inner pairs plus unmatched rows of both sides.
    FullOuter,
    /// Each left row that has at least one match, once.
    LeftSemi,
    /// Each left row that has no match.
    LeftAnti,
}

impl JoinType {
    /// Every join type, for tests and benchmarks.
    pub const ALL: [JoinType; 6] = [
        JoinType::Inner,
        JoinType::LeftOuter,
        JoinType::RightOuter,
        JoinType::FullOuter,
        JoinType::LeftSemi,
        JoinType::LeftAnti,
    ];

    /// Whether left rows without a match are returned.
    #[must_use]
    pub const fn keeps_unmatched_left(self) -> bool {
        matches!(self, Self::LeftOuter | Self::FullOuter | Self::LeftAnti)
    }

    /// Whether right rows without a match are returned.
    #[must_use]
    pub const fn keeps_unmatched_right(self) -> bool {
        matches!(self, Self::RightOuter | Self::FullOuter)
    }

    /// Whether matched pairs are returned as `(l, r)`.
    #[must_use]
    pub const fn emits_pairs(self) -> bool {
        matches!(self, Self::Inner | Self::LeftOuter | Self::RightOuter | Self::FullOuter)
    }
}
