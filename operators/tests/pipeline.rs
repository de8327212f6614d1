//! Pipeline scenarios: results equal a plain-Rust oracle through map,
//! filter, flat_map, shuffle, broadcast and sort stages; failures and panics
//! stop the whole pipeline quickly; the report carries per-stage and
//! per-edge counters.

mod chan;

use std::collections::HashMap;
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::Duration;

use chan::{Fixed, FixedRef, Var, VarRef, memory, var_records, within};
use segrec_operators::SorterConfig;
use segrec_operators::channel::{BackpressureLevel, BufferPool, ChannelConfig};
use segrec_operators::pipeline::{Pipeline, PipelineError};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn map_filter_shuffle_flat_map_match_the_oracle() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let mem = memory(2 << 20, dir.path());
        let input = var_records(21, 20_000, 500, 9000);
        let expected: Vec<Fixed> = {
            let mut v: Vec<Fixed> = input
                .iter()
                .map(|r| Var { key: r.key.to_uppercase(), n: r.n * 2 })
                .filter(|r| r.n % 3 != 0)
                .flat_map(|r| {
                    (0..(r.n % 3)).map(move |i| Fixed { key: r.key.len() as u64, payload: r.n + i })
                })
                .collect();
            v.sort();
            v
        };
        let out = Mutex::new(Vec::new());
        let pool = BufferPool::new(&mem, 48).unwrap();
        let pipeline = Pipeline::with_pool(&mem, pool, ChannelConfig::default()).unwrap();
        pipeline
            .source("source", input.clone())
            .map("upper", |r: Var| Var { key: r.key.to_uppercase(), n: r.n * 2 })
            .filter("not3", |v: &VarRef<'_>| !v.n().is_multiple_of(3))
            .partition_by_key(3)
            .flat_map("explode", |r: Var| {
                (0..(r.n % 3)).map(move |i| Fixed { key: r.key.len() as u64, payload: r.n + i })
            })
            .sink("collect", |r: Fixed| {
                out.lock().unwrap().push(r);
                Ok::<_, std::io::Error>(())
            });
        let report = pipeline.run().unwrap();
        let mut got = out.into_inner().unwrap();
        got.sort();
        assert_eq!(got, expected);
        assert_eq!(report.stage("explode").count(), 3);
        assert_eq!(report.stage("collect").count(), 3);
        assert_eq!(report.stage("source").map(|s| s.records_out).sum::<u64>(), 20_000);
        assert_eq!(report.stage("collect").map(|s| s.records_in).sum::<u64>(), expected.len() as u64);
        assert_eq!(report.edges.len(), 4);
        assert_eq!(report.edges[0].records, 20_000);
        assert!(report.to_string().contains("edge upper -> not3"));
        let s = mem.stats();
        assert!(s.peak <= s.budget);
        assert_eq!(s.in_use, 0, "the pipeline gave its pool back");
    });
}

#[test]
fn partitioned_sort_stage_spills_and_sorts_each_partition() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let mem = memory(1 << 20, dir.path());
        let input = var_records(5, 30_000, 0, 0);
        let per_thread: Mutex<HashMap<ThreadId, Vec<Var>>> = Mutex::new(HashMap::new());
        let pool = BufferPool::new(&mem, 24).unwrap();
        let pipeline = Pipeline::with_pool(&mem, pool, ChannelConfig::default()).unwrap();
        pipeline
            .source("source", input.clone())
            .partition_by_key(2)
            .sort_with("sort", SorterConfig::default().memory_limit(160 << 10))
            .map_ref("copy", |v: VarRef<'_>| v.to_owned())
            .sink("collect", |r: Var| {
                per_thread.lock().unwrap().entry(std::thread::current().id()).or_default().push(r);
                Ok::<_, std::io::Error>(())
            });
        let report = pipeline.run().unwrap();
        let parts: Vec<Vec<Var>> = per_thread.into_inner().unwrap().into_values().collect();
        assert_eq!(parts.len(), 2, "two sink instances, one per partition");
        for part in &parts {
            assert!(part.windows(2).all(|w| w[0].key <= w[1].key), "a partition came out unsorted");
        }
        let mut all: Vec<Var> = parts.into_iter().flatten().collect();
        all.sort();
        let mut exp = input.clone();
        exp.sort();
        assert_eq!(all, exp);
        assert_eq!(report.stage("sort").count(), 2);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "spill files left behind");
        let s = mem.stats();
        assert!(s.peak <= s.budget, "{s}");
    });
}

#[test]
fn sort_stage_output_is_in_key_order() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let mem = memory(1 << 20, dir.path());
        let input = var_records(9, 25_000, 0, 0);
        let out = Mutex::new(Vec::new());
        let pool = BufferPool::new(&mem, 16).unwrap();
        let pipeline = Pipeline::with_pool(&mem, pool, ChannelConfig::default()).unwrap();
        pipeline
            .source("source", input.clone())
            .sort_with("sort", SorterConfig::default().memory_limit(128 << 10))
            .sink("collect", |r: Var| {
                out.lock().unwrap().push(r);
                Ok::<_, std::io::Error>(())
            });
        pipeline.run().unwrap();
        let got = out.into_inner().unwrap();
        let mut exp = input;
        exp.sort_by(|a, b| a.key.cmp(&b.key)); // stable, as the sorter
        assert_eq!(got, exp);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    });
}

