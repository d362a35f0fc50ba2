//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong opening a container or filtering a picture.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read, mapped or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The bytes are not a well-formed safetensors file.
    #[error("not a valid LUT container: {0}")]
    Malformed(String),
    /// A safetensors file, but not one of ours.
    #[error(
        "not a LUT container: metadata key '{0}' is missing (is this a plain safetensors file?)"
    )]
    NotAContainer(&'static str),
    /// The format's major version is not one this build reads.
    #[error(
        "container format version {found} is not supported (this build reads {supported}.x); \
         upgrade lut-filter or rebuild the container"
    )]
    UnsupportedVersion {
        /// Version found in the file.
        found: String,
        /// Major version supported.
        supported: u32,
    },
    /// The tensor bytes do not match the checksum in the header.
    #[error(
        "container checksum mismatch: header says {expected:08x}, tensor bytes give {actual:08x} \
         (file corrupted or modified)"
    )]
    Checksum {
        /// Stored CRC-32.
        expected: u32,
        /// Computed CRC-32.
        actual: u32,
    },
    /// The network description is not valid JSON or not a valid description.
    #[error("invalid network description: {0}")]
    Description(String),
    /// A model's description is inconsistent.
    #[error("model '{model}': {reason}")]
    Model {
        /// Model name.
        model: String,
        /// What is wrong.
        reason: String,
    },
    /// A tensor the description needs is missing or has the wrong type or shape.
    #[error("tensor '{name}': {reason}")]
    Tensor {
        /// Tensor name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// Picture geometry is inconsistent.
    #[error("invalid picture: {0}")]
    Picture(String),
    /// Bit depth out of range.
    #[error("bit depth {bit_depth} is not supported (8..={max} for this sample type)")]
    BitDepth {
        /// Requested bit depth.
        bit_depth: u8,
        /// Largest supported.
        max: u8,
    },
    /// The region leaves the plane.
    #[error("region {x},{y} {width}x{height} is not inside the {plane_width}x{plane_height} plane")]
    Region {
        /// Left.
        x: usize,
        /// Top.
        y: usize,
        /// Width.
        width: usize,
        /// Height.
        height: usize,
        /// Plane width.
        plane_width: usize,
        /// Plane height.
        plane_height: usize,
    },
    /// The model cannot run on this picture.
    #[error("model '{model}' cannot filter this picture: {reason}")]
    Unsupported {
        /// Model name.
        model: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    pub(crate) fn model(model: &str, reason: impl Into<String>) -> Self {
        Error::Model {
            model: model.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn tensor(name: &str, reason: impl Into<String>) -> Self {
        Error::Tensor {
            name: name.into(),
            reason: reason.into(),
        }
    }
}
