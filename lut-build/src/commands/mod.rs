//! Subcommands of the `lut-build` binary that work on the corpus.

pub mod benchmark;
pub mod compact;
pub mod export;
pub mod finetune;
pub mod fit;
pub mod merge;
pub mod net;
pub mod prune;
pub mod verify;

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use lut_build::corpus::{self, Cache, EncodePairs, Selection};

/// Where the corpus is and which of its clips to use (shared by `fit` and `benchmark`).
#[derive(Args, Debug)]
pub struct CorpusArgs {
    /// The corpus folder (manifest.tsv, orig/, vvc/).
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// Coding configurations.
    #[arg(long, value_enum, default_value_t = ConfigArg::All)]
    pub config: ConfigArg,
    /// Only these clips (comma-separated names), e.g. to hold some out.
    #[arg(long, value_delimiter = ',')]
    pub clips: Vec<String>,
    /// Leave these clips out (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Cache folder [default: $LUT_CACHE, else target/lut-cache].
    #[arg(long)]
    pub cache: Option<PathBuf>,
}

impl CorpusArgs {
    /// Opens the corpus and loads the (original, reconstruction) pairs of `split`.
    pub fn load(&self, split: SplitArg) -> anyhow::Result<Vec<EncodePairs>> {
        use anyhow::Context;
        let corpus = corpus::Corpus::open(&self.data)
            .with_context(|| format!("opening the corpus in {}", self.data.display()))?;
        let sel = selection(split, self.config, Vec::new());
        let pairs = corpus
            .pairs(&sel, &cache(self.cache.clone()), true)
            .context("loading the reconstructions")?;
        filter_clips(pairs, &self.clips, &self.exclude)
    }

    /// Whether `--clips` / `--exclude` keep the clip `name`.
    pub fn keeps(&self, name: &str) -> bool {
        (self.clips.is_empty() || self.clips.iter().any(|c| c == name))
            && !self.exclude.iter().any(|c| c == name)
    }

    /// Checks that every clip named by `--clips` / `--exclude` is in the corpus.
    pub fn check_clips(&self, corpus: &corpus::Corpus) -> anyhow::Result<()> {
        for name in self.clips.iter().chain(&self.exclude) {
            anyhow::ensure!(
                corpus.clips().iter().any(|c| &c.name == name),
                "clip '{name}' is not in the corpus"
            );
        }
        Ok(())
    }
}

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

/// Keeps the bitstreams of `only` (all when empty) minus those of `exclude`; names must exist.
pub fn filter_clips(
    encodes: Vec<EncodePairs>,
    only: &[String],
    exclude: &[String],
) -> anyhow::Result<Vec<EncodePairs>> {
    for name in only.iter().chain(exclude) {
        anyhow::ensure!(
            encodes.iter().any(|e| &e.encode.name == name),
            "clip '{name}' is not in the selection"
        );
    }
    let kept: Vec<EncodePairs> = encodes
        .into_iter()
        .filter(|e| only.is_empty() || only.contains(&e.encode.name))
        .filter(|e| !exclude.contains(&e.encode.name))
        .collect();
    anyhow::ensure!(
        !kept.is_empty(),
        "no bitstream is left after --clips / --exclude"
    );
    Ok(kept)
}
