//! Sorter scenarios, each checked element by element against
//! `slice::sort_by` (stable) with peak <= budget and no files left.

mod common;

use std::fs;

use common::{Fixed, Multi, Rng, Var, check_key_nulls, check_sort, manager};
use proptest::prelude::*;
use segrec_core::{SegmentRecord, SpillError};
use segrec_operators::{SortError, Sorter, SorterConfig};

const PAGE: usize = 4096;
const SMALL: usize = 64 << 10;

fn fixed(n: usize, keys: u64, seed: u64) -> Vec<Fixed> {
    let mut rng = Rng::new(seed);
    (0..n).map(|i| Fixed { key: rng.below(keys), payload: i as u32 }).collect()
}

fn by_key(a: &Fixed, b: &Fixed) -> std::cmp::Ordering {
    a.key.cmp(&b.key)
}

fn by_string(a: &Var, b: &Var) -> std::cmp::Ordering {
    a.key.cmp(&b.key)
}

/// Strings sharing long prefixes, some empty, some with NULs, many equal.
fn strings(n: usize, seed: u64, max_tail: usize) -> Vec<Var> {
    let mut rng = Rng::new(seed);
    let prefixes = ["", "a", "commonprefix_commonprefix_", "commonprefix_commonprefix_x", "zz\0z"];
    (0..n)
        .map(|i| {
            let mut key = prefixes[rng.below(prefixes.len() as u64) as usize].to_string();
            let tail = rng.below(max_tail as u64 + 1) as usize;
            for _ in 0..tail {
                key.push(b"ab\0c"[rng.below(4) as usize] as char);
            }
            Var { key, n: i as u32 }
        })
        .collect()
}

#[test]
fn sizes_zero_one_a_page_in_memory() {
    for n in [0, 1, 2, PAGE / 12, 3 * PAGE / 12 + 5, 5000] {
        let records = fixed(n, 100, n as u64);
        let out = check_sort(&records, by_key, 1 << 20, PAGE, SorterConfig::new(), n % 2 == 0).unwrap();
        assert!(out.in_memory && out.runs == 0, "n = {n}: {out:?}");
    }
}

#[test]
fn fixed_keys_spill_50x_budget_stable_with_duplicates() {
    // 50 x the budget of 12-byte records, keys with many duplicates.
    let n = 50 * SMALL / 12;
    let records = fixed(n, 1000, 7);
    let out = check_sort(&records, by_key, SMALL, PAGE, SorterConfig::new(), true).unwrap();
    assert!(out.runs > 10, "{out:?}");
    let records = fixed(n / 4, u64::MAX, 8);
    check_sort(&records, by_key, SMALL, PAGE, SorterConfig::new(), false).unwrap();
}

#[test]
fn fan_in_two_forces_several_merge_passes() {
    let records = fixed(40_000, 50, 9);
    let config = SorterConfig::new().max_fan_in(2);
    let out = check_sort(&records, by_key, 16 * PAGE, PAGE, config, true).unwrap();
    assert!(out.runs >= 8, "{out:?}");
    let config = SorterConfig::new().max_fan_in(3).read_ahead(0);
    check_sort(&records, by_key, 16 * PAGE, PAGE, config, false).unwrap();
}

#[test]
fn budget_of_a_handful_of_pages() {
    let records = fixed(20_000, 300, 10);
    let out = check_sort(&records, by_key, 6 * PAGE, PAGE, SorterConfig::new(), true).unwrap();
    assert!(out.runs > 20, "{out:?}");
}

#[test]
fn short_key_prefix_falls_back_to_the_comparator() {
    // Keys differ only past the first 2 bytes of the prefix.
    let mut records = fixed(30_000, 1 << 20, 11);
    for r in &mut records {
        r.key |= 0xABCD << 48;
    }
    let config = SorterConfig::new().key_prefix_len(2);
    check_sort(&records, by_key, 1 << 20, PAGE, config.clone(), true).unwrap();
    let out = check_sort(&records, by_key, SMALL, PAGE, config, true).unwrap();
    assert!(out.runs > 3, "{out:?}");
}

