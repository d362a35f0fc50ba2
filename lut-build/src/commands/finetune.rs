//! `lut-build finetune`: LUT-aware fine-tuning of a container's tables on the train split
//! (`lut_build::finetune`, docs/finetune.md).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use lut_build::finetune::{
    FinetuneOptions, ModelTables, TrainFrame, container_writer, finetune, read_container_file,
};
use lut_build::pipeline::DEFAULT_QP_RANGES;
use lut_filter::description::presets;
use lut_filter::{Component, TableLayout};

use super::{CorpusArgs, SplitArg};

/// Options of `lut-build finetune`.
#[derive(Args, Debug)]
pub struct FinetuneArgs {
    /// Container to fine-tune. Every model is written to --out; the selected ones
    /// (--components, --qp-ranges) are trained.
    #[arg(long, required_unless_present = "init_stages")]
    lut: Option<PathBuf>,
    /// Start from new models: cascades of N spatial stages (patterns s, d, y, one
    /// output each, last stage = residual) with small random tables, one per selected
    /// component and QP range.
    /// With --lut, the selected models of the container are replaced by such cascades (same
    /// names and QP ranges) and the others are kept.
    #[arg(long)]
    init_stages: Option<usize>,
    /// Table layout of --init-stages models: regular (17^4) or dfc (dw 3, si 5).
    #[arg(long, default_value = "regular")]
    init_layout: String,
    /// Largest |value| of the random initial tables (uniform in -A..=A).
    #[arg(long, default_value_t = 4)]
    init_amplitude: i8,
    /// Residual scale of --init-stages models: 10-bit codes per table unit, times 2^16.
    #[arg(long, default_value_t = 1000)]
    init_scale: i32,
    /// Output container.
    #[arg(long, default_value = "finetuned.lut")]
    out: PathBuf,
    /// Components whose models are trained (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "y,u,v")]
    components: Vec<Component>,
    /// Slice-QP ranges `lo-hi` whose models are trained (comma-separated) [default: every
    /// model's; with --init-stages the six ranges of `lut-build fit`].
    #[arg(long, value_delimiter = ',')]
    qp_ranges: Vec<String>,
    /// Adam steps per model.
    #[arg(long, default_value_t = FinetuneOptions::default().iterations)]
    iterations: usize,
    /// Adam step size (parameters are table value / 127).
    #[arg(long, default_value_t = FinetuneOptions::default().learning_rate)]
    lr: f64,
    /// Crops per step.
    #[arg(long, default_value_t = FinetuneOptions::default().batch)]
    batch: usize,
    /// Side of a crop's loss box (target-grid samples); a margin covering the receptive field
    /// is added around it.
    #[arg(long, default_value_t = FinetuneOptions::default().crop)]
    crop: usize,
    /// Crops per gradient chunk (the unit of parallel work; results do not depend on the
    /// thread count, but they do on this).
    #[arg(long, default_value_t = FinetuneOptions::default().chunk)]
    chunk: usize,
    /// Seed of the crop sampler (and of --init-stages tables).
    #[arg(long, default_value_t = FinetuneOptions::default().seed)]
    seed: u64,
    /// Fixed train crops on which the MSE is measured before and after (per model).
    #[arg(long, default_value_t = FinetuneOptions::default().eval_crops)]
    eval_crops: usize,
    /// Write every step's batch MSE here (TSV: model, step, mse).
    #[arg(long)]
    log: Option<PathBuf>,
    /// Clips to train on.
    #[arg(long, value_enum, default_value_t = SplitArg::Train)]
    split: SplitArg,
    #[command(flatten)]
    corpus: CorpusArgs,
}

pub(super) fn parse_range(s: &str) -> anyhow::Result<[i32; 2]> {
    let (a, b) = s
        .split_once('-')
        .with_context(|| format!("QP range '{s}' is not lo-hi"))?;
    Ok([a.trim().parse()?, b.trim().parse()?])
}

