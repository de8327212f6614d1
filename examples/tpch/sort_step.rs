//! Step: a full external sort of `lineitem` by `(l_shipdate, l_orderkey)`
//! through a pipeline (source → sort stage → checking sink, each on its own
//! thread over backpressured channels), verified by the sink's streaming
//! check that every row comes out in order and none is lost.

use std::sync::Mutex;
use std::time::Instant;

use segrec::MemoryManager;
use segrec::operators::pipeline::PipelineReport;
use segrec::prelude::*;

use crate::job::{BoxError, Options, progress};
use crate::records::{ConvertError, LineItemByShipDate, LineItemByShipDateRef};
use crate::report::StepReport;
use crate::tables;

/// What the checking sink saw.
#[derive(Default)]
struct Check {
    rows: u64,
    previous: Option<(u16, u64)>,
    out_of_order: Option<((u16, u64), (u16, u64))>,
}

pub fn run(options: &Options, memory: &MemoryManager) -> Result<(StepReport, PipelineReport), BoxError> {
    let mut step = StepReport::new("sort lineitem");
    let start = Instant::now();
    let before = memory.stats();
    let (_, _, estimate) = tables::row_counts(options.sf);
    let bar = progress(options, estimate, "sort lineitem");
    let failed: Mutex<Option<ConvertError>> = Mutex::new(None);
    let pushed = Mutex::new((0u64, 0u64));
    let check = Mutex::new(Check::default());

    // Two channels (source → sort → check), two exclusive buffers each.
    let pipeline = crate::job::pipeline(memory, 4)?;
    let source = tables::lineitems(options.sf).map_while(|row| match row {
        Ok(line) => {
            let line = LineItemByShipDate::from(&line);
            if let Ok(mut p) = pushed.lock() {
                p.0 += 1;
                p.1 += line.encoded_len() as u64;
            }
            Some(line)
        }
        Err(e) => {
            if let Ok(mut slot) = failed.lock() {
                slot.get_or_insert(e);
            }
            None
        }
    });
    pipeline.source("lineitem", source).sort("sort by shipdate").sink_ref(
        "check order",
        |line: LineItemByShipDateRef<'_>| {
            let key = (line.shipdate(), line.orderkey());
            let mut c = check.lock().map_err(|_| "check state poisoned")?;
            if let Some(p) = c.previous
                && p > key
            {
                c.out_of_order.get_or_insert((p, key));
            }
            c.previous = Some(key);
            c.rows += 1;
            if c.rows % 65_536 == 0 {
                bar.set_position(c.rows);
            }
            Ok::<_, &'static str>(())
        },
    );
    let report = pipeline.run()?;
    bar.finish_and_clear();
    if let Some(e) = failed.into_inner().map_err(|_| "conversion state poisoned")? {
        return Err(Box::new(e));
    }
    let (rows_in, bytes_in) = pushed.into_inner().map_err(|_| "counter poisoned")?;
    let check = check.into_inner().map_err(|_| "check state poisoned")?;
    if let Some((a, b)) = check.out_of_order {
        return Err(format!("sort output out of order: {a:?} before {b:?}").into());
    }
    if check.rows != rows_in {
        return Err(format!("sort lost rows: {rows_in} in, {} out", check.rows).into());
    }
    let after = memory.stats();
    step.rows = check.rows;
    step.bytes = bytes_in;
    step.elapsed = start.elapsed();
    step.spill_files = after.spill_files - before.spill_files;
    step.spilled_bytes = after.spilled_bytes - before.spilled_bytes;
    step.sort_runs = step.spill_files;
    step.notes.push(format!(
        "source → sort → check on 3 threads; output verified in order, {rows_in} rows in = out; {} spill files (runs, and intermediate merge passes if any)",
        step.spill_files
    ));
    Ok((step, report))
}
