//! `lut-train`: trains the restricted-receptive-field networks of the LUT in-loop filter on
//! the CPU (candle) and writes them as `lut-ilf-net` files for `lut-build`.
//!
//! Commands:
//! * `train`: one model (architecture, component, slice-QP range) on the corpus' train split,
//!   validated on fixed crops of the val split; checkpoints and `--resume`;
//! * `bench`: milliseconds per update of an architecture on synthetic pictures.
//!
//! Threads: rayon and candle both use `RAYON_NUM_THREADS` (default: all available cores).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use lut_build::corpus::{Cache, Config, Split};
use lut_build::net::Transfer;
use lut_filter::{Component, TableLayout};
use lut_train::arch::Arch;
use lut_train::data::{CorpusQuery, FrameSet, load_frames, synthetic_frames};
use lut_train::optim::Schedule;
use lut_train::train::{RunOptions, TrainConfig, bench, train};

#[derive(Parser)]
#[command(
    version,
    about = "Train LUT-ILF networks on the CPU (candle) for lut-build"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train one model on the corpus: writes OUT/checkpoint.safetensors (weights, Adam moments,
    /// step), OUT/log.jsonl (one line per update: step, loss, lr, elapsed s; validation lines;
    /// a final summary) and OUT/net.net (the network for `lut-build`).
    Train(Box<TrainArgs>),
    /// Time updates (batch layout, forward, backward, Adam) on synthetic pictures.
    Bench(BenchArgs),
}

/// The model and how it is optimised (shared by `train` and `bench`).
#[derive(Args, Debug)]
struct ModelArgs {
    /// Architecture: cascade1|cascade2|cascade3 (1-3 stages, patterns s/d/y), luma-ref (RF-1
    /// luma reference), chroma-cc (cross-component chroma).
    #[arg(long, default_value = "cascade1")]
    arch: Arch,
    /// Component filtered: y, u or v.
    #[arg(long, default_value = "y")]
    component: Component,
    /// Hidden widths of every unit's MLP (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "32,32")]
    hidden: Vec<usize>,
    /// Crops per batch.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Crop size on the component's grid (scored positions; the receptive field around them
    /// is read from the picture).
    #[arg(long, default_value_t = 48)]
    crop: usize,
    /// Seed of the initial weights and of every batch.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Args, Debug)]
struct TrainArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Inclusive slice-QP range of the training pictures (and of the model), LO-HI.
    #[arg(long, default_value = "33-37", value_parser = parse_range)]
    qp_range: [i32; 2],
    /// Updates in total.
    #[arg(long, default_value_t = 1000)]
    steps: u64,
    /// Base learning rate (Adam).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Schedule: cosine (to --lr-min-ratio), step (x0.3 at 50/75/90 %), constant.
    #[arg(long, default_value = "cosine")]
    schedule: Schedule,
    /// Final learning rate as a fraction of --lr (cosine).
    #[arg(long, default_value_t = 0.01)]
    lr_min_ratio: f64,
    /// Linear warm-up updates.
    #[arg(long, default_value_t = 50)]
    warmup: u64,
    /// Residual scale numerator: residual = S * scale / 2^scale_shift (10-bit codes, S in table
    /// units).
    #[arg(long, default_value_t = 1)]
    scale: i32,
    /// Residual scale shift [default: 4 for cascades (1/16 code per table unit), 5 for
    /// luma-ref and chroma-cc].
    #[arg(long)]
    scale_shift: Option<u8>,
    /// Unit output transfer to table values: tanh (127 tanh y) or clamp (clamp(127 y)).
    #[arg(long, value_enum, default_value_t = TransferArg::Tanh)]
    transfer: TransferArg,
    /// Initial gain of the last layer of the output units (small: start near the identity).
    #[arg(long, default_value_t = 0.1)]
    out_gain: f32,
    /// Start from a trained network instead of random weights: the first model of this
    /// `.net` file, same architecture and hidden widths (e.g. the U model to start V, or the
    /// QP 33-37 model to start QP 28-32). Chroma-cc runs from random weights can stay at the
    /// identity for hundreds of updates; a trained start skips that (lut-train/README.md).
    #[arg(long, value_name = "NET")]
    init: Option<PathBuf>,
    /// Table layout written into the description (lut-build's default when building tables):
    /// dfc (dims 4, dw 3, si 5) or regular.
    #[arg(long, default_value = "dfc")]
    layout: String,
    /// Model name in the description [default: <component>-qp<LO>-<HI>].
    #[arg(long)]
    name: Option<String>,
    /// Turn off random flips and quarter turns.
    #[arg(long)]
    no_augment: bool,
    /// Validate every N updates (and at the end; 0: only at the end).
    #[arg(long, default_value_t = 100)]
    val_every: u64,
    /// Fixed validation crops from the val split (0: no validation).
    #[arg(long, default_value_t = 16)]
    val_crops: usize,
    /// Validation crop size.
    #[arg(long, default_value_t = 128)]
    val_crop: usize,
    /// Write a checkpoint (and net.net) every N updates (and at the end).
    #[arg(long, default_value_t = 100)]
    checkpoint_every: u64,
    /// Output folder.
    #[arg(long, default_value = "train-out")]
    out: PathBuf,
    /// Continue from OUT/checkpoint.safetensors (same options; --steps may grow).
    #[arg(long)]
    resume: bool,
    /// Stop after this many updates in total (checkpoint written), as if interrupted.
    #[arg(long)]
    stop_at: Option<u64>,
    /// The corpus folder.
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    /// Reconstruction cache [default: $LUT_CACHE, else target/lut-cache].
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Coding configurations: ai, ra or all.
    #[arg(long, value_enum, default_value_t = ConfigArg::All)]
    config: ConfigArg,
    /// Keep one picture in N of each bitstream (less memory, faster loading).
    #[arg(long, default_value_t = 1)]
    picture_stride: usize,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Timed updates (after one warm-up update).
    #[arg(long, default_value_t = 10)]
    steps: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TransferArg {
    /// 127 tanh(y).
    Tanh,
    /// clamp(127 y, -127, 127).
    Clamp,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ConfigArg {
    /// All intra.
    Ai,
    /// Random access.
    Ra,
    /// Both.
    All,
}

fn parse_range(s: &str) -> Result<[i32; 2], String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("'{s}': expected LO-HI, e.g. 33-37"))?;
    let p = |x: &str| {
        x.trim()
            .parse::<i32>()
            .map_err(|_| format!("'{s}': '{x}' is not a QP"))
    };
    let (a, b) = (p(a)?, p(b)?);
    if a > b || !(0..=63).contains(&a) || !(0..=63).contains(&b) {
        return Err(format!("'{s}': need 0 <= LO <= HI <= 63"));
    }
    Ok([a, b])
}

