//! Pipelines: stages on their own threads, connected by backpressured
//! channels ([`crate::channel`]), composed in code.
//!
//! A [`Pipeline`] owns a buffer pool. [`Pipeline::source`] starts a
//! [`Flow`]; each operator ([`Flow::map`], [`Flow::filter`],
//! [`Flow::flat_map`], [`Flow::sort`], or any [`Operator`] with
//! [`Flow::apply`]) adds a stage whose parallel instances read the previous
//! stage's output; [`Flow::partition_by_key`] makes the next edge a hash
//! shuffle to `n` instances; [`Flow::sink`] ends the flow. [`Pipeline::run`]
//! starts every stage instance on a scoped thread (Flink's task model on
//! threads) and returns a [`PipelineReport`].
//!
//! Failure: the first stage error or panic cancels the buffer pool, which
//! wakes and stops every other stage, and `run` returns that error. Stages
//! hand their partly filled output buffers over whenever their input has
//! nothing ready, so no record waits behind an idle stage.
//!
//! # Examples
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! use segrec_core::MemoryManager;
//! use segrec_macros::SegmentRecord;
//! use segrec_operators::pipeline::Pipeline;
//!
//! #[derive(SegmentRecord, Debug, Clone, PartialEq)]
//! #[segment(crate = "segrec_core")]
//! struct Order {
//!     #[segment(key)]
//!     customer: u32,
//!     amount: i64,
//! }
//!
//! let memory = MemoryManager::new(32 << 20);
//! let orders = (0..10_000u32).map(|i| Order { customer: i % 100, amount: i64::from(i % 300) });
//! let big = AtomicU64::new(0);
//! let pipeline = Pipeline::new(&memory)?;
//! pipeline
//!     .source("orders", orders)
//!     .filter("big", |o: &OrderRef<'_>| o.amount() > 100)
//!     .partition_by_key(4)
//!     .sort("by customer")
//!     .sink("count", |_o: Order| {
//!         big.fetch_add(1, Ordering::Relaxed);
//!         Ok::<_, std::io::Error>(())
//!     });
//! let report = pipeline.run()?;
//! assert_eq!(big.load(Ordering::Relaxed), (0..10_000).filter(|i| i % 300 > 100).count() as u64);
//! println!("{report}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod join;
mod operator;
mod report;
mod run;

use core::cell::RefCell;
use core::fmt;
use std::sync::Arc;

use segrec_core::{MemoryManager, SegmentRecord};

use crate::channel::{self, BufferPool, ChannelConfig, EdgeMetrics, Route, Sender};
use crate::sort::SorterConfig;

pub use error::{BoxError, PipelineError, StageError};
pub use operator::{FnOperator, Operator, SortOperator};
pub use report::{PipelineReport, StageReport};
use run::Task;

/// A pipeline under construction; [`run`](Self::run) executes it.
pub struct Pipeline<'env> {
    memory: MemoryManager,
    pool: BufferPool,
    config: ChannelConfig,
    inner: RefCell<Inner<'env>>,
}

struct Inner<'env> {
    tasks: Vec<Task<'env>>,
    edges: Vec<Arc<EdgeMetrics>>,
    error: Option<PipelineError>,
}

impl fmt::Debug for Pipeline<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.borrow();
        f.debug_struct("Pipeline")
            .field("pool", &self.pool)
            .field("config", &self.config)
            .field("stage_instances", &inner.tasks.len())
            .finish()
    }
}

impl<'env> Pipeline<'env> {
    /// A pipeline with a default buffer pool
    /// ([`DEFAULT_POOL_PAGES`](crate::channel::DEFAULT_POOL_PAGES)) and
    /// default channels.
    ///
    /// # Errors
    ///
    /// When the budget cannot hold the pool.
    pub fn new(memory: &MemoryManager) -> Result<Self, PipelineError> {
        Self::with_pool(memory, BufferPool::with_defaults(memory)?, ChannelConfig::default())
    }

    /// A pipeline over `pool` whose edges use `config`. The pool is
    /// cancelled when a stage fails: give each pipeline its own.
    ///
    /// # Errors
    ///
    /// None yet; reserved for validation.
    pub fn with_pool(
        memory: &MemoryManager,
        pool: BufferPool,
        config: ChannelConfig,
    ) -> Result<Self, PipelineError> {
        Ok(Self {
            memory: memory.clone(),
            pool,
            config,
            inner: RefCell::new(Inner { tasks: Vec::new(), edges: Vec::new(), error: None }),
        })
    }

    /// The pipeline's buffer pool.
    #[must_use]
    pub fn pool(&self) -> &BufferPool {
        &self.pool
    }

    /// Live counters of the edges built so far (readable while running from
    /// another thread).
    #[must_use]
    pub fn edge_metrics(&self) -> Vec<Arc<EdgeMetrics>> {
        self.inner.borrow().edges.clone()
    }

