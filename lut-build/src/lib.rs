//! Library side of `lut-build`.

pub mod compact;
pub mod corpus;
pub mod evaluate;
pub mod finetune;
pub mod fit;
pub mod merge;
pub mod net;
pub mod pipeline;
pub mod prune;
pub mod report;