fn base_config(m: &ModelArgs, qp_range: [i32; 2]) -> TrainConfig {
    let mut c = TrainConfig::new(m.arch, m.component, qp_range);
    c.hidden.clone_from(&m.hidden);
    c.batch = m.batch;
    c.crop = m.crop;
    c.seed = m.seed;
    c
}

fn run_train(a: TrainArgs) -> anyhow::Result<()> {
    let mut c = base_config(&a.model, a.qp_range);
    c.steps = a.steps;
    c.lr = a.lr;
    c.schedule = a.schedule;
    c.lr_min_ratio = a.lr_min_ratio;
    c.warmup = a.warmup;
    c.scale = a.scale;
    c.scale_shift = a.scale_shift.unwrap_or(a.model.arch.default_scale_shift());
    c.transfer = match a.transfer {
        TransferArg::Tanh => Transfer::Tanh,
        TransferArg::Clamp => Transfer::Clamp,
    };
    c.out_gain = a.out_gain;
    c.init.clone_from(&a.init);
    c.layout = match a.layout.as_str() {
        "dfc" => TableLayout::Dfc {
            dims: 4,
            dw: 3,
            si: 5,
        },
        "regular" => TableLayout::Regular,
        o => anyhow::bail!("--layout '{o}': expected dfc or regular"),
    };
    if let Some(n) = &a.name {
        c.name.clone_from(n);
    }
    c.augment = !a.no_augment;
    c.val_every = a.val_every;
    c.val_crops = a.val_crops;
    c.val_crop = a.val_crop;
    c.checkpoint_every = a.checkpoint_every;
    c.check()?;
    c.graph().context("building the model")?;

    let t = Instant::now();
    let cache = a.cache.clone().map_or_else(Cache::from_env, Cache::new);
    let config = match a.config {
        ConfigArg::Ai => Some(Config::Ai),
        ConfigArg::Ra => Some(Config::Ra),
        ConfigArg::All => None,
    };
    let query = |split| CorpusQuery {
        split,
        config,
        qp_range: a.qp_range,
        stride: a.picture_stride,
    };
    let train_frames = load_frames(&a.data, &cache, &query(Split::Train), !a.quiet)
        .with_context(|| format!("loading train pictures from {}", a.data.display()))?;
    anyhow::ensure!(
        !train_frames.is_empty(),
        "no train picture has a slice QP in {}-{}",
        a.qp_range[0],
        a.qp_range[1]
    );
    let val_frames = if a.val_crops > 0 {
        load_frames(&a.data, &cache, &query(Split::Val), !a.quiet)
            .context("loading validation pictures")?
    } else {
        Vec::new()
    };
    let (train_set, val_set) = (FrameSet::new(train_frames), FrameSet::new(val_frames));
    let note = format!(
        "train split, config {:?}, slice QP {}-{}, {} pictures ({:.1} M luma samples), picture stride {}",
        a.config,
        a.qp_range[0],
        a.qp_range[1],
        train_set.len(),
        train_set.samples() as f64 / 1e6,
        a.picture_stride
    );
    eprintln!(
        "{note}; {} val pictures; loaded in {:.1} s",
        val_set.len(),
        t.elapsed().as_secs_f64()
    );
    let run = RunOptions {
        out: a.out.clone(),
        resume: a.resume,
        stop_at: a.stop_at,
        progress: !a.quiet,
        data_note: note,
    };
    let s = train(&c, &train_set, Some(&val_set), &run)
        .with_context(|| format!("training into {}", a.out.display()))?;
    eprintln!(
        "{} updates: loss {:.3} -> {:.3} (mean of first/last 50 of this session; last 50: {:+.3} dB \
         vs unfiltered), {:.1} ms/update",
        s.steps, s.first_loss, s.final_loss, s.final_train_gain_db, s.ms_per_step
    );
    if let Some(v) = s.validation {
        eprintln!(
            "validation: MSE {:.3} -> {:.3}, delta-PSNR {:+.3} dB",
            v.mse_before, v.mse_after, v.delta_psnr_db
        );
    }
    eprintln!("wrote {}", a.out.join("net.net").display());
    Ok(())
}

