//! Library side of `lut-build`.

pub mod corpus;
pub mod evaluate;
pub mod fit;
pub mod pipeline;
pub mod report;
pub mod net;
