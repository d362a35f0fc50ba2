//! `lut-build fit`: least-squares fit of per-component, per-QP-range LUT models on the train
//! split, written as a container.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use lut_build::fit::{CrossSource, FitOptions, Weighting};
use lut_build::pipeline::{self, DEFAULT_QP_RANGES};
use lut_filter::{Component, TableLayout};

use super::{CorpusArgs, SplitArg};

/// Options of `lut-build fit`.
#[derive(Args, Debug)]
pub struct FitArgs {
    /// Output container.
    #[arg(long, default_value = "fitted.lut")]
    out: PathBuf,
    /// Clips to fit on (validation clips are for measuring only).
    #[arg(long, value_enum, default_value_t = SplitArg::Train)]
    split: SplitArg,
    /// Cascaded stages per model (fitted greedily, each on what the previous left).
    #[arg(long, default_value_t = 1)]
    stages: usize,
    /// Ridge weight.
    #[arg(long, default_value_t = FitOptions::default().lambda)]
    lambda: f64,
    /// Ridge of the level-specific part of every entry (large: tables nearly level-invariant,
    /// which keeps them from learning clip-specific level biases).
    #[arg(long, default_value_t = FitOptions::default().level_lambda)]
    level_lambda: f64,
    /// Sample every STEP-th luma row and column (chroma: half the step).
    #[arg(long, default_value_t = 4)]
    step: usize,
    /// Conjugate-gradient iterations per stage.
    #[arg(long, default_value_t = FitOptions::default().iterations)]
    iterations: usize,
    /// Tables: DFC-compact (dw 3, si 5) or regular 17^4.
    #[arg(long, default_value = "dfc")]
    layout: String,
    /// Cross-component inputs of the chroma models, fitted jointly with their own-plane
    /// tables: `luma` (node l1 reads the luma plane at each chroma sample's luma anchor,
    /// patterns s, d, y, 4 rotations) and/or `chroma` (node o1 reads the other chroma plane);
    /// `none` for chroma models that read their own plane only.
    #[arg(long, value_delimiter = ',', default_value = "luma,chroma")]
    cross: Vec<String>,
    /// Patterns of every spatial stage, 1 to 3 (comma-separated): s, d, y (DESIGN §2), l (a
    /// line of 4 taps) and x (a diagonal line of 4 taps); l and x need format 1.3 readers.
    /// The luma models of the default use s,l,x (docs/fit.md, "Patterns").
    #[arg(long, value_delimiter = ',', default_value = "s,d,y")]
    patterns: Vec<String>,
    /// Components to fit (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "y,u,v")]
    components: Vec<Component>,
    /// Slice-QP ranges `lo-hi` to fit (comma-separated) [default: the six default ranges].
    #[arg(long, value_delimiter = ',')]
    qp_ranges: Vec<String>,
    /// Pictures to fit on, and that the models are meant for: `all`, `intra` (I slices: all
    /// intra streams and the random-access I pictures) or `inter` (P/B slices). Intra and inter
    /// containers combine with `lut-build merge --add`; the runtime then selects by slice type.
    #[arg(long, value_enum, default_value_t = PicturesArg::All)]
    pictures: PicturesArg,
    /// How pictures weigh against each other: `samples` (plain MSE: every sampled position
    /// counts the same, so poor and large pictures dominate), `picture` (each picture's squared
    /// errors divided by its unfiltered SSE: to first order the sum of the pictures' PSNR
    /// gains, what BD-rate averages) or `area` (divided by its unfiltered MSE).
    #[arg(long, value_enum, default_value_t = WeightingArg::Samples)]
    weighting: WeightingArg,
    /// Chroma models reading luma and the other chroma plane: add a channel node `c1` over
    /// (l1.0, in.u, in.v) that scales the luma node's correction by a gain depending on the
    /// local colour (docs/fit.md, "Colour gain").
    #[arg(long)]
    colour_gain: bool,
    /// One chroma model per QP range for U and V alike, fitted on the samples of both planes
    /// (U reading V as its other plane, and V reading U): twice the training samples of a
    /// per-component fit, in the same fit time (docs/fit.md, "Shared chroma models").
    #[arg(long)]
    shared_chroma: bool,
    #[command(flatten)]
    corpus: CorpusArgs,
}