#[test]
fn a_panicking_map_stops_an_endless_pipeline_with_an_error() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let mem = memory(1 << 20, dir.path());
        let pool = BufferPool::new(&mem, 16).unwrap();
        let pipeline = Pipeline::with_pool(&mem, pool, ChannelConfig::default()).unwrap();
        pipeline
            .source("endless", (0u64..).map(|i| Fixed { key: i, payload: 0 }))
            .map("boom", |r: Fixed| {
                assert!(r.key < 50_000, "bad record {}", r.key);
                r
            })
            .partition_by_key(2)
            .sink("drain", |_r: Fixed| Ok::<_, std::io::Error>(()));
        match pipeline.run() {
            Err(PipelineError::Panicked { stage, message, .. }) => {
                assert_eq!(stage, "boom");
                assert!(message.contains("bad record 50000"), "{message}");
            }
            other => panic!("expected a panic error, got {other:?}"),
        }
        assert_eq!(mem.stats().in_use, 0);
    });
}

#[test]
fn a_failing_sink_is_reported_and_stops_the_source() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let mem = memory(1 << 20, dir.path());
        let pipeline =
            Pipeline::with_pool(&mem, BufferPool::new(&mem, 16).unwrap(), ChannelConfig::default()).unwrap();
        pipeline.source("endless", (0u64..).map(|i| Fixed { key: i, payload: 1 })).sink(
            "picky",
            |r: Fixed| {
                if r.key == 12_345 { Err(std::io::Error::other("disk full")) } else { Ok(()) }
            },
        );
        let err = pipeline.run().unwrap_err();
        assert!(matches!(&err, PipelineError::Stage { stage, .. } if stage == "picky"), "{err}");
        assert!(err.to_string().contains("disk full"));
    });
}

#[test]
fn a_pool_too_small_for_the_pipeline_is_a_build_error() {
    let dir = tempfile::tempdir().unwrap();
    let mem = memory(1 << 20, dir.path());
    let pipeline =
        Pipeline::with_pool(&mem, BufferPool::new(&mem, 5).unwrap(), ChannelConfig::default()).unwrap();
    pipeline
        .source("s", vec![Fixed { key: 1, payload: 1 }])
        .partition_by_key(4)
        .sink("k", |_r: Fixed| Ok::<_, std::io::Error>(()));
    assert!(matches!(pipeline.run(), Err(PipelineError::Build(_))));
}

#[test]
fn a_slow_sink_backpressures_upstream_stages_and_broadcast_reaches_all() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let mem = memory(1 << 20, dir.path());
        let pipeline = Pipeline::with_pool(
            &mem,
            BufferPool::new(&mem, 16).unwrap(),
            ChannelConfig::default().floating(1),
        )
        .unwrap();
        pipeline
            .source("source", (0..30_000u64).map(|i| Fixed { key: i, payload: 0 }))
            .map_ref("id", |v: FixedRef<'_>| Fixed { key: v.key(), payload: 1 })
            .broadcast(2)
            .sink_ref("slow", |v: FixedRef<'_>| {
                if v.key().is_multiple_of(1000) {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok::<_, std::io::Error>(())
            });
        let report = pipeline.run().unwrap();
        let slow: Vec<_> = report.stage("slow").collect();
        assert_eq!(slow.len(), 2);
        assert!(slow.iter().all(|s| s.records_in == 30_000), "{report}");
        let id = report.stage("id").next().unwrap();
        assert!(id.backpressured > Duration::ZERO, "{report}");
        assert!(id.backpressure() >= BackpressureLevel::Low, "{report}");
    });
}

#[test]
fn partitioned_hash_join_stage_matches_a_hashmap_join() {
    use segrec_operators::join::JoinType;
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let mem = memory(2 << 20, dir.path());
        let mut rng = chan::Rng::new(17);
        let left: Vec<Fixed> = (0..20_000).map(|i| Fixed { key: rng.below(5000), payload: i }).collect();
        let right: Vec<Fixed> =
            (0..8_000).map(|i| Fixed { key: rng.below(8000), payload: 1_000_000 + i }).collect();
        let mut expected = Vec::new();
        let mut by_key: HashMap<u64, Vec<u32>> = HashMap::new();
        for r in &right {
            by_key.entry(r.key).or_default().push(r.payload);
        }
        for l in &left {
            for &p in by_key.get(&l.key).into_iter().flatten() {
                expected.push(Fixed { key: u64::from(l.payload), payload: p });
            }
        }
        expected.sort();
        let out = Mutex::new(Vec::new());
        let pipeline =
            Pipeline::with_pool(&mem, BufferPool::new(&mem, 24).unwrap(), ChannelConfig::default()).unwrap();
        let build = pipeline.source("right", right.clone());
        pipeline
            .source("left", left.clone())
            .partition_by_key(2)
            .hash_join("join", build, JoinType::Inner, |l: Option<FixedRef<'_>>, r: Option<FixedRef<'_>>| {
                Some(Fixed { key: u64::from(l?.payload()), payload: r?.payload() })
            })
            .sink("collect", |r: Fixed| {
                out.lock().unwrap().push(r);
                Ok::<_, std::io::Error>(())
            });
        let report = pipeline.run().unwrap();
        let mut got = out.into_inner().unwrap();
        got.sort();
        assert_eq!(got.len(), expected.len());
        assert_eq!(got, expected);
        assert_eq!(report.stage("join").count(), 2);
        let s = mem.stats();
        assert!(s.peak <= s.budget, "{s}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    });
}

#[test]
fn a_flow_without_a_sink_is_an_error_not_a_silent_loss() {
    let dir = tempfile::tempdir().unwrap();
    let mem = memory(1 << 20, dir.path());
    let pipeline =
        Pipeline::with_pool(&mem, BufferPool::new(&mem, 8).unwrap(), ChannelConfig::default()).unwrap();
    let _ = pipeline.source("s", vec![Fixed { key: 1, payload: 1 }]).map("m", |r: Fixed| r);
    match pipeline.run() {
        Err(PipelineError::Unterminated { stage }) => assert_eq!(stage, "m"),
        other => panic!("expected Unterminated, got {other:?}"),
    }
}
