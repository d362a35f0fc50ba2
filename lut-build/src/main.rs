//! `lut-build`: the offline tool that turns a trained network into a LUT container.
//!
//! Commands:
//! * `identity` writes the zero-residual placeholder container the runtime embeds until the
//!   trained default exists;
//! * `decode` decodes the VVC corpus into the reconstruction cache and checks every
//!   reconstruction's PSNR against the encoder log (see `lut_build::corpus`);
//! * `fit` fits LUT models by least squares on the train split (`lut_build::fit`);
//! * `benchmark` measures a container on the corpus: PSNR per QP and BD-rate;
//! * `export` writes one corpus reconstruction as a 10-bit Y4M file;
//! * `compact` rewrites regular tables as DFC (`lut_build::compact`);
//! * `prune` shrinks DFC geometries by measured table accesses (`lut_build::prune`);
//! * `init-net`, `from-net`, `verify`, `inspect`: random networks of preset architectures, the
//!   network -> table transfer, network vs tables on the corpus, and what a `.net` / `.lut`
//!   holds (`lut_build::net`, `docs/network.md`).
//!
//! Transfer, compaction, pruning and fine-tuning are the lut-build issue's work.

mod commands;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use commands::{ConfigArg, SplitArg};
use lut_build::corpus::{self, Corpus, Origin};
use lut_filter::description::presets;
use lut_filter::{Component, ContainerWriter, TableLayout};
use rayon::prelude::*;

#[derive(Parser)]
#[command(version, about = "Build LUT containers for the lut-filter runtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the identity (zero-residual) placeholder container: one single-stage DFC model per
    /// component whose tables are all zero. For plumbing and tests only; it filters nothing.
    Identity {
        /// Output file.
        #[arg(long, default_value = "data/default.lut")]
        out: PathBuf,
    },
    /// Fit per-component, per-slice-QP-range LUT models by least squares on the corpus (no
    /// network needed): each stage's tables minimise the squared error of the filtered
    /// reconstruction, with a ridge and a level-smoothness penalty.
    Fit(commands::fit::FitArgs),
    /// Fine-tune a container's tables on the train split (LUT-aware: the runtime's forward with
    /// straight-through rounding, MSE, Adam on random crops), or train new cascades from
    /// random tables (--init-stages); see docs/finetune.md.
    Finetune(commands::finetune::FinetuneArgs),
    /// Measure a container on the corpus like a JVET test: PSNR (VTM convention) of every
    /// bitstream's reconstruction before and after filtering, delta-PSNR per QP, BD-rate.
    Benchmark(commands::benchmark::BenchmarkArgs),
    /// Rewrite every regular spatial table of a container as DFC (fine band + coarse grid):
    /// exact inside the band. DFC tables of another geometry are refused unless --lossy.
    Compact(commands::compact::CompactArgs),
    /// Prune a container by what real video reaches: count table accesses on the corpus, then
    /// shrink each spatial node's DFC geometry (smaller band, coarser grid) as far as the
    /// look-ups' RMS change stays within --threshold; canonical fine indexes are omitted.
    Prune(commands::prune::PruneArgs),
    /// Combine two containers: the models of --take for some components (e.g. a 2-stage luma
    /// model), those of --base for the others; tables are copied byte for byte.
    Merge(commands::merge::MergeArgs),
    /// Write one corpus reconstruction (decoded through the cache) as a 10-bit Y4M file, e.g.
    /// for `lut-filter filter` or `lut-filter look`.
    Export(commands::export::ExportArgs),
    /// Transfer a trained network (`.net`, or an ONNX directory) into a LUT container: every unit evaluated at every
    /// grid node, quantised by its transfer, DFC-compacted where the description (or
    /// `--layout`) asks; prints per-model table sizes, clipped entries and wall time.
    FromNet(commands::net::FromNetArgs),
    /// Compare a network with its LUT container on corpus reconstructions: PSNR of unfiltered,
    /// network and LUT output, the network-LUT gap, and single-thread ns/sample of each.
    Verify(commands::verify::VerifyArgs),
    /// Describe a network (`.net`: models, nodes, units, MACs, parameters) or a LUT container
    /// (`.lut`: version, checksum, models, tensors).
    Inspect(commands::net::InspectArgs),
    /// Write a network with random weights for preset architectures (tests, timing, and the
    /// trainer's starting point).
    InitNet(commands::net::InitNetArgs),
    /// Decode the corpus bitstreams into the reconstruction cache (skipping those already there)
    /// and print, per bitstream, the reconstruction's PSNR (VTM convention: 10 bit, peak 1020,
    /// mean of per-frame PSNRs) next to the encoder log's, and the largest sample difference.
    Decode {
        /// The corpus folder (manifest.tsv, orig/, vvc/).
        #[arg(long, default_value = "../shared/data")]
        data: PathBuf,
        /// Which clips.
        #[arg(long, value_enum, default_value_t = SplitArg::All)]
        split: SplitArg,
        /// Which coding configuration.
        #[arg(long, value_enum, default_value_t = ConfigArg::All)]
        config: ConfigArg,
        /// Nominal QPs to keep (comma-separated); all when omitted.
        #[arg(long, value_delimiter = ',')]
        qp: Vec<u32>,
        /// Cache folder [default: $LUT_CACHE, else target/lut-cache in the workspace].
        #[arg(long)]
        cache: Option<PathBuf>,
        /// Largest accepted |recomputed - log| luma PSNR difference in dB.
        #[arg(long, default_value_t = 0.01)]
        tolerance: f64,
    },
}

