//! # lut-train: a CPU trainer for the restricted-receptive-field networks
//!
//! Trains the networks whose units become the tables of a LUT model (DESIGN §2): one small MLP
//! per spatial node and pattern (4 inputs, shared by the 4 rotations) and per channel node (3
//! inputs), wired as a [`lut_filter::ModelDescription`] says. The forward pass computes what
//! the LUT runtime computes (`lut_filter::reference`) up to table quantisation, with
//! straight-through rounding wherever the runtime rounds; the result is written as a
//! `lut_build::net::NetFile` for `lut-build` to turn into tables.
//!
//! * [`graph`]: the description resolved, and the regions of each map a crop needs;
//! * [`data`]: corpus pictures by slice-QP range, flips and quarter turns, random crops;
//! * [`batch`]: crops laid out for batched gathers and matrix products;
//! * [`model`]: the candle network and its forward pass;
//! * [`unit_op`]: a unit's MLP as one fused candle operation (forward and backward);
//! * [`optim`]: Adam with checkpointable moments, learning-rate schedules;
//! * [`checkpoint`]: weights + moments + step in a safetensors file;
//! * [`train`]: the training loop (log, validation, checkpoints, resume) and timing.
//!
//! Everything random is a function of the seed and the step, so a run interrupted and resumed
//! from its checkpoint continues exactly as the uninterrupted run.

pub mod arch;
pub mod batch;
pub mod checkpoint;
pub mod data;
pub mod graph;
pub mod model;
pub mod optim;
pub mod train;
pub mod unit_op;

/// Errors of the trainer.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A tensor operation failed.
    #[error("tensor: {0}")]
    Tensor(#[from] candle_core::Error),
    /// The model description cannot be trained.
    #[error("model: {0}")]
    Model(String),
    /// Reading or writing a network file.
    #[error(transparent)]
    Net(#[from] lut_build::net::NetError),
    /// Loading the corpus.
    #[error(transparent)]
    Corpus(#[from] lut_build::corpus::CorpusError),
    /// A checkpoint is unreadable or does not match the run.
    #[error("checkpoint {path}: {what}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What is wrong.
        what: String,
    },
    /// Bad options.
    #[error("{0}")]
    Options(String),
    /// I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing a file atomically.
    #[error(transparent)]
    Write(#[from] lut_filter::Error),
}

impl TrainError {
    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
