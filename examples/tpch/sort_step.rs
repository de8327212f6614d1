//! Step: a full external sort of `lineitem` by `(l_shipdate, l_orderkey)`,
//! checked by a streaming pass that every row comes out in order.

use std::time::Instant;

use segrec::MemoryManager;
use segrec::prelude::*;

use crate::job::{BoxError, Options, progress};
use crate::records::LineItemByShipDate;
use crate::report::StepReport;
use crate::tables;

pub fn run(options: &Options, memory: &MemoryManager) -> Result<StepReport, BoxError> {
    let mut step = StepReport::new("sort lineitem");
    let start = Instant::now();
    let before = memory.stats();
    let (_, _, estimate) = tables::row_counts(options.sf);
    let bar = progress(options, estimate, "sort: push");
    let mut sorter = Sorter::<LineItemByShipDate>::new(memory)?;
    for row in tables::lineitems(options.sf) {
        let line = LineItemByShipDate::from(&row?);
        step.bytes += line.encoded_len() as u64;
        sorter.push(&line)?;
        bar.inc(1);
    }
    let pushed = sorter.len();
    let runs = sorter.spilled_runs();
    bar.finish_and_clear();
    let mut sorted = sorter.finish()?;
    let bar = progress(options, pushed, "sort: merge + check");
    let mut previous: Option<(u16, u64)> = None;
    while let Some(line) = sorted.next_ref()? {
        let key = (line.shipdate(), line.orderkey());
        if previous.is_some_and(|p| p > key) {
            return Err(format!("sort output out of order: {previous:?} before {key:?}").into());
        }
        previous = Some(key);
        step.rows += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    if step.rows != pushed {
        return Err(format!("sort lost rows: pushed {pushed}, read back {}", step.rows).into());
    }
    step.elapsed = start.elapsed();
    let after = memory.stats();
    step.spill_files = after.spill_files - before.spill_files;
    step.spilled_bytes = after.spilled_bytes - before.spilled_bytes;
    step.sort_runs = runs as u64;
    step.notes.push(format!("{runs} sorted runs spilled; output verified in order, {pushed} rows in = out"));
    Ok(step)
}
