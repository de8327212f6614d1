//! Errors of pipeline stages and of [`Pipeline::run`](super::Pipeline::run).

use core::fmt;

use thiserror::Error;

use crate::channel::{PoolError, RecvError, SendError};
use crate::sort::SortError;

/// A boxed error from user code.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why one stage instance stopped early.
#[derive(Debug)]
#[non_exhaustive]
pub enum StageError {
    /// The pipeline was cancelled because another stage failed.
    Cancelled,
    /// A downstream stage went away (because it failed).
    Disconnected,
    /// The stage itself failed.
    Failed(BoxError),
}

impl StageError {
    /// Wraps any error of user code.
    pub fn other(e: impl Into<BoxError>) -> Self {
        Self::Failed(e.into())
    }

    /// Whether this failure is only the echo of another stage's.
    #[must_use]
    pub fn is_consequence(&self) -> bool {
        matches!(self, Self::Cancelled | Self::Disconnected)
    }
}

impl fmt::Display for StageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cancelled => f.write_str("cancelled"),
            Self::Disconnected => f.write_str("downstream stage disconnected"),
            Self::Failed(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StageError {}

impl<T> From<SendError<T>> for StageError {
    fn from(e: SendError<T>) -> Self {
        match e {
            SendError::Cancelled(_) => Self::Cancelled,
            SendError::Disconnected(_) => Self::Disconnected,
            SendError::Encode(_, error) => Self::Failed(Box::new(error)),
        }
    }
}

impl From<RecvError> for StageError {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Cancelled => Self::Cancelled,
            other => Self::Failed(Box::new(other)),
        }
    }
}

impl From<SortError> for StageError {
    fn from(e: SortError) -> Self {
        Self::Failed(Box::new(e))
    }
}

/// A pipeline could not be built or a stage failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The buffer pool could not serve the pipeline's edges.
    #[error("pipeline could not be built: {0}")]
    Build(#[from] PoolError),
    /// A flow was dropped without ending in a sink (its records would have
    /// nowhere to go).
    #[error("the output of stage `{stage}` goes nowhere: end the flow with a sink")]
    Unterminated {
        /// The stage whose output was left unconnected.
        stage: String,
    },
    /// A stage returned an error; the rest of the pipeline was cancelled.
    #[error("stage `{stage}` (instance {instance}) failed: {source}")]
    Stage {
        /// The stage's name.
        stage: String,
        /// Which parallel instance.
        instance: usize,
        /// What went wrong.
        source: StageError,
    },
    /// A stage panicked; the rest of the pipeline was cancelled.
    #[error("stage `{stage}` (instance {instance}) panicked: {message}")]
    Panicked {
        /// The stage's name.
        stage: String,
        /// Which parallel instance.
        instance: usize,
        /// The panic message, when it was a string.
        message: String,
    },
}