fn run_bench(a: BenchArgs) -> anyhow::Result<()> {
    let c = base_config(&a.model, [0, 63]);
    let frames = FrameSet::new(synthetic_frames(8, 256, 256, 7));
    let t = bench(&c, &frames, a.steps)?;
    let net = lut_train::model::Network::random(
        c.graph()?,
        &c.hidden,
        Transfer::Tanh,
        0.1,
        1,
        &candle_core::Device::Cpu,
    )?;
    println!(
        "{} {} hidden {:?} batch {} crop {}: {:.1} ms/update ({:.2} updates/s): batch {:.1}, forward {:.1}, backward {:.1}, adam {:.1} ms; {} parameters, {} threads",
        c.arch,
        c.component,
        c.hidden,
        c.batch,
        c.crop,
        t.total_ms(),
        1e3 / t.total_ms(),
        t.batch_ms,
        t.forward_ms,
        t.backward_ms,
        t.update_ms,
        net.parameters(),
        rayon::current_num_threads()
    );
    Ok(())
}

/// candle asks for its thread count at every matrix product, and without `RAYON_NUM_THREADS`
/// it reads `/proc/cpuinfo` each time (a fifth of the run time here). Setting the variable
/// needs `unsafe` in this edition, so the binary runs itself again with it set.
fn ensure_thread_variable() -> anyhow::Result<Option<i32>> {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return Ok(None);
    }
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    let status = std::process::Command::new(std::env::current_exe()?)
        .args(std::env::args_os().skip(1))
        .env("RAYON_NUM_THREADS", n.to_string())
        .status()
        .context("running lut-train with RAYON_NUM_THREADS set")?;
    Ok(Some(status.code().unwrap_or(1)))
}

fn main() -> anyhow::Result<()> {
    if let Some(code) = ensure_thread_variable()? {
        std::process::exit(code);
    }
    match Cli::parse().command {
        Command::Train(a) => run_train(*a),
        Command::Bench(a) => run_bench(a),
    }
}