/// Runs the command.
pub fn run(args: FitArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let layout = match args.layout.as_str() {
        "dfc" => TableLayout::Dfc {
            dims: 4,
            dw: 3,
            si: 5,
        },
        "regular" => TableLayout::Regular,
        other => anyhow::bail!("--layout '{other}': expected dfc or regular"),
    };
    let mut cross = Vec::new();
    for name in &args.cross {
        let source = match name.trim() {
            "luma" => CrossSource::Luma,
            "chroma" => CrossSource::OtherChroma,
            "none" => continue,
            other => anyhow::bail!("--cross '{other}': expected luma, chroma or none"),
        };
        if !cross.contains(&source) {
            cross.push(source);
        }
    }
    anyhow::ensure!(
        !args.colour_gain
            || (cross.contains(&CrossSource::Luma) && cross.contains(&CrossSource::OtherChroma)),
        "--colour-gain reads the luma node and both chroma planes: it needs --cross luma,chroma"
    );
    let ranges: Vec<[i32; 2]> = if args.qp_ranges.is_empty() {
        DEFAULT_QP_RANGES.to_vec()
    } else {
        args.qp_ranges
            .iter()
            .map(|s| super::finetune::parse_range(s))
            .collect::<anyhow::Result<_>>()?
    };
    let patterns = args
        .patterns
        .iter()
        .map(|p| {
            lut_filter::Pattern::from_name(p.trim())
                .ok_or_else(|| anyhow::anyhow!("--patterns '{p}': expected s, d, y, l or x"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let opts = FitOptions {
        cross,
        patterns,
        layout,
        stages: args.stages,
        lambda: args.lambda,
        level_lambda: args.level_lambda,
        step: args.step.max(1),
        iterations: args.iterations,
        pictures: args.pictures.into(),
        weighting: args.weighting.into(),
        colour_gain: args.colour_gain,
        shared_chroma: args.shared_chroma,
        ..FitOptions::default()
    };
    let train = args
        .corpus
        .load(args.split)
        .context("loading the training pairs")?;
    let pictures: usize = train.iter().map(|e| e.frames.len()).sum();
    eprintln!(
        "{} bitstreams, {pictures} pictures loaded in {:.1} s",
        train.len(),
        start.elapsed().as_secs_f64()
    );
    let models = args.components.len() * ranges.len();
    let bar = ProgressBar::new((models * opts.stages * opts.iterations) as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} CG iterations {msg}",
        )
        .expect("valid template"),
    );
    let (writer, summaries) = pipeline::fit_models(
        &train,
        &args.components,
        &ranges,
        &opts,
        &|model, stage, _| {
            bar.set_message(format!("{model} stage {}", stage + 1));
            bar.inc(1);
        },
    )?;
    bar.finish_and_clear();
    writer
        .write(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let log = serde_json::json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "options": format!("{opts:?}"),
        "pictures": pictures,
        "wall_time_s": start.elapsed().as_secs_f64(),
        "models": summaries,
    });
    let log_path = args.out.with_extension("fit.json");
    lut_filter::io::write_atomic(&log_path, serde_json::to_string_pretty(&log)?.as_bytes())?;
    for s in &summaries {
        let gains: Vec<String> = s
            .train_mse
            .iter()
            .map(|(b, a)| format!("{:+.3} dB", 10.0 * (b / a).log10()))
            .collect();
        eprintln!(
            "{:<14} {:>5} pictures  train MSE gain per stage {}  scale {}",
            s.model,
            s.pictures,
            gains.join(", "),
            s.scale
        );
    }
    eprintln!(
        "wrote {} ({} bytes) and {} in {:.1} s",
        args.out.display(),
        std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0),
        log_path.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `--weighting` of `lut-build fit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WeightingArg {
    /// Every sampled position weighs the same.
    Samples,
    /// Every picture's PSNR gain weighs the same.
    Picture,
    /// PSNR gains weighted by picture area.
    Area,
}

impl From<WeightingArg> for Weighting {
    fn from(w: WeightingArg) -> Self {
        match w {
            WeightingArg::Samples => Weighting::Samples,
            WeightingArg::Picture => Weighting::Picture,
            WeightingArg::Area => Weighting::Area,
        }
    }
}

/// `--pictures` of `lut-build fit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PicturesArg {
    /// Every picture.
    All,
    /// Intra pictures (I slices).
    Intra,
    /// Inter pictures (P and B slices).
    Inter,
}

impl From<PicturesArg> for lut_filter::Pictures {
    fn from(p: PicturesArg) -> Self {
        match p {
            PicturesArg::All => lut_filter::Pictures::All,
            PicturesArg::Intra => lut_filter::Pictures::Intra,
            PicturesArg::Inter => lut_filter::Pictures::Inter,
        }
    }
}
