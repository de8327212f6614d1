//! The main job end to end at a small scale factor: Q3 through segrec's
//! joins, sort and grouping equals Q3 over the same tpchgen rows in plain
//! Rust, with a comfortable budget and with one so small that every join and
//! sort spills; the lineitem sort comes out in order and the shuffle delivers
//! every row to exactly one consumer; the manager's peak
//! stays within the budget and no spill file is left.

// The example's modules are compiled into this test; the CLI-only parts are
// unused here.
#![allow(dead_code)]

#[path = "../examples/tpch/job.rs"]
mod job;
#[path = "../examples/tpch/oracle.rs"]
mod oracle;
#[path = "../examples/tpch/q3.rs"]
mod q3;
#[path = "../examples/tpch/records.rs"]
mod records;
#[path = "../examples/tpch/report.rs"]
mod report;
#[path = "../examples/tpch/shuffle_step.rs"]
mod shuffle_step;
#[path = "../examples/tpch/sort_step.rs"]
mod sort_step;
#[path = "../examples/tpch/spool.rs"]
mod spool;
#[path = "../examples/tpch/tables.rs"]
mod tables;

fn options(memory: usize, page_size: usize, spill_dir: &std::path::Path) -> job::Options {
    job::Options {
        sf: 0.01,
        memory,
        spill_dir: Some(spill_dir.to_path_buf()),
        page_size: Some(page_size),
        verify: true,
        progress: false,
        q3_only: false,
    }
}

fn step<'a>(outcome: &'a job::Outcome, name: &str) -> &'a report::StepReport {
    outcome.steps.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no step {name}"))
}

#[test]
fn q3_matches_plain_rust_in_memory_and_when_everything_spills() {
    let dir = tempfile::tempdir().expect("tempdir");
    let roomy = job::run(&options(64 << 20, 32 << 10, dir.path())).expect("job with 64 MiB");
    let tight = job::run(&options(64 << 10, 4 << 10, dir.path())).expect("job with 64 KiB");

    for outcome in [&roomy, &tight] {
        assert_eq!(outcome.verified, Some(true), "Q3 differs from plain Rust:\n{}", outcome.render());
        assert_eq!(outcome.q3.len(), 10);
        let stats = &outcome.memory_stats;
        assert!(stats.peak <= stats.budget, "peak {} over budget {}", stats.peak, stats.budget);
        let sorted = step(outcome, "sort lineitem");
        assert!(sorted.rows > 50_000, "the whole lineitem table was sorted: {}", sorted.rows);
        // The shuffle checks itself (sums, one consumer per key) and fails
        // the job otherwise; here: it saw the same table.
        assert_eq!(step(outcome, "shuffle lineitem x4").rows, sorted.rows);
        assert!(!outcome.edges.is_empty(), "pipeline edges are reported");
    }
    assert_eq!(roomy.q3, tight.q3, "the budget changed the answer");

    // The roomy run kept its joins and the sort in memory; the tight one
    // spilled in every operator.
    assert_eq!(step(&roomy, "q3: customer ⋈ orders").join_tasks, 0);
    assert_eq!(step(&roomy, "sort lineitem").sort_runs, 0);
    assert!(step(&tight, "q3: customer ⋈ orders").join_tasks > 0, "{}", tight.render());
    assert!(step(&tight, "q3: orders ⋈ lineitem").join_tasks > 0, "{}", tight.render());
    assert!(step(&tight, "sort lineitem").sort_runs > 2, "{}", tight.render());
    assert!(tight.memory_stats.spilled_bytes > tight.memory_stats.budget as u64 * 50);

    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0, "spill files left behind");
}

/// Q3 at scale factor 1 (6M line items) under a 16 MiB budget equals the
/// answer TPC-H publishes (tpchgen's `q_and_a`), digit for digit.
#[test]
fn q3_at_scale_factor_1_equals_the_published_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = job::Options {
        sf: 1.0,
        memory: 16 << 20,
        spill_dir: Some(dir.path().to_path_buf()),
        page_size: None,
        verify: false,
        progress: false,
        q3_only: true,
    };
    let outcome = job::run(&options).expect("job at SF 1");
    assert_eq!(outcome.official, Some(true), "Q3 differs from TPC-H's answer:\n{}", outcome.render());
    assert!(outcome.memory_stats.peak <= 16 << 20);
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0, "spill files left behind");
}

#[test]
fn q3_rows_are_formatted_as_tpch_does() {
    let row = q3::Q3Row {
        orderkey: 2456423,
        revenue: 4_061_810_123,
        orderdate: records::date(1995, 3, 5),
        shippriority: 0,
    };
    let table = q3::format_table(&[row]);
    assert_eq!(
        table.lines().nth(1),
        Some("2456423               |406181.01|1995-03-05|                   0")
    );
    assert_eq!(q3::format_revenue(4_061_810_150), "406181.02", "half a cent rounds up");
}