    /// Starts a flow from any iterator of records (one instance).
    pub fn source<T, I>(&self, name: &str, records: I) -> Flow<'_, 'env, T>
    where
        T: SegmentRecord + 'env,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'env,
    {
        let iter = records.into_iter();
        let stage = name.to_owned();
        let producer: Producer<'env, T> =
            Box::new(move |tx: Sender<T>| Task::new(stage, 0, move |stats| run::source(iter, tx, stats)));
        Flow {
            pipeline: self,
            name: name.to_owned(),
            producers: vec![producer],
            route: Route::Forward,
            fan_out: None,
        }
    }

    /// Runs every stage on its own scoped thread until all finish, or until
    /// the first failure has stopped them all.
    ///
    /// # Errors
    ///
    /// The first stage error or panic ([`PipelineError::Stage`],
    /// [`PipelineError::Panicked`]), or an edge that could not be built
    /// ([`PipelineError::Build`]).
    pub fn run(self) -> Result<PipelineReport, PipelineError> {
        let inner = self.inner.into_inner();
        if let Some(e) = inner.error {
            return Err(e);
        }
        run::run_all(&self.pool, inner.tasks, &inner.edges)
    }

    fn record_error(&self, e: PipelineError) {
        let mut inner = self.inner.borrow_mut();
        if inner.error.is_none() {
            inner.error = Some(e);
        }
    }
}

/// Makes the stage task of one upstream instance once its output exists.
type Producer<'env, T> = Box<dyn FnOnce(Sender<T>) -> Task<'env> + 'env>;

/// The output of a stage, waiting to be connected to the next one.
#[must_use = "a flow does nothing until it ends in a sink and the pipeline runs"]
pub struct Flow<'p, 'env, T> {
    pipeline: &'p Pipeline<'env>,
    name: String,
    producers: Vec<Producer<'env, T>>,
    route: Route,
    fan_out: Option<usize>,
}

impl<T> Drop for Flow<'_, '_, T> {
    fn drop(&mut self) {
        if !self.producers.is_empty() {
            self.pipeline.record_error(PipelineError::Unterminated { stage: self.name.clone() });
        }
    }
}

impl<T> fmt::Debug for Flow<'_, '_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flow")
            .field("stage", &self.name)
            .field("instances", &self.producers.len())
            .field("route", &self.route)
            .finish()
    }
}