#[test]
fn string_keys_sharing_long_prefixes() {
    let records = strings(30_000, 12, 12);
    check_sort(&records, by_string, 4 << 20, PAGE, SorterConfig::new(), true).unwrap();
    let out = check_sort(&records, by_string, SMALL, PAGE, SorterConfig::new(), false).unwrap();
    assert!(out.runs > 5, "{out:?}");
    let out =
        check_sort(&records, by_string, 12 * PAGE, PAGE, SorterConfig::new().max_fan_in(2), true).unwrap();
    assert!(out.runs > 10, "{out:?}");
}

#[test]
fn records_larger_than_a_page() {
    let mut records = strings(600, 13, 30);
    let mut rng = Rng::new(14);
    for r in records.iter_mut().step_by(7) {
        let len = 3000 + rng.below(7000) as usize;
        r.key = (0..len).map(|i| (b'a' + (i * 7 % 26) as u8) as char).collect();
        r.key.push_str(&rng.below(10).to_string());
    }
    check_sort(&records, by_string, 2 << 20, PAGE, SorterConfig::new(), true).unwrap();
    let out = check_sort(&records, by_string, 16 * PAGE, PAGE, SorterConfig::new(), true).unwrap();
    assert!(out.runs > 3, "{out:?}");
}

#[test]
fn floats_nan_negative_zero_options_and_desc() {
    let mut rng = Rng::new(15);
    let special =
        [f64::NAN, -f64::NAN, 0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, 1.5, -1.5, f64::MIN_POSITIVE];
    let records: Vec<Multi> = (0..40_000)
        .map(|i| Multi {
            tag: rng.below(4) as u8,
            price: if rng.below(2) == 0 {
                special[rng.below(special.len() as u64) as usize]
            } else {
                (rng.below(200) as f64 - 100.0) / 4.0
            },
            opt: match rng.below(3) {
                0 => None,
                _ => Some(rng.below(7) as i32 - 3),
            },
            seq: i,
        })
        .collect();
    check_sort(&records, Multi::oracle, 4 << 20, PAGE, SorterConfig::new(), true).unwrap();
    let out = check_sort(&records, Multi::oracle, SMALL, PAGE, SorterConfig::new(), false).unwrap();
    assert!(out.runs > 5, "{out:?}");
    for r in &records[..2000] {
        check_key_nulls(r, r.opt.is_none());
    }
}

#[test]
fn a_record_larger_than_the_budget_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(8 * PAGE, PAGE, dir.path());
    let mut sorter = Sorter::<Var>::new(&memory).unwrap();
    sorter.push(&Var { key: "small".into(), n: 1 }).unwrap();
    let huge = Var { key: "x".repeat(40_000), n: 2 };
    match sorter.push(&huge) {
        Err(SortError::RecordTooLarge { size, budget, .. }) => {
            assert_eq!(size, 40_000 + 8 + 4);
            assert_eq!(budget, 8 * PAGE);
        }
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    drop(sorter);
    assert_eq!(memory.stats().in_use, 0);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn push_encoded_and_push_ref_check_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(1 << 20, PAGE, dir.path());
    let mut sorter = Sorter::<Fixed>::new(&memory).unwrap();
    let mut bytes = [0u8; 12];
    Fixed { key: 5, payload: 1 }.encode(&mut bytes).unwrap();
    sorter.push_encoded(&bytes).unwrap();
    assert!(matches!(sorter.push_encoded(&bytes[..11]), Err(SortError::InvalidRecord { .. })));
    sorter.push_ref(Fixed::view(&bytes).unwrap()).unwrap();
    let mut v = Sorter::<Var>::new(&memory).unwrap();
    let rec = Var { key: "abc".into(), n: 3 };
    let mut enc = vec![0u8; rec.encoded_len()];
    rec.encode(&mut enc).unwrap();
    enc.push(0);
    assert!(matches!(v.push_encoded(&enc), Err(SortError::InvalidRecord { .. })));
    assert!(matches!(v.push_encoded(&enc[..3]), Err(SortError::InvalidRecord { .. })));
    let out: Vec<Fixed> = sorter.finish().unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(out, vec![Fixed { key: 5, payload: 1 }; 2]);
}

