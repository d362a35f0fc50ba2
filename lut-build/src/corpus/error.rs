//! The corpus layer's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while reading the corpus, decoding it or using the cache.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// A file could not be read or written.
    #[error("cannot access {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A TSV table (manifest.tsv, vvc/encodes.tsv) is malformed.
    #[error("{}:{line}: {msg}", path.display())]
    Table {
        /// The table.
        path: PathBuf,
        /// 1-based line number (1 = the header).
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// The Y4M reader failed.
    #[error("{}: cannot read the Y4M file", path.display())]
    Y4m {
        /// The Y4M file.
        path: PathBuf,
        /// The reader's error.
        #[source]
        source: y4m::Error,
    },
    /// A Y4M file is readable but not in a supported format (4:2:0, 8 or 10 bit).
    #[error("{}: unsupported Y4M: {msg}", path.display())]
    Y4mFormat {
        /// The Y4M file.
        path: PathBuf,
        /// What is unsupported.
        msg: String,
    },
    /// The VVC decoder reported an error.
    #[error("{}: vvdec failed to decode", path.display())]
    Vvdec {
        /// The bitstream.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: vvdec::Error,
    },
    /// A decoded picture is not what the corpus promises (10-bit 4:2:0, consistent size).
    #[error("{}: {msg}", path.display())]
    Picture {
        /// The bitstream.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// An encoder log cannot be parsed or does not fit the bitstream.
    #[error("{}: encoder log: {msg}", path.display())]
    Log {
        /// The log.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// Data on disk disagrees with the tables (frame count, size, checksum).
    #[error("{what}: {msg}")]
    Mismatch {
        /// The bitstream or clip concerned.
        what: String,
        /// The disagreement.
        msg: String,
    },
    /// A clip named in encodes.tsv is not in manifest.tsv (or was asked for and does not exist).
    #[error("unknown clip {0:?}")]
    UnknownClip(String),
    /// A cache file could not be written.
    #[error("cache {}: {msg}", path.display())]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
}

/// `Result` with [`CorpusError`].
pub type Result<T, E = CorpusError> = std::result::Result<T, E>;

impl CorpusError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
