//! The job's steps, shared by the example's `main` and the integration test.

use std::cell::RefCell;
use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use segrec::MemoryManager;
use segrec::prelude::*;
use segrec::process::peak_rss;

use crate::q3::{Q3Params, Q3Row, format_table, matches_official_sf1};
use crate::records::{ConvertError, Customer, LineItem, Order, PlainCustomer, PlainLineItem, PlainOrder};
use crate::report::{StepReport, steps_table};
use crate::{oracle, tables};

pub type BoxError = Box<dyn Error + Send + Sync>;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub sf: f64,
    pub memory: usize,
    pub spill_dir: Option<PathBuf>,
    /// Page size in bytes (default 32 KiB).
    pub page_size: Option<usize>,
    pub verify: bool,
    pub progress: bool,
    /// Run Q3 alone (no generation pass, sort or shuffle).
    pub q3_only: bool,
}

/// What came out.
#[derive(Debug)]
pub struct Outcome {
    pub options: Options,
    pub layouts: String,
    pub steps: Vec<StepReport>,
    pub q3: Vec<Q3Row>,
    /// `Some(true)` when Q3 equals the plain-Rust answer.
    pub verified: Option<bool>,
    /// `Some(..)` at scale factor 1, where TPC-H publishes the answer.
    pub official: Option<bool>,
    pub memory_stats: segrec::MemoryStats,
    /// Peak RSS at the end of the run, 0 where the platform does not say.
    pub peak_rss: u64,
    /// Peak RSS right after generating the tables once: the generator's own
    /// share (its text pool), before any operator ran.
    pub baseline_rss: u64,
    pub edges: Vec<String>,
}

impl Outcome {
    /// The printed report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "segrec TPC-H job: scale factor {}, memory budget {}\n",
            self.options.sf,
            segrec::memory::human_bytes(self.options.memory)
        );
        out.push_str(&self.layouts);
        let _ = writeln!(out, "\nTPC-H Q3 (shipping priority), top {}:", self.q3.len());
        out.push_str(&format_table(&self.q3));
        match self.verified {
            Some(true) => out.push_str("checked against plain Rust (Vec, HashMap, std sort): identical\n"),
            Some(false) => out.push_str("checked against plain Rust: DIFFERENT\n"),
            None => {}
        }
        match self.official {
            Some(true) => out.push_str("checked against TPC-H's published SF 1 answer: identical\n"),
            Some(false) => out.push_str("checked against TPC-H's published SF 1 answer: DIFFERENT\n"),
            None => {}
        }
        out.push('\n');
        out.push_str(&steps_table(&self.steps));
        let _ = writeln!(out, "\n{}", self.memory_stats);
        let _ = writeln!(
            out,
            "manager peak {} of budget {}; process peak RSS {} ({} of it before any operator ran: \
             tpchgen's text pool and the generators)",
            segrec::memory::human_bytes(self.memory_stats.peak),
            segrec::memory::human_bytes(self.memory_stats.budget),
            segrec::memory::human_bytes(self.peak_rss as usize),
            segrec::memory::human_bytes(self.baseline_rss as usize)
        );
        if !self.edges.is_empty() {
            out.push_str("pipeline edges:\n");
            for e in &self.edges {
                let _ = writeln!(out, "  {e}");
            }
        }
        out
    }
}