#[test]
fn unwritable_spill_dir_is_an_error_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("does-not-exist");
    let memory = manager(16 * PAGE, PAGE, &missing);
    let mut sorter = Sorter::<Fixed>::new(&memory).unwrap();
    let mut failed = None;
    for r in fixed(50_000, 100, 16) {
        if let Err(e) = sorter.push(&r) {
            failed = Some(e);
            break;
        }
    }
    match failed {
        Some(SortError::Spill(SpillError::Io { path, .. })) => assert_eq!(path, missing),
        other => panic!("expected a spill I/O error, got {other:?}"),
    }
    drop(sorter);
    assert_eq!(memory.stats().in_use, 0);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_failed_spill_loses_nothing_and_can_be_retried() {
    let dir = tempfile::tempdir().unwrap();
    let later = dir.path().join("created-later");
    let memory = manager(16 * PAGE, PAGE, &later);
    let records = fixed(30_000, 500, 25);
    let mut sorter = Sorter::<Fixed>::new(&memory).unwrap();
    let mut failures = 0;
    for r in &records {
        if let Err(e) = sorter.push(r) {
            assert!(matches!(e, SortError::Spill(_)), "{e}");
            failures += 1;
            fs::create_dir(&later).unwrap();
            sorter.push(r).unwrap();
        }
    }
    assert_eq!(failures, 1);
    let out: Vec<Fixed> = sorter.finish().unwrap().collect::<Result<_, _>>().unwrap();
    let mut expected = records;
    expected.sort_by(by_key);
    assert_eq!(out, expected);
    assert!(memory.stats().peak <= 16 * PAGE);
    assert_eq!(fs::read_dir(&later).unwrap().count(), 0);
}

