//! [`SorterConfig`]: the knobs of a [`Sorter`](super::Sorter).

use std::path::PathBuf;

/// Settings of a [`Sorter`](super::Sorter), built fluently.
///
/// # Examples
///
/// ```
/// use segrec_operators::sort::SorterConfig;
///
/// let config = SorterConfig::new().name("orders-by-customer").memory_limit(8 << 20).max_fan_in(64);
/// assert_eq!(config.fan_in(), 64);
/// ```
#[derive(Debug, Clone)]
pub struct SorterConfig {
    pub(crate) name: String,
    pub(crate) memory_limit: Option<usize>,
    pub(crate) key_prefix_len: usize,
    pub(crate) max_fan_in: usize,
    pub(crate) read_ahead: usize,
    pub(crate) sort_thread: bool,
    pub(crate) spill_dir: Option<PathBuf>,
}

impl Default for SorterConfig {
    fn default() -> Self {
        Self {
            name: "sort".into(),
            memory_limit: None,
            key_prefix_len: 12,
            max_fan_in: 128,
            read_ahead: 1,
            sort_thread: true,
            spill_dir: None,
        }
    }
}

impl SorterConfig {
    /// The defaults: the whole budget, a 12-byte key prefix, fan-in 128.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Name of the sorter's memory reservation, shown in errors and stats.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The sorter's share of the budget in bytes (default: whatever the
    /// manager has left).
    #[must_use]
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Bytes of the normalized key kept in each index entry, 1 to 12
    /// (default 12, clamped). Keys whose normalized form is longer fall back
    /// to the full comparator on prefix ties.
    #[must_use]
    pub fn key_prefix_len(mut self, bytes: usize) -> Self {
        self.key_prefix_len = bytes.clamp(1, 12);
        self
    }

    /// The most runs one merge reads at once (default 128, at least 2); the
    /// budget may allow fewer. More runs than the fan-in means intermediate
    /// merge passes.
    #[must_use]
    pub fn max_fan_in(mut self, runs: usize) -> Self {
        self.max_fan_in = runs.max(2);
        self
    }

    /// Pages of read-ahead per run reader during merges (default 1), read
    /// and checked by one background thread per merge; 0 reads each run on
    /// the merging thread, a page at a time.
    #[must_use]
    pub fn read_ahead(mut self, pages: usize) -> Self {
        self.read_ahead = pages;
        self
    }

    /// Whether reading a sort that stayed in memory may use a second thread
    /// (default true): fixed-size records are sorted chain by chain as they
    /// are read, and a helper thread sorts the chains ahead of the reader.
    /// It starts only on a machine with more than one core, and only for
    /// sorts large enough to keep it busy; its vectors are charged to the
    /// sorter's budget. `false` keeps sorting on the reading thread.
    #[must_use]
    pub fn sort_thread(mut self, yes: bool) -> Self {
        self.sort_thread = yes;
        self
    }

    /// Directory for this sorter's run files (default: the memory manager's
    /// spill directory).
    #[must_use]
    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = Some(dir.into());
        self
    }

    /// The configured maximum fan-in.
    #[must_use]
    pub fn fan_in(&self) -> usize {
        self.max_fan_in
    }
}