pub(crate) fn progress(options: &Options, len: u64, what: &str) -> ProgressBar {
    use std::io::IsTerminal;
    let bar = ProgressBar::new(len);
    if !options.progress || !std::io::stdout().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let style =
        ProgressStyle::with_template("{msg:>22} [{bar:40}] {human_pos}/{human_len} {per_sec} eta {eta}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

fn layouts() -> String {
    let mut out = String::new();
    for layout in [Customer::LAYOUT, Order::LAYOUT, LineItem::LAYOUT] {
        let _ = writeln!(out, "{layout}");
    }
    out
}

/// Rows, encoded bytes and the bytes of the same rows held as owned Rust
/// structs with a `String` per text column (struct size plus heap bytes).
#[derive(Default)]
struct Density {
    rows: u64,
    encoded: u64,
    plain: u64,
}

impl Density {
    fn note(&self, table: &str, size_of: usize) -> String {
        let per = |bytes: u64| bytes as f64 / self.rows.max(1) as f64;
        format!(
            "{table}: {:.1} encoded bytes/row vs size_of {size_of} and {:.1} bytes/row as owned Rust structs with Strings ({:.2}x denser)",
            per(self.encoded),
            per(self.plain),
            self.plain as f64 / self.encoded.max(1) as f64
        )
    }
}

/// Encodes every row of a table once, tallying its density.
fn tally<T: SegmentRecord>(
    rows: impl Iterator<Item = Result<T, ConvertError>>,
    plain: impl Fn(&T) -> usize,
    bar: &ProgressBar,
) -> Result<Density, BoxError> {
    let mut d = Density::default();
    let mut buf = Vec::new();
    for row in rows {
        let r = row?;
        buf.resize(r.encoded_len(), 0);
        d.encoded += r.encode(&mut buf)? as u64;
        d.plain += plain(&r) as u64;
        d.rows += 1;
        bar.inc(1);
    }
    Ok(d)
}

/// Step 1: generate every table once, measuring encoded size against the
/// same rows as owned Rust structs.
fn generate(options: &Options) -> Result<StepReport, BoxError> {
    let mut step = StepReport::new("generate + encode");
    let start = Instant::now();
    let (nc, no, nl) = tables::row_counts(options.sf);
    let bar = progress(options, nc + no + nl, "generate");
    let customers = tally(
        tables::customers(options.sf),
        |c| {
            size_of::<PlainCustomer>()
                + c.name.len()
                + c.address.len()
                + c.phone.len()
                + c.mktsegment.as_str().len()
                + c.comment.len()
        },
        &bar,
    )?;
    let orders = tally(
        tables::orders(options.sf),
        |o| {
            size_of::<PlainOrder>()
                + o.orderstatus.as_str().len()
                + o.orderpriority.as_str().len()
                + "Clerk#000000000".len()
                + o.comment.len()
        },
        &bar,
    )?;
    let lineitems = tally(
        tables::lineitems(options.sf),
        |l| {
            size_of::<PlainLineItem>()
                + l.returnflag.as_str().len()
                + l.linestatus.as_str().len()
                + l.shipinstruct.as_str().len()
                + l.shipmode.as_str().len()
                + l.comment.len()
        },
        &bar,
    )?;
    bar.finish_and_clear();
    step.elapsed = start.elapsed();
    step.notes.push(customers.note("customer", size_of::<Customer>()));
    step.notes.push(orders.note("orders", size_of::<Order>()));
    step.notes.push(lineitems.note("lineitem", size_of::<LineItem>()));
    let all = [&customers, &orders, &lineitems];
    step.rows = all.iter().map(|d| d.rows).sum();
    step.bytes = all.iter().map(|d| d.encoded).sum();
    let plain: u64 = all.iter().map(|d| d.plain).sum();
    step.notes.push(format!(
        "all tables: {} encoded vs {} as owned Rust structs ({:.2}x denser)",
        segrec::memory::human_bytes(step.bytes as usize),
        segrec::memory::human_bytes(plain as usize),
        plain as f64 / step.bytes.max(1) as f64
    ));
    Ok(step)
}

/// Passes rows through until the first conversion error, which it keeps.
pub(crate) fn until_error<T>(
    slot: &RefCell<Option<ConvertError>>,
) -> impl FnMut(Result<T, ConvertError>) -> Option<T> + '_ {
    move |row| match row {
        Ok(v) => Some(v),
        Err(e) => {
            slot.borrow_mut().get_or_insert(e);
            None
        }
    }
}

/// The plain-Rust Q3 over freshly generated rows, streaming.
fn q3_oracle(options: &Options, params: &Q3Params) -> Result<Vec<Q3Row>, BoxError> {
    let failed = RefCell::new(None);
    let rows = oracle::q3(
        params,
        tables::customers(options.sf).map_while(until_error(&failed)),
        tables::orders(options.sf).map_while(until_error(&failed)),
        tables::lineitems(options.sf).map_while(until_error(&failed)),
    );
    match failed.into_inner() {
        Some(e) => Err(Box::new(e)),
        None => Ok(rows),
    }
}

/// A pipeline whose buffer pool is a share of the budget: a quarter of it,
/// at most Flink's 256 local buffers, and at least the `exclusive` buffers
/// its channels own plus two to float, so tiny budgets still run (slower).
pub(crate) fn pipeline<'env>(
    memory: &MemoryManager,
    exclusive: usize,
) -> Result<segrec::operators::pipeline::Pipeline<'env>, BoxError> {
    use segrec::operators::channel::{BufferPool, ChannelConfig};
    let pages = (memory.budget_pages() / 4).clamp(exclusive + 2, 256);
    let pool = BufferPool::new(memory, pages)?;
    Ok(segrec::operators::pipeline::Pipeline::with_pool(memory, pool, ChannelConfig::default())?)
}