#[test]
fn a_damaged_run_is_a_spill_error_never_wrong_output() {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(16 * PAGE, PAGE, dir.path());
    let mut sorter = Sorter::<Fixed>::new(&memory).unwrap();
    for r in fixed(20_000, 1 << 40, 17) {
        sorter.push(&r).unwrap();
    }
    assert!(sorter.spilled_runs() > 2);
    common::expect_corrupt_after_damage(sorter, dir.path());
    assert_eq!(memory.stats().in_use, 0);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn dropping_halfway_leaves_no_files_and_no_memory() {
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(16 * PAGE, PAGE, dir.path());
    let records = fixed(30_000, 1000, 18);
    let mut sorter = Sorter::<Fixed>::new(&memory).unwrap();
    for r in &records[..15_000] {
        sorter.push(r).unwrap();
    }
    assert!(sorter.spilled_runs() > 0);
    drop(sorter);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    assert_eq!(memory.stats().in_use, 0);

    let mut sorter = Sorter::<Fixed>::with_config(&memory, SorterConfig::new().max_fan_in(2)).unwrap();
    for r in &records {
        sorter.push(r).unwrap();
    }
    let mut stream = sorter.finish().unwrap();
    for _ in 0..1000 {
        stream.next_ref().unwrap().unwrap();
    }
    assert!(fs::read_dir(dir.path()).unwrap().count() > 0);
    drop(stream);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    assert_eq!(memory.stats().in_use, 0);
    assert!(memory.stats().peak <= 16 * PAGE);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_fixed_sorts_match_the_oracle(
        n in 0usize..12_000,
        keys in 1u64..5_000,
        pages in segrec_operators::sort::MIN_PAGES..40,
        fan_in in 2usize..6,
        prefix in 1usize..9,
        seed in any::<u64>(),
    ) {
        let records = fixed(n, keys, seed);
        let config = SorterConfig::new().max_fan_in(fan_in).key_prefix_len(prefix);
        check_sort(&records, by_key, pages * PAGE, PAGE, config, seed % 2 == 0).unwrap();
    }

    #[test]
    fn random_strings_match_the_oracle(
        n in 0usize..4_000,
        pages in 6usize..40,
        fan_in in 2usize..6,
        tail in 0usize..40,
        seed in any::<u64>(),
    ) {
        let records = strings(n, seed, tail);
        let config = SorterConfig::new().max_fan_in(fan_in);
        check_sort(&records, by_string, pages * PAGE, PAGE, config, seed % 2 == 1).unwrap();
    }
}

#[test]
fn skewed_and_all_equal_keys_in_memory_and_spilled() {
    let mut records = fixed(60_000, 1, 19);
    check_sort(&records, by_key, 8 << 20, PAGE, SorterConfig::new(), true).unwrap();
    let mut rng = Rng::new(20);
    for r in records.iter_mut() {
        // 90% one key, the rest spread over high and low bits.
        if rng.below(10) == 0 {
            r.key = rng.next_u64() >> rng.below(64);
        } else {
            r.key = 1 << 40;
        }
    }
    check_sort(&records, by_key, 8 << 20, PAGE, SorterConfig::new(), true).unwrap();
    check_sort(&records, by_key, SMALL, PAGE, SorterConfig::new().key_prefix_len(3), false).unwrap();
}

#[test]
fn config_spill_dir_overrides_the_managers() {
    let unused = tempfile::tempdir().unwrap();
    let runs_dir = tempfile::tempdir().unwrap();
    let memory = manager(16 * PAGE, PAGE, &unused.path().join("missing"));
    let records = fixed(20_000, 1 << 30, 22);
    let config = SorterConfig::new().spill_dir(runs_dir.path()).max_fan_in(2);
    let mut sorter = Sorter::<Fixed>::with_config(&memory, config).unwrap();
    for r in &records {
        sorter.push(r).unwrap();
    }
    assert!(sorter.spilled_runs() > 2);
    assert_eq!(fs::read_dir(runs_dir.path()).unwrap().count(), sorter.spilled_runs());
    let out: Vec<Fixed> = sorter.finish().unwrap().collect::<Result<_, _>>().unwrap();
    let mut expected = records;
    expected.sort_by(by_key);
    assert_eq!(out, expected);
    assert_eq!(fs::read_dir(runs_dir.path()).unwrap().count(), 0);
    assert_eq!(fs::read_dir(unused.path()).unwrap().count(), 0);
}

#[test]
fn a_budget_below_the_minimum_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let below = (segrec_operators::sort::MIN_PAGES - 1) * PAGE;
    let memory = manager(below, PAGE, dir.path());
    let mut sorter = Sorter::<Fixed>::new(&memory).unwrap();
    match sorter.push(&Fixed { key: 1, payload: 1 }) {
        Err(SortError::BudgetTooSmall { needed, available, .. }) => {
            assert_eq!(needed, segrec_operators::sort::MIN_PAGES * PAGE);
            assert_eq!(available, below);
        }
        other => panic!("expected BudgetTooSmall, got {other:?}"),
    }
    drop(sorter);
    assert_eq!(memory.stats().in_use, 0);
    // The minimum works, spilling every few records.
    let records = fixed(3000, 100, 23);
    let min = segrec_operators::sort::MIN_PAGES * PAGE;
    let out = check_sort(&records, by_key, min, PAGE, SorterConfig::new().max_fan_in(2), true).unwrap();
    assert!(out.runs > 5, "{out:?}");
}

#[test]
fn sorter_and_stream_can_move_to_another_thread() {
    fn send<S: Send>(_: &S) {}
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(1 << 20, PAGE, dir.path());
    let sorter = Sorter::<Fixed>::new(&memory).unwrap();
    send(&sorter);
    let stream = std::thread::spawn(move || {
        let mut sorter = sorter;
        for r in fixed(1000, 10, 24) {
            sorter.push(&r).unwrap();
        }
        sorter.finish().unwrap()
    })
    .join()
    .unwrap();
    send(&stream);
    assert_eq!(stream.count(), 1000);
}