impl<'p, 'env, T: SegmentRecord + 'env> Flow<'p, 'env, T> {
    /// Instances of the stage that produces this flow.
    #[must_use]
    pub fn parallelism(&self) -> usize {
        self.producers.len()
    }

    /// Sends each record to one of `n` instances of the next stage by the
    /// hash of its key ([`SegmentRecord::hash_key`]).
    pub fn partition_by_key(mut self, n: usize) -> Self {
        self.route = Route::Hash;
        self.fan_out = Some(n.max(1));
        self
    }

    /// Copies every record to each of `n` instances of the next stage.
    pub fn broadcast(mut self, n: usize) -> Self {
        self.route = Route::Broadcast;
        self.fan_out = Some(n.max(1));
        self
    }

    /// Deals records round robin to `n` instances of the next stage.
    pub fn rebalance(mut self, n: usize) -> Self {
        self.route = Route::RoundRobin;
        self.fan_out = Some(n.max(1));
        self
    }

    /// Merges every instance into one for the next stage (fan-in).
    pub fn merge(mut self) -> Self {
        self.route = Route::Forward;
        self.fan_out = Some(1);
        self
    }

    /// Builds the edge to the next stage `next` and schedules this flow's
    /// stage instances; returns the receivers for the next stage.
    fn connect(self, next: &str) -> (&'p Pipeline<'env>, Vec<channel::Receiver<T>>) {
        let mut this = self;
        let producers = std::mem::take(&mut this.producers);
        let (pipeline, name, route, fan_out) =
            (this.pipeline, std::mem::take(&mut this.name), this.route, this.fan_out);
        let senders = producers.len().max(1);
        // Forward without `merge()` keeps the parallelism, one to one.
        let receivers = fan_out.unwrap_or(senders);
        let edge_name = format!("{name} -> {next}");
        match channel::edge::<T>(&pipeline.pool, &edge_name, route, senders, receivers, pipeline.config) {
            Ok((txs, rxs)) => {
                let mut inner = pipeline.inner.borrow_mut();
                if let Some(tx) = txs.first() {
                    inner.edges.push(tx.metrics_handle());
                }
                for (p, tx) in producers.into_iter().zip(txs) {
                    inner.tasks.push(p(tx));
                }
                (pipeline, rxs)
            }
            Err(e) => {
                pipeline.record_error(e.into());
                (pipeline, Vec::new())
            }
        }
    }

    /// Adds a stage running one [`Operator`] per instance, made by `factory`.
    pub fn apply<U, O, F>(self, name: &str, factory: F) -> Flow<'p, 'env, U>
    where
        U: SegmentRecord + 'env,
        O: Operator<T, U> + 'env,
        F: Fn() -> Result<O, StageError>,
    {
        let (pipeline, receivers) = self.connect(name);
        let mut producers: Vec<Producer<'env, U>> = Vec::with_capacity(receivers.len());
        for (i, rx) in receivers.into_iter().enumerate() {
            let op = match factory() {
                Ok(op) => op,
                Err(source) => {
                    pipeline.record_error(PipelineError::Stage {
                        stage: name.to_owned(),
                        instance: i,
                        source,
                    });
                    continue;
                }
            };
            let stage = name.to_owned();
            producers.push(Box::new(move |tx: Sender<U>| {
                Task::new(stage, i, move |stats| run::operator(rx, tx, op, stats))
            }));
        }
        Flow { pipeline, name: name.to_owned(), producers, route: Route::Forward, fan_out: None }
    }

    /// Maps every record (decoded into an owned value) to one output.
    pub fn map<U, F>(self, name: &str, f: F) -> Flow<'p, 'env, U>
    where
        U: SegmentRecord + 'env,
        F: Fn(T) -> U + Clone + Send + 'env,
    {
        self.apply(name, move || {
            let f = f.clone();
            Ok(FnOperator::new(move |v: T::Ref<'_>, out: &mut Sender<U>| {
                Ok(out.send(f(operator::owned::<T>(v)))?)
            }))
        })
    }

    /// Maps every record's zero-copy view to one output.
    pub fn map_ref<U, F>(self, name: &str, f: F) -> Flow<'p, 'env, U>
    where
        U: SegmentRecord + 'env,
        F: for<'a> Fn(T::Ref<'a>) -> U + Clone + Send + 'env,
    {
        self.apply(name, move || {
            let f = f.clone();
            Ok(FnOperator::new(move |v: T::Ref<'_>, out: &mut Sender<U>| Ok(out.send(f(v))?)))
        })
    }

    /// Maps every record with a fallible function; an error stops the
    /// pipeline.
    pub fn try_map<U, E, F>(self, name: &str, f: F) -> Flow<'p, 'env, U>
    where
        U: SegmentRecord + 'env,
        E: Into<BoxError>,
        F: Fn(T) -> Result<U, E> + Clone + Send + 'env,
    {
        self.apply(name, move || {
            let f = f.clone();
            Ok(FnOperator::new(move |v: T::Ref<'_>, out: &mut Sender<U>| {
                let u = f(operator::owned::<T>(v)).map_err(operator::user)?;
                Ok(out.send(u)?)
            }))
        })
    }

    /// Keeps the records whose view satisfies `f`; they are forwarded as
    /// bytes, never decoded.
    pub fn filter<F>(self, name: &str, f: F) -> Flow<'p, 'env, T>
    where
        F: for<'a> Fn(&T::Ref<'a>) -> bool + Clone + Send + 'env,
    {
        self.apply(name, move || {
            let f = f.clone();
            Ok(FnOperator::new(move |v: T::Ref<'_>, out: &mut Sender<T>| {
                if f(&v) {
                    out.send_encoded(segrec_core::RecordRef::bytes(&v))?;
                }
                Ok(())
            }))
        })
    }

    /// Maps every record (owned) to any number of outputs.
    pub fn flat_map<U, I, F>(self, name: &str, f: F) -> Flow<'p, 'env, U>
    where
        U: SegmentRecord + 'env,
        I: IntoIterator<Item = U>,
        F: Fn(T) -> I + Clone + Send + 'env,
    {
        self.apply(name, move || {
            let f = f.clone();
            Ok(FnOperator::new(move |v: T::Ref<'_>, out: &mut Sender<U>| {
                for u in f(operator::owned::<T>(v)) {
                    out.send(u)?;
                }
                Ok(())
            }))
        })
    }

    /// Sorts each instance's records by key with the external sorter
    /// (spilling past its share of the budget), then sends them on.
    pub fn sort(self, name: &str) -> Flow<'p, 'env, T>
    where
        T: Send,
        crate::sort::Sorter<T>: Send,
    {
        self.sort_with(name, SorterConfig::default())
    }

    /// As [`sort`](Self::sort) with a sorter configuration (memory limit,
    /// fan-in) applied to each instance.
    pub fn sort_with(self, name: &str, config: SorterConfig) -> Flow<'p, 'env, T>
    where
        T: Send,
        crate::sort::Sorter<T>: Send,
    {
        let memory = self.pipeline.memory.clone();
        self.apply(name, move || SortOperator::new(&memory, config.clone()))
    }

    /// Ends the flow: `f` consumes every record (owned) of every instance.
    pub fn sink<E, F>(self, name: &str, f: F)
    where
        E: Into<BoxError>,
        F: Fn(T) -> Result<(), E> + Clone + Send + 'env,
    {
        self.sink_ref(name, move |v: T::Ref<'_>| f(operator::owned::<T>(v)));
    }

    /// Ends the flow: `f` consumes every record's view.
    pub fn sink_ref<E, F>(self, name: &str, f: F)
    where
        E: Into<BoxError>,
        F: for<'a> Fn(T::Ref<'a>) -> Result<(), E> + Clone + Send + 'env,
    {
        let (pipeline, receivers) = self.connect(name);
        let mut inner = pipeline.inner.borrow_mut();
        for (i, rx) in receivers.into_iter().enumerate() {
            let f = f.clone();
            inner.tasks.push(Task::new(name.to_owned(), i, move |stats| run::sink(rx, f, stats)));
        }
    }
}