/// Runs the command.
pub fn run(args: FinetuneArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let ranges: Vec<[i32; 2]> = args
        .qp_ranges
        .iter()
        .map(|s| parse_range(s))
        .collect::<anyhow::Result<_>>()?;
    let layout = match args.init_layout.as_str() {
        "regular" => TableLayout::Regular,
        "dfc" => TableLayout::Dfc {
            dims: 4,
            dw: 3,
            si: 5,
        },
        other => anyhow::bail!("--init-layout '{other}': expected regular or dfc"),
    };
    let fresh = |name: &str, c: Component, qp: [i32; 2], stages: usize, n: usize| {
        let mut d = presets::cascade(name, c, qp, stages, layout, args.init_scale, 16);
        d.notes = format!(
            "{stages}-stage cascade, random tables (|v| <= {}), seed {}",
            args.init_amplitude, args.seed
        );
        let seed = args.seed ^ (n as u64).wrapping_mul(0x9e37_79b9);
        ModelTables::random(d, args.init_amplitude, seed)
    };
    if let Some(stages) = args.init_stages {
        anyhow::ensure!((1..=8).contains(&stages), "--init-stages must be 1..=8");
    }
    let mut models: Vec<ModelTables> = match (&args.lut, args.init_stages) {
        (Some(path), _) => read_container_file(path)
            .with_context(|| format!("reading the tables of {}", path.display()))?,
        (None, Some(stages)) => {
            let ranges = if ranges.is_empty() {
                DEFAULT_QP_RANGES.to_vec()
            } else {
                ranges.clone()
            };
            let mut out = Vec::new();
            for &c in &args.components {
                for &[lo, hi] in &ranges {
                    out.push(fresh(
                        &format!("{c}-qp{lo}-{hi}"),
                        c,
                        [lo, hi],
                        stages,
                        out.len(),
                    ));
                }
            }
            out
        }
        (None, None) => anyhow::bail!("give --lut or --init-stages"),
    };
    let selected: Vec<usize> = (0..models.len())
        .filter(|&i| {
            let d = &models[i].description;
            args.components.contains(&d.component)
                && (ranges.is_empty() || ranges.contains(&d.qp_range))
        })
        .collect();
    // --lut with --init-stages: the selected models are replaced by fresh cascades.
    if let (Some(_), Some(stages)) = (&args.lut, args.init_stages) {
        for &i in &selected {
            let d = &models[i].description;
            models[i] = fresh(&d.name.clone(), d.component, d.qp_range, stages, i);
        }
    }
    anyhow::ensure!(
        !selected.is_empty(),
        "no model matches --components / --qp-ranges"
    );

    let train = args
        .corpus
        .load(args.split)
        .context("loading the training pairs")?;
    let pictures: usize = train.iter().map(|e| e.frames.len()).sum();
    eprintln!(
        "{} bitstreams, {pictures} pictures loaded in {:.1} s; training {} of {} models",
        train.len(),
        start.elapsed().as_secs_f64(),
        selected.len(),
        models.len()
    );
    let opts = FinetuneOptions {
        iterations: args.iterations,
        batch: args.batch,
        crop: args.crop,
        learning_rate: args.lr,
        seed: args.seed,
        chunk: args.chunk.max(1),
        eval_crops: args.eval_crops,
        ..FinetuneOptions::default()
    };
    let log = match &args.log {
        Some(p) => {
            let f =
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
            let mut w = std::io::BufWriter::new(f);
            writeln!(w, "model\tstep\tbatch_mse")?;
            Some(Mutex::new(w))
        }
        None => None,
    };
    let bar = ProgressBar::new((selected.len() * opts.iterations) as u64).with_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    let mut summaries = Vec::new();
    for &i in &selected {
        let m = &models[i];
        let d = m.description.clone();
        let [lo, hi] = d.qp_range;
        let frames: Vec<TrainFrame<'_>> = train
            .iter()
            .flat_map(|e| &e.frames)
            .filter(|f| (lo..=hi).contains(&f.slice_qp) && d.pictures.admits(f.kind))
            .map(|f| TrainFrame {
                recon: &f.reconstruction,
                original: &f.original,
            })
            .collect();
        if frames.is_empty() {
            bar.suspend(|| eprintln!("{}: no training pictures, left unchanged", d.name));
            bar.inc(opts.iterations as u64);
            continue;
        }
        let graph = m.graph()?;
        let mut params = m.parameters(&graph)?;
        let ema = Mutex::new(None::<f64>);
        let name = d.name.clone();
        let result = finetune(&graph, &mut params, &frames, &opts, &|step, loss| {
            let mut e = ema.lock().expect("not poisoned");
            let v = e.map_or(loss, |x| 0.95 * x + 0.05 * loss);
            *e = Some(v);
            bar.set_message(format!("{name} MSE {v:.3}"));
            bar.inc(1);
            if let Some(log) = &log {
                let _ = writeln!(log.lock().expect("not poisoned"), "{name}\t{step}\t{loss}");
            }
        })
        .with_context(|| format!("fine-tuning {}", d.name))?;
        let gain = |a: f64| 10.0 * (result.eval_base / a).log10();
        let eval = if opts.eval_crops > 0 {
            format!(
                "eval MSE {:.3} (unfiltered) {:.3} -> {:.3} ({:+.3} -> {:+.3} dB)",
                result.eval_base,
                result.eval_before,
                result.eval_after,
                gain(result.eval_before),
                gain(result.eval_after),
            )
        } else {
            String::new()
        };
        bar.suspend(|| {
            eprintln!(
                "{:<14} {:>5} pictures  {eval}  batch MSE {:.3} -> {:.3}  {:.1} ms/step",
                d.name,
                frames.len(),
                result.losses.first().copied().unwrap_or(f64::NAN),
                result.losses.last().copied().unwrap_or(f64::NAN),
                result.ns_per_iteration() / 1e6
            )
        });
        let model = &mut models[i];
        model.set_parameters(&graph, &params);
        let note = format!(
            "fine-tuned (lut-build finetune): {} steps, batch {}, crop {}, lr {}, seed {}, {} train pictures",
            opts.iterations,
            opts.batch,
            opts.crop,
            opts.learning_rate,
            opts.seed,
            frames.len()
        );
        model.description.notes = if model.description.notes.is_empty() {
            note
        } else {
            format!("{}; {note}", model.description.notes)
        };
        summaries.push(serde_json::json!({
            "model": d.name,
            "pictures": frames.len(),
            "parameters": graph.parameters(),
            "eval_mse_unfiltered": result.eval_base,
            "eval_mse_before": result.eval_before,
            "eval_mse_after": result.eval_after,
            "ns_per_iteration": result.ns_per_iteration(),
            "first_batch_mse": result.losses.first(),
            "last_batch_mse": result.losses.last(),
        }));
    }
    bar.finish_and_clear();
    if let Some(log) = log {
        log.into_inner()
            .expect("not poisoned")
            .flush()
            .context("writing the log")?;
    }
    container_writer(&models)?
        .write(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let summary = serde_json::json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "options": format!("{opts:?}"),
        "pictures": pictures,
        "threads": rayon::current_num_threads(),
        "wall_time_s": start.elapsed().as_secs_f64(),
        "models": summaries,
    });
    let summary_path = args.out.with_extension("finetune.json");
    lut_filter::io::write_atomic(
        &summary_path,
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    eprintln!(
        "wrote {} ({} bytes) and {} in {:.1} s",
        args.out.display(),
        std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0),
        summary_path.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
