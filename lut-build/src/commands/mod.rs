//! Subcommands of the `lut-build` binary that work on the corpus.

pub mod benchmark;
pub mod fit;

use std::path::PathBuf;

use clap::ValueEnum;
use lut_build::corpus::{self, Cache, Selection};

/// Which clips.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SplitArg {
    /// Training clips.
    Train,
    /// Validation clips.
    Val,
    /// Both.
    All,
}

/// Which coding configuration.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ConfigArg {
    /// All intra.
    Ai,
    /// Random access.
    Ra,
    /// Both.
    All,
}

/// Builds a corpus selection from command-line choices.
pub fn selection(split: SplitArg, config: ConfigArg, qps: Vec<u32>) -> Selection {
    Selection {
        split: match split {
            SplitArg::Train => Some(corpus::Split::Train),
            SplitArg::Val => Some(corpus::Split::Val),
            SplitArg::All => None,
        },
        config: match config {
            ConfigArg::Ai => Some(corpus::Config::Ai),
            ConfigArg::Ra => Some(corpus::Config::Ra),
            ConfigArg::All => None,
        },
        qps,
    }
}

/// The cache named on the command line, else `$LUT_CACHE`, else `target/lut-cache`.
pub fn cache(dir: Option<PathBuf>) -> Cache {
    dir.map_or_else(Cache::from_env, Cache::new)
}
