//! Library side of `lut-build`.

pub mod corpus;
pub mod fit;
pub mod pipeline;