#[test]
fn clustered_keys_take_two_radix_levels_in_memory_and_spilled() {
    // Fixed-size records sort as `[key | record]` entries: 90% of the keys
    // fall in one top-digit bucket yet differ below it (a second scatter
    // level, then the in-cache pass reading from the main pages), the rest
    // spread out; many duplicates check stability.
    let mut rng = Rng::new(31);
    let records: Vec<Fixed> = (0..80_000u32)
        .map(|i| {
            let key = if rng.below(10) == 0 { rng.next_u64() } else { (1 << 40) + rng.below(3000) * 977 };
            Fixed { key, payload: i }
        })
        .collect();
    let out = check_sort(&records, by_key, 8 << 20, PAGE, SorterConfig::new(), true).unwrap();
    assert!(out.in_memory, "{out:?}");
    let out = check_sort(&records, by_key, 256 << 10, PAGE, SorterConfig::new(), false).unwrap();
    assert!(out.runs > 2, "{out:?}");
}

#[test]
fn keys_clustered_in_few_top_prefixes_with_the_pushing_histogram() {
    // A budget large enough for the pushing histogram of the top 16 key
    // bits: most keys share a handful of 16-bit prefixes (as a narrow
    // leading key field does), so the buckets of the top digit need
    // another level below; duplicates check stability.
    let mut rng = Rng::new(47);
    let records: Vec<Fixed> = (0..120_000u32)
        .map(|i| {
            let key = match rng.below(20) {
                0 => rng.next_u64(),
                1 => (rng.below(4) << 48) | rng.below(50),
                _ => ((rng.below(6) * 3) << 56) | (rng.below(1 << 20) << 20) | rng.below(3),
            };
            Fixed { key, payload: i }
        })
        .collect();
    let out = check_sort(&records, by_key, 32 << 20, PAGE, SorterConfig::new(), true).unwrap();
    assert!(out.in_memory, "{out:?}");
}

/// From 64 pages of budget, runs are written behind: a background I/O
/// thread writes a run's pages (1/32 of the budget) while the sorter goes
/// on. Output, peak and cleanup are as with synchronous runs, in the
/// intermediate passes too, for fixed and variable-size records.
#[test]
fn write_behind_runs_in_roomy_budgets() {
    let budget = 128 * PAGE;
    let records = fixed(20 * budget / 12, 5000, 31);
    let out = check_sort(&records, by_key, budget, PAGE, SorterConfig::new(), true).unwrap();
    assert!(out.runs > 10, "{out:?}");
    // A small fan-in leaves the pass writer pages to write behind with.
    let config = SorterConfig::new().max_fan_in(3);
    check_sort(&records, by_key, budget, PAGE, config, false).unwrap();
    let records = strings(40_000, 32, 60);
    let out = check_sort(&records, by_string, 64 * PAGE, PAGE, SorterConfig::new(), true).unwrap();
    assert!(out.runs > 5, "{out:?}");
}

/// With write-behind, a spill that fails (no spill directory yet) keeps
/// every record and the pages it holds back; the retried push goes on, and
/// a sorter dropped half-way leaves neither files nor memory.
#[test]
fn write_behind_failed_spill_retry_and_drop() {
    let dir = tempfile::tempdir().unwrap();
    let later = dir.path().join("created-later");
    let budget = 96 * PAGE;
    let memory = manager(budget, PAGE, &later);
    let records = fixed(100_000, 500, 33);
    let mut sorter = Sorter::<Fixed>::new(&memory).unwrap();
    let mut failures = 0;
    for r in &records {
        if let Err(e) = sorter.push(r) {
            assert!(matches!(e, SortError::Spill(SpillError::Io { .. })), "{e}");
            failures += 1;
            fs::create_dir(&later).unwrap();
            sorter.push(r).unwrap();
        }
    }
    assert_eq!(failures, 1);
    assert!(sorter.spilled_runs() > 3);
    let out: Vec<Fixed> = sorter.finish().unwrap().collect::<Result<_, _>>().unwrap();
    let mut expected = records.clone();
    expected.sort_by(by_key);
    assert_eq!(out, expected);
    assert_eq!(fs::read_dir(&later).unwrap().count(), 0);

    let mut sorter = Sorter::<Fixed>::new(&memory).unwrap();
    for r in &records[..60_000] {
        sorter.push(r).unwrap();
    }
    assert!(sorter.spilled_runs() > 0);
    drop(sorter);
    assert_eq!(fs::read_dir(&later).unwrap().count(), 0);
    assert_eq!(memory.stats().in_use, 0);
    assert!(memory.stats().peak <= budget);
}
