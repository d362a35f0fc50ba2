//! `lut-build prune`: shrink DFC geometries by measured table accesses (`lut_build::prune`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use lut_build::compact::Source;
use lut_build::corpus::{Corpus, progress_bar};
use lut_build::prune::{Choice, Sampling, apply, choose, collect, layout_text};
use serde::Serialize;

use super::{CorpusArgs, SplitArg, cache, selection};

/// Options of `lut-build prune`.
#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Container to read.
    #[arg(long = "in", value_name = "LUT")]
    input: PathBuf,
    /// Container to write. With several thresholds, `{t}` in the name is replaced by each.
    #[arg(long, value_name = "LUT")]
    out: PathBuf,
    /// Largest RMS change of a look-up on the corpus, in table units (int8 steps), that a
    /// node's smaller geometry may cause; several comma-separated values write several files
    /// from one pass over the corpus. 0 allows only changes no counted look-up sees. The
    /// default, 1, came out of the size-versus-PSNR curve of docs/pruning.md.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    threshold: Vec<f64>,
    /// Clips the accesses are counted on.
    #[arg(long, value_enum, default_value_t = SplitArg::Train)]
    split: SplitArg,
    /// Count look-ups at every STEP-th row and column of each plane.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    step: u64,
    /// Use every N-th picture of each bitstream.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    frame_step: u64,
    /// Write the per-node statistics and choices (JSON) here.
    #[arg(long, value_name = "JSON")]
    stats: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    corpus: CorpusArgs,
}

#[derive(Serialize)]
struct Outcome<'a> {
    threshold: f64,
    out: String,
    bytes_before: usize,
    bytes_after: usize,
    nodes: &'a [Choice],
}

/// Runs the command.
pub fn run(args: PruneArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    anyhow::ensure!(
        args.threshold.iter().all(|t| t.is_finite() && *t >= 0.0),
        "--threshold values must be finite and >= 0"
    );
    let template = args.out.to_string_lossy().to_string();
    anyhow::ensure!(
        args.threshold.len() == 1 || template.contains("{t}"),
        "with several --threshold values, --out must contain '{{t}}'"
    );
    let source =
        Source::read(&args.input).with_context(|| format!("opening {}", args.input.display()))?;
    let corpus = Corpus::open(&args.corpus.data)
        .with_context(|| format!("opening the corpus in {}", args.corpus.data.display()))?;
    args.corpus.check_clips(&corpus)?;
    let sel = selection(args.split, args.corpus.config, Vec::new());
    let encodes: Vec<_> = corpus
        .select(&sel)
        .into_iter()
        .filter(|e| args.corpus.keeps(&e.name))
        .collect();
    anyhow::ensure!(!encodes.is_empty(), "no bitstream is selected");
    let cache = cache(args.corpus.cache.clone());
    let sampling = Sampling {
        step: args.step as usize,
        frame_step: args.frame_step as usize,
    };
    let bar = progress_bar(encodes.len(), !args.quiet, "count");
    let stats = collect(&source, &corpus, &encodes, &cache, &sampling, &|| {
        bar.inc(1)
    })
    .context("counting table accesses")?;
    bar.finish_and_clear();
    eprintln!(
        "counted on {} bitstreams ({} planes, step {}, frame step {}) in {:.1} s",
        encodes.len(),
        stats.planes,
        sampling.step,
        sampling.frame_step,
        start.elapsed().as_secs_f64()
    );
    let mut outcomes = Vec::new();
    let mut all_choices = Vec::new();
    for &t in &args.threshold {
        let choices = choose(&stats, t);
        let bytes = apply(&source, &choices)?
            .to_bytes()
            .context("validating the pruned container")?;
        let out = PathBuf::from(template.replace("{t}", &format!("{t}")));
        lut_filter::io::write_atomic(&out, &bytes)
            .with_context(|| format!("writing {}", out.display()))?;
        println!("threshold {t}: {}", out.display());
        println!(
            "  {:<16} {:<5} {:>12} -> {:<12} {:>8} {:>8} {:>7} {:>12} {:>12}",
            "model", "node", "from", "to", "bytes", "after", "rms", "coarse", "fine unread"
        );
        for c in &choices {
            println!(
                "  {:<16} {:<5} {:>12} -> {:<12} {:>8} {:>8} {:>7.3} {:>11.2}% {:>11.1}%",
                c.model,
                c.node,
                layout_text(c.from),
                layout_text(c.to),
                c.bytes_from,
                c.bytes_to,
                c.rms_change,
                100.0 * c.coarse_share,
                100.0 * c.fine_rows_unread[0] as f64 / c.fine_rows_unread[1].max(1) as f64
            );
        }
        println!(
            "  size: {} -> {} bytes ({:.1} %)",
            source.size(),
            bytes.len(),
            100.0 * bytes.len() as f64 / source.size() as f64
        );
        outcomes.push((t, out, bytes.len()));
        all_choices.push(choices);
    }
    if let Some(path) = &args.stats {
        let report: Vec<Outcome<'_>> = outcomes
            .iter()
            .zip(&all_choices)
            .map(|((t, out, n), c)| Outcome {
                threshold: *t,
                out: out.display().to_string(),
                bytes_before: source.size(),
                bytes_after: *n,
                nodes: c,
            })
            .collect();
        lut_filter::io::write_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!("done in {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}