/// One line of the `decode` report.
struct Row {
    label: String,
    frames: usize,
    origin: Origin,
    psnr: [f64; 3],
    log_psnr: [f64; 3],
    max_diff: [u16; 3],
    qp_range: (i32, i32),
}

fn decode_command(
    data: PathBuf,
    split: SplitArg,
    config: ConfigArg,
    qp: Vec<u32>,
    cache: Option<PathBuf>,
    tolerance: f64,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let corpus =
        Corpus::open(&data).with_context(|| format!("opening the corpus in {}", data.display()))?;
    let cache = commands::cache(cache);
    let sel = commands::selection(split, config, qp);
    let encodes = corpus.select(&sel);
    anyhow::ensure!(!encodes.is_empty(), "the selection is empty");
    eprintln!(
        "{} bitstreams, cache {}",
        encodes.len(),
        cache.dir().display()
    );
    let originals = corpus.read_originals(encodes.iter().map(|e| e.name.as_str()))?;
    let bar = corpus::progress_bar(encodes.len(), true, "decode");
    let rows: Vec<Row> = encodes
        .par_iter()
        .map(|e| {
            let (pairs, origin) = corpus
                .pair(e, &originals[&e.name], &cache, 1)
                .with_context(|| e.label())?;
            let qps = pairs.frames.iter().map(|f| f.slice_qp);
            let qp_range = (qps.clone().min().unwrap_or(0), qps.max().unwrap_or(0));
            bar.inc(1);
            Ok(Row {
                label: e.label(),
                frames: pairs.frames.len(),
                origin,
                psnr: pairs.psnr(),
                log_psnr: e.psnr,
                max_diff: pairs.max_abs_diff(),
                qp_range,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    bar.finish_and_clear();

    println!(
        "{:<32} {:>6} {:>7}  {:>24}  {:>24}  {:>16}  {:>14}  {:>5}",
        "bitstream",
        "frames",
        "source",
        "PSNR Y/U/V (decoded)",
        "PSNR Y/U/V (log)",
        "delta Y/U/V",
        "max|diff| Y/U/V",
        "sQP"
    );
    let mut worst = [0.0f64; 3];
    let mut decoded = 0;
    for r in &rows {
        let d: [f64; 3] = std::array::from_fn(|c| r.psnr[c] - r.log_psnr[c]);
        for c in 0..3 {
            worst[c] = worst[c].max(d[c].abs());
        }
        let source = match &r.origin {
            Origin::Cache => "cache",
            Origin::Decoded { replaced: None } => {
                decoded += 1;
                "decoded"
            }
            Origin::Decoded {
                replaced: Some(why),
            } => {
                decoded += 1;
                eprintln!("{}: replaced an invalid cache file ({why})", r.label);
                "redone"
            }
        };
        println!(
            "{:<32} {:>6} {:>7}  {:>8.4}{:>8.4}{:>8.4}  {:>8.4}{:>8.4}{:>8.4}  {:>+6.3}{:>+6.3}{:>+6.3}  {:>5}{:>5}{:>5}  {:>2}-{:<2}",
            r.label,
            r.frames,
            source,
            r.psnr[0],
            r.psnr[1],
            r.psnr[2],
            r.log_psnr[0],
            r.log_psnr[1],
            r.log_psnr[2],
            d[0],
            d[1],
            d[2],
            r.max_diff[0],
            r.max_diff[1],
            r.max_diff[2],
            r.qp_range.0,
            r.qp_range.1
        );
    }
    println!(
        "{} bitstreams ({} decoded, {} from the cache), {} frames; max |PSNR - log| Y {:.6} U {:.6} V {:.6} dB; wall time {:.1} s",
        rows.len(),
        decoded,
        rows.len() - decoded,
        rows.iter().map(|r| r.frames).sum::<usize>(),
        worst[0],
        worst[1],
        worst[2],
        start.elapsed().as_secs_f64()
    );
    anyhow::ensure!(
        worst[0] <= tolerance,
        "luma PSNR differs from the encoder log by {:.4} dB (tolerance {tolerance})",
        worst[0]
    );
    Ok(())
}

/// The placeholder container's bytes (deterministic).
fn identity_container() -> anyhow::Result<ContainerWriter> {
    let mut w = ContainerWriter::new();
    let table = TableLayout::Dfc {
        dims: 4,
        dw: 3,
        si: 5,
    };
    for c in Component::ALL {
        let mut m = presets::cascade(&format!("identity-{c}"), c, [0, 63], 1, table, 0, 0);
        m.notes = "identity placeholder: all-zero tables, scale 0 (filters nothing)".into();
        w.add_model(m, |req| vec![0i8; req.shape.iter().product()])?;
    }
    Ok(w)
}

/// `lut-build inspect X | head` closes the pipe early: `println!` then panics with "failed
/// printing to stdout: Broken pipe". Like other command-line tools, stop quietly with success
/// instead of printing a panic.
fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> anyhow::Result<()> {
    exit_quietly_on_broken_pipe();
    match Cli::parse().command {
        Command::Identity { out } => {
            identity_container()?
                .write(&out)
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!("wrote {}", out.display());
        }
        Command::Decode {
            data,
            split,
            config,
            qp,
            cache,
            tolerance,
        } => decode_command(data, split, config, qp, cache, tolerance)?,
        Command::Fit(args) => commands::fit::run(args)?,
        Command::Finetune(args) => commands::finetune::run(args)?,
        Command::Benchmark(args) => commands::benchmark::run(args)?,
        Command::Export(args) => commands::export::run(args)?,
        Command::FromNet(args) => commands::net::from_net(args)?,
        Command::Verify(args) => commands::verify::run(args)?,
        Command::Inspect(args) => commands::net::inspect(args)?,
        Command::InitNet(args) => commands::net::init_net(args)?,
        Command::Compact(args) => commands::compact::run(args)?,
        Command::Prune(args) => commands::prune::run(args)?,
        Command::Merge(args) => commands::merge::run(args)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use lut_filter::{ChromaFormat, Component, Container, Picture, Plane, PlaneMut};

    /// The identity container opens, is deterministic, and returns its input unchanged.
    #[test]
    fn identity_container_filters_nothing() {
        let bytes = super::identity_container().unwrap().to_bytes().unwrap();
        assert_eq!(
            bytes,
            super::identity_container().unwrap().to_bytes().unwrap()
        );
        let c = Container::from_bytes(bytes).unwrap();
        let (w, h) = (37, 21);
        let y: Vec<u16> = (0..w * h).map(|i| (i * 37 % 1024) as u16).collect();
        let pic = Picture::new(
            Plane::new(&y, w, w, h).unwrap(),
            None,
            None,
            ChromaFormat::Yuv400,
            10,
        )
        .unwrap();
        let mut out = vec![0u16; w * h];
        c.select(Component::Y, 32)
            .unwrap()
            .filter_plane(&pic, &mut PlaneMut::new(&mut out, w, w, h).unwrap())
            .unwrap();
        assert_eq!(out, y);
    }
}