/// One line per edge of a pipeline: records, buffers, blocked time and the
/// backpressure level.
fn edge_lines(pipeline: &str, report: &segrec::operators::pipeline::PipelineReport) -> Vec<String> {
    report
        .edges
        .iter()
        .map(|e| {
            format!(
                "{pipeline}: {:<34} {:>9} records {:>6} buffers  blocked {:>8.1?}  idle {:>8.1?}  max {}/{} buffers in flight  backpressure {:.0}% {}",
                e.name,
                e.records,
                e.buffers,
                e.blocked,
                e.idle,
                e.max_buffers_in_flight,
                e.credit_limit,
                e.backpressure_ratio() * 100.0,
                e.backpressure()
            )
        })
        .collect()
}

/// Runs every step.
pub fn run(options: &Options) -> Result<Outcome, BoxError> {
    let mut builder = MemoryManager::builder().budget(options.memory);
    if let Some(size) = options.page_size {
        builder = builder.page_size(size);
    }
    if let Some(dir) = &options.spill_dir {
        builder = builder.spill_dir(dir);
    }
    let memory = builder.build()?;
    let params = Q3Params::default();
    let mut steps = Vec::new();
    if !options.q3_only {
        steps.push(generate(options)?);
    }
    let baseline_rss = peak_rss().unwrap_or(0);

    let q3 = crate::q3::run_segrec(options, &memory, &params, &mut steps)?;
    let mut edges = Vec::new();
    if !options.q3_only {
        let (step, report) = crate::sort_step::run(options, &memory)?;
        steps.push(step);
        edges.extend(edge_lines("sort", &report));
        let (step, report) = crate::shuffle_step::run(options, &memory)?;
        steps.push(step);
        edges.extend(edge_lines("shuffle", &report));
    }
    let memory_stats = memory.stats();
    let rss = peak_rss().unwrap_or(0);

    let verified = if options.verify {
        let start = Instant::now();
        let expected = q3_oracle(options, &params)?;
        let mut step = StepReport::new("q3 check (plain Rust)");
        step.elapsed = start.elapsed();
        step.rows = expected.len() as u64;
        steps.push(step);
        Some(expected == q3)
    } else {
        None
    };
    let official = ((options.sf - 1.0).abs() < f64::EPSILON).then(|| matches_official_sf1(&q3));
    Ok(Outcome {
        options: options.clone(),
        layouts: layouts(),
        steps,
        q3,
        verified,
        official,
        memory_stats,
        peak_rss: rss,
        baseline_rss,
        edges,
    })
}
