//! Step: `lineitem` partitioned by order key to 4 parallel consumers over
//! backpressured channels (a hash shuffle), each counting rows and summing
//! quantity and price; checked against the same sums taken directly and
//! against "every order key arrives at exactly one consumer".

use std::sync::{Arc, Mutex};
use std::time::Instant;

use segrec::MemoryManager;
use segrec::operators::pipeline::PipelineReport;

use crate::job::{BoxError, Options, progress};
use crate::records::{ConvertError, LineItemRef};
use crate::report::StepReport;
use crate::tables;

pub const CONSUMERS: usize = 4;

#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Totals {
    pub rows: u64,
    pub quantity: u64,
    pub price: i64,
}

impl Totals {
    fn add(&mut self, line: &LineItemRef<'_>) {
        self.rows += 1;
        self.quantity += u64::from(line.quantity());
        self.price += line.extendedprice();
    }
}

pub fn run(options: &Options, memory: &MemoryManager) -> Result<(StepReport, PipelineReport), BoxError> {
    let mut step = StepReport::new("shuffle lineitem x4");
    let start = Instant::now();
    let (_, _, estimate) = tables::row_counts(options.sf);
    let bar = progress(options, estimate, "shuffle x4");
    let failed: Mutex<Option<ConvertError>> = Mutex::new(None);
    let sent = Mutex::new(Totals::default());
    // One slot per consumer instance: each clone of the sink registers its
    // own, so consumers never share a lock.
    let slots: Mutex<Vec<Arc<Mutex<Slot>>>> = Mutex::new(Vec::new());
    let counter = Counter::new(&slots);

    // One channel per consumer, two exclusive buffers each.
    let pipeline = crate::job::pipeline(memory, 2 * CONSUMERS)?;
    let source = tables::lineitems(options.sf).map_while(|row| match row {
        Ok(line) => {
            if let Ok(mut s) = sent.lock() {
                s.rows += 1;
                s.quantity += u64::from(line.quantity);
                s.price += line.extendedprice;
                if s.rows % 65_536 == 0 {
                    bar.set_position(s.rows);
                }
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
    pipeline
        .source("lineitem", source)
        .partition_by_key(CONSUMERS)
        .sink_ref("count + sum", move |line: LineItemRef<'_>| counter.add(&line));
    let report = pipeline.run()?;
    bar.finish_and_clear();
    if let Some(e) = failed.into_inner().map_err(|_| "conversion state poisoned")? {
        return Err(Box::new(e));
    }
    let sent = sent.into_inner().map_err(|_| "poisoned")?;
    let mut sum = Totals::default();
    let mut keys: Vec<u64> = Vec::new();
    let mut per_consumer = Vec::new();
    let slots = slots.into_inner().map_err(|_| "poisoned")?;
    for slot in slots {
        let slot = Arc::try_unwrap(slot).map_err(|_| "a consumer outlived the pipeline")?;
        let Slot { totals: t, keys: k } = slot.into_inner().map_err(|_| "poisoned")?;
        if t.rows == 0 {
            continue; // the sink's original, never run
        }
        sum.rows += t.rows;
        sum.quantity += t.quantity;
        sum.price += t.price;
        per_consumer.push(t.rows);
        keys.extend(k);
    }
    if sum != sent {
        return Err(format!("shuffle lost or duplicated rows: sent {sent:?}, received {sum:?}").into());
    }
    let distinct = keys.len();
    keys.sort_unstable();
    keys.dedup();
    if keys.len() != distinct {
        return Err("an order key reached more than one consumer".into());
    }
    step.rows = sum.rows;
    step.bytes = report.edges.iter().map(|e| e.bytes).sum();
    step.elapsed = start.elapsed();
    step.notes.push(format!(
        "rows per consumer {per_consumer:?}; totals equal the source's; each of {distinct} order keys reached exactly one consumer"
    ));
    Ok((step, report))
}

/// One consumer's totals and the distinct order keys it saw (the source is
/// ordered by key, so each consumer sees its keys in runs).
#[derive(Default)]
struct Slot {
    totals: Totals,
    keys: Vec<u64>,
}

/// The sink's state: each clone (one per consumer instance) gets a slot of
/// its own.
struct Counter<'a> {
    slots: &'a Mutex<Vec<Arc<Mutex<Slot>>>>,
    mine: Arc<Mutex<Slot>>,
}

impl<'a> Counter<'a> {
    fn new(slots: &'a Mutex<Vec<Arc<Mutex<Slot>>>>) -> Self {
        let mine = Arc::new(Mutex::new(Slot::default()));
        if let Ok(mut all) = slots.lock() {
            all.push(Arc::clone(&mine));
        }
        Self { slots, mine }
    }

    fn add(&self, line: &LineItemRef<'_>) -> Result<(), &'static str> {
        let mut slot = self.mine.lock().map_err(|_| "consumer state poisoned")?;
        slot.totals.add(line);
        if slot.keys.last() != Some(&line.orderkey()) {
            slot.keys.push(line.orderkey());
        }
        Ok(())
    }
}

impl Clone for Counter<'_> {
    fn clone(&self) -> Self {
        Self::new(self.slots)
    }
}
