//! The training loop: batches of random crops, Adam, a learning-rate schedule, a JSONL log,
//! periodic validation (delta-PSNR against the unfiltered reconstruction on fixed crops),
//! checkpoints and resume. Also the per-phase timing used by `lut-train bench`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use indicatif::{ProgressBar, ProgressStyle};
use lut_build::net::Transfer;
use lut_filter::description::{Component, TableLayout};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::TrainError;
use crate::arch::Arch;
use crate::batch::Batch;
use crate::checkpoint;
use crate::data::{FrameSet, validation_crops};
use crate::graph::Graph;
use crate::model::{Network, error_sums};
use crate::optim::{Adam, Schedule};

/// Everything that defines a run (stored in checkpoints; a resumed run must match it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Architecture.
    pub arch: Arch,
    /// Component filtered.
    pub component: Component,
    /// Inclusive slice-QP range (training pictures, and the model's range).
    pub qp_range: [i32; 2],
    /// Model name in the description (tensor prefix).
    pub name: String,
    /// Hidden widths of every unit.
    pub hidden: Vec<usize>,
    /// Unit output transfer.
    pub transfer: Transfer,
    /// Total updates.
    pub steps: u64,
    /// Crops per batch.
    pub batch: usize,
    /// Crop size (scored positions, target grid).
    pub crop: usize,
    /// Base learning rate.
    pub lr: f64,
    /// Final / base learning rate (cosine).
    pub lr_min_ratio: f64,
    /// Linear warm-up updates.
    pub warmup: u64,
    /// Schedule.
    pub schedule: Schedule,
    /// Residual scale numerator (10-bit codes per table unit, times 2^scale_shift).
    pub scale: i32,
    /// Residual scale shift.
    pub scale_shift: u8,
    /// Seed of the initial weights and of every batch.
    pub seed: u64,
    /// Initial gain of the last layer of output units.
    pub out_gain: f32,
    /// Table layout written into the description (what `lut-build` builds by default).
    pub layout: TableLayout,
    /// Random flips and quarter turns.
    pub augment: bool,
    /// Validate every this many updates (0: only at the end).
    pub val_every: u64,
    /// Validation crops.
    pub val_crops: usize,
    /// Validation crop size.
    pub val_crop: usize,
    /// Checkpoint every this many updates (0: only at the end).
    pub checkpoint_every: u64,
    /// Start from this network file's first model (same architecture and unit shapes, e.g.
    /// another component or QP range) instead of random weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<std::path::PathBuf>,
}

/// Fields that may change when a run is resumed (they do not affect the weights).
const RESUMABLE_CHANGES: [&str; 5] = [
    "steps",
    "val_every",
    "val_crops",
    "val_crop",
    "checkpoint_every",
];

impl TrainConfig {
    /// Defaults for `arch` (hidden 32,32, batch 16, crop 48, lr 1e-3 cosine to 1 %, scale
    /// 1/2^shift with the architecture's default shift).
    pub fn new(arch: Arch, component: Component, qp_range: [i32; 2]) -> Self {
        TrainConfig {
            arch,
            component,
            qp_range,
            name: format!("{component}-qp{}-{}", qp_range[0], qp_range[1]),
            hidden: vec![32, 32],
            transfer: Transfer::Tanh,
            steps: 1000,
            batch: 16,
            crop: 48,
            lr: 1e-3,
            lr_min_ratio: 0.01,
            warmup: 50,
            schedule: Schedule::Cosine,
            scale: 1,
            scale_shift: arch.default_scale_shift(),
            seed: 1,
            out_gain: 0.1,
            layout: TableLayout::Dfc {
                dims: 4,
                dw: 3,
                si: 5,
            },
            augment: true,
            val_every: 100,
            val_crops: 16,
            val_crop: 128,
            checkpoint_every: 100,
            init: None,
        }
    }

    /// The resolved model description.
    pub fn graph(&self) -> Result<Graph, TrainError> {
        let d = self.arch.description(
            &self.name,
            self.component,
            self.qp_range,
            self.layout,
            self.scale,
            self.scale_shift,
        )?;
        Graph::new(&d)
    }

    /// Checks the options.
    pub fn check(&self) -> Result<(), TrainError> {
        let bad = |s: &str| Err(TrainError::Options(s.into()));
        if self.batch == 0 || self.crop == 0 {
            return bad("--batch and --crop must be positive");
        }
        if self.hidden.contains(&0) {
            return bad("--hidden widths must be positive");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("--lr must be positive");
        }
        if self.scale_shift > 24 {
            return bad("--scale-shift must be at most 24");
        }
        if self.qp_range[0] > self.qp_range[1] {
            return bad("--qp-range LO-HI needs LO <= HI");
        }
        Ok(())
    }

    fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether a checkpoint written under `other` can continue under `self`.
    fn compatible(&self, other: &str) -> Result<(), String> {
        let strip = |s: &str| -> Result<serde_json::Value, String> {
            let mut v: serde_json::Value = serde_json::from_str(s).map_err(|e| e.to_string())?;
            if let Some(o) = v.as_object_mut() {
                for k in RESUMABLE_CHANGES {
                    o.remove(k);
                }
            }
            Ok(v)
        };
        let (a, b) = (strip(&self.json())?, strip(other)?);
        if a == b {
            return Ok(());
        }
        let (a, b) = (a.as_object().cloned(), b.as_object().cloned());
        let diff: Vec<String> = a
            .iter()
            .flatten()
            .filter(|(k, v)| b.as_ref().and_then(|b| b.get(*k)) != Some(v))
            .map(|(k, v)| format!("{k}: now {v}"))
            .collect();
        Err(format!(
            "the run's options differ from the checkpoint's ({})",
            diff.join(", ")
        ))
    }
}

/// How to run (not part of the run's identity).
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Output folder: checkpoint.safetensors, log.jsonl, net.net.
    pub out: PathBuf,
    /// Continue from `out/checkpoint.safetensors`.
    pub resume: bool,
    /// Stop (with a checkpoint) after this many updates, as if interrupted.
    pub stop_at: Option<u64>,
    /// Draw a progress bar.
    pub progress: bool,
    /// What the data is (written into the network's notes and the log).
    pub data_note: String,
}

/// Validation figures.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Validation {
    /// MSE of the unfiltered reconstruction (codes^2).
    pub mse_before: f64,
    /// MSE after filtering.
    pub mse_after: f64,
    /// `10 log10(before / after)`.
    pub delta_psnr_db: f64,
}

/// What a run did.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Updates done in total.
    pub steps: u64,
    /// Mean loss over the last (up to) 50 updates of this session.
    pub final_loss: f64,
    /// Mean loss over the first (up to) 50 updates of this session.
    pub first_loss: f64,
    /// `10 log10(unfiltered / loss)` over the last (up to) 50 updates of this session.
    pub final_train_gain_db: f64,
    /// Last validation, if any.
    pub validation: Option<Validation>,
    /// Training time in total (s), resumed sessions included.
    pub elapsed_s: f64,
    /// Milliseconds per update in this session.
    pub ms_per_step: f64,
    /// Trainable parameters.
    pub parameters: usize,
}

/// Time per phase of one update (ms).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct StepTiming {
    /// Drawing crops and laying out the batch.
    pub batch_ms: f64,
    /// Forward pass.
    pub forward_ms: f64,
    /// Backward pass.
    pub backward_ms: f64,
    /// Adam update.
    pub update_ms: f64,
    /// The loss.
    pub loss: f64,
    /// MSE of the unfiltered reconstruction on the same batch (the loss of the identity).
    pub loss_unfiltered: f64,
    /// Global gradient norm.
    pub grad_norm: f64,
}

impl StepTiming {
    /// Total milliseconds.
    pub fn total_ms(&self) -> f64 {
        self.batch_ms + self.forward_ms + self.backward_ms + self.update_ms
    }
}

/// The generator of update `step`'s crops.
pub fn step_rng(seed: u64, step: u64) -> rand_chacha::ChaCha8Rng {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(step.wrapping_add(1));
    rng
}

/// One update (0-based `step`) on crops from `train`.
pub fn train_step(
    config: &TrainConfig,
    net: &Network,
    adam: &mut Adam,
    train: &FrameSet,
    step: u64,
) -> Result<StepTiming, TrainError> {
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let mut rng = step_rng(config.seed, step);
    let crops = train.random_crops(
        &mut rng,
        config.batch,
        config.crop,
        config.component,
        config.augment,
    );
    let batch = Batch::new(&net.graph, &crops, &Device::Cpu)?;
    let before = (&batch.recon - &batch.orig)?.sqr()?.mean_all()?;
    let loss_unfiltered = f64::from(before.to_scalar::<f32>()?);
    let batch_ms = ms(t);
    let t = Instant::now();
    let f = net.forward(&batch, false)?;
    let loss = f64::from(f.loss.to_scalar::<f32>()?);
    let forward_ms = ms(t);
    let t = Instant::now();
    let grads = f.loss.backward()?;
    let backward_ms = ms(t);
    let t = Instant::now();
    let lr = config.schedule.lr(
        step,
        config.steps,
        config.lr,
        config.warmup,
        config.lr_min_ratio,
    );
    let grad_norm = adam.update(&net.vars(), &grads, lr)?;
    Ok(StepTiming {
        batch_ms,
        forward_ms,
        backward_ms,
        update_ms: ms(t),
        loss,
        loss_unfiltered,
        grad_norm,
    })
}

/// Scores the network on fixed crops (batched by 4).
pub fn validate(net: &Network, batches: &[Batch]) -> Result<Validation, TrainError> {
    let (mut before, mut after) = (0f64, 0f64);
    let mut n = 0usize;
    for b in batches {
        let f = net.forward(b, true)?;
        let (x, y, k) = error_sums(b, &f)?;
        before += x;
        after += y;
        n += k;
    }
    let n = n.max(1) as f64;
    let (mse_before, mse_after) = (before / n, after / n);
    Ok(Validation {
        mse_before,
        mse_after,
        delta_psnr_db: 10.0 * (mse_before / mse_after.max(1e-12)).log10(),
    })
}

/// A JSONL log file.
struct Log {
    file: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
}

impl Log {
    /// Opens the log; when resuming from `step`, keeps only the lines of updates up to it.
    fn open(path: &Path, resume_step: Option<u64>) -> Result<Log, TrainError> {
        let io = |e| TrainError::io(path, e);
        let mut kept = Vec::new();
        if let (Some(s), Ok(f)) = (resume_step, std::fs::File::open(path)) {
            for line in std::io::BufReader::new(f).lines() {
                let line = line.map_err(io)?;
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                let keep = match v.get("step").and_then(|x| x.as_u64()) {
                    Some(k) => k <= s && v.get("summary").is_none(),
                    None => v.get("event").is_some(),
                };
                if keep {
                    kept.push(line);
                }
            }
        }
        let file = std::fs::File::create(path).map_err(io)?;
        let mut log = Log {
            file: std::io::BufWriter::new(file),
            path: path.to_owned(),
        };
        for l in kept {
            writeln!(log.file, "{l}").map_err(io)?;
        }
        Ok(log)
    }

    fn write(&mut self, v: serde_json::Value) -> Result<(), TrainError> {
        let io = |e| TrainError::io(&self.path, e);
        writeln!(self.file, "{v}").map_err(io)?;
        self.file.flush().map_err(io)
    }
}

fn bar(total: u64, start: u64, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(total).with_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta}) {msg}",
        )
        .expect("valid template"),
    );
    b.set_position(start);
    b
}

/// Trains (or resumes) a network; writes `out/checkpoint.safetensors`, `out/log.jsonl` and
/// `out/net.net`. `val` gives the validation frames (none: no validation).
pub fn train(
    config: &TrainConfig,
    train: &FrameSet,
    val: Option<&FrameSet>,
    run: &RunOptions,
) -> Result<Summary, TrainError> {
    config.check()?;
    if train.is_empty() {
        return Err(TrainError::Options("no training picture".into()));
    }
    std::fs::create_dir_all(&run.out).map_err(|e| TrainError::io(&run.out, e))?;
    let ckpt_path = run.out.join("checkpoint.safetensors");
    let net_path = run.out.join("net.net");
    let device = Device::Cpu;
    let graph = config.graph()?;
    let net = match &config.init {
        Some(path) => Network::from_other_model(
            graph,
            &lut_build::net::NetFile::read(path)?,
            &config.hidden,
            config.transfer,
            &device,
        )?,
        None => Network::random(
            graph,
            &config.hidden,
            config.transfer,
            config.out_gain,
            config.seed,
            &device,
        )?,
    };
    let vars = net.vars();
    let mut adam = Adam::new(&vars);
    let (mut step, elapsed0) = if run.resume {
        let c = checkpoint::load(&ckpt_path)?;
        config
            .compatible(&c.config)
            .map_err(|what| TrainError::Checkpoint {
                path: ckpt_path.display().to_string(),
                what,
            })?;
        c.restore(&ckpt_path, &net, &mut adam)?;
        (c.step, c.elapsed_s)
    } else {
        (0, 0.0)
    };
    let mut log = Log::open(&run.out.join("log.jsonl"), run.resume.then_some(step))?;
    log.write(json!({
        "event": if run.resume { "resume" } else { "start" },
        "from_step": step,
        "config": config,
        "data": run.data_note,
        "train_pictures": train.len(),
        "val_pictures": val.map_or(0, FrameSet::len),
        "parameters": net.parameters(),
        "threads": rayon::current_num_threads(),
    }))?;
    let val_batches = match val {
        Some(v) if !v.is_empty() && config.val_crops > 0 => {
            let crops = validation_crops(v, config.val_crops, config.val_crop, config.component);
            crops
                .chunks(4)
                .map(|c| Batch::new(&net.graph, c, &device))
                .collect::<Result<Vec<_>, _>>()?
        }
        _ => Vec::new(),
    };
    let end = run.stop_at.map_or(config.steps, |s| s.min(config.steps));
    let pb = bar(config.steps, step, run.progress);
    let session = Instant::now();
    let start_step = step;
    let mut losses = Vec::new();
    let mut unfiltered = Vec::new();
    let mut last_val = None;
    let mut ema: Option<f64> = None;
    while step < end {
        let t = train_step(config, &net, &mut adam, train, step)?;
        step += 1;
        losses.push(t.loss);
        unfiltered.push(t.loss_unfiltered);
        let e = ema.map_or(t.loss, |e| 0.95 * e + 0.05 * t.loss);
        ema = Some(e);
        let elapsed = elapsed0 + session.elapsed().as_secs_f64();
        let lr = config.schedule.lr(
            step - 1,
            config.steps,
            config.lr,
            config.warmup,
            config.lr_min_ratio,
        );
        log.write(json!({
            "step": step, "loss": t.loss, "loss_unfiltered": t.loss_unfiltered, "lr": lr,
            "grad_norm": t.grad_norm, "elapsed_s": elapsed,
        }))?;
        let last = step == end;
        let due = |every: u64| every > 0 && step % every == 0;
        if !val_batches.is_empty() && (due(config.val_every) || last) {
            let v = validate(&net, &val_batches)?;
            log.write(json!({
                "step": step, "val_mse_before": v.mse_before, "val_mse_after": v.mse_after,
                "val_delta_psnr_db": v.delta_psnr_db,
            }))?;
            last_val = Some(v);
        }
        if due(config.checkpoint_every) || last {
            checkpoint::save(&ckpt_path, &net, &adam, step, elapsed, &config.json())?;
            write_net(&net, config, run, step, &net_path)?;
        }
        pb.set_position(step);
        pb.set_message(match last_val {
            Some(v) => format!("loss {e:.3}  val {:+.3} dB", v.delta_psnr_db),
            None => format!("loss {e:.3}"),
        });
    }
    pb.finish_and_clear();
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len().max(1) as f64;
    let k = losses.len().min(50);
    let done = step - start_step;
    let summary = Summary {
        steps: step,
        final_loss: mean(&losses[losses.len() - k..]),
        first_loss: mean(&losses[..k]),
        final_train_gain_db: 10.0
            * (mean(&unfiltered[unfiltered.len() - k..])
                / mean(&losses[losses.len() - k..]).max(1e-12))
            .log10(),
        validation: last_val,
        elapsed_s: elapsed0 + session.elapsed().as_secs_f64(),
        ms_per_step: session.elapsed().as_secs_f64() * 1e3 / done.max(1) as f64,
        parameters: net.parameters(),
    };
    if done == 0 {
        // Nothing trained in this session: still leave a network beside the checkpoint.
        write_net(&net, config, run, step, &net_path)?;
    }
    log.write(json!({ "step": step, "summary": summary }))?;
    Ok(summary)
}

/// Writes the network file with notes saying how it was trained.
fn write_net(
    net: &Network,
    config: &TrainConfig,
    run: &RunOptions,
    step: u64,
    path: &Path,
) -> Result<(), TrainError> {
    let mut file = net.to_net()?;
    if let Some(m) = file.description.models.first_mut() {
        m.notes = format!(
            "lut-train: {} hidden {:?}, {step} of {} updates, batch {} crop {}, lr {} ({:?}), seed {}; data: {}",
            config.arch,
            config.hidden,
            config.steps,
            config.batch,
            config.crop,
            config.lr,
            config.schedule,
            config.seed,
            run.data_note
        );
    }
    file.write(path)?;
    Ok(())
}

/// Times `steps` updates after one warm-up update; returns the mean per phase.
pub fn bench(
    config: &TrainConfig,
    frames: &FrameSet,
    steps: u64,
) -> Result<StepTiming, TrainError> {
    config.check()?;
    let net = Network::random(
        config.graph()?,
        &config.hidden,
        config.transfer,
        config.out_gain,
        config.seed,
        &Device::Cpu,
    )?;
    let mut adam = Adam::new(&net.vars());
    train_step(config, &net, &mut adam, frames, 0)?;
    let mut acc = StepTiming::default();
    for s in 0..steps {
        let t = train_step(config, &net, &mut adam, frames, s + 1)?;
        acc.batch_ms += t.batch_ms;
        acc.forward_ms += t.forward_ms;
        acc.backward_ms += t.backward_ms;
        acc.update_ms += t.update_ms;
        acc.loss = t.loss;
        acc.loss_unfiltered = t.loss_unfiltered;
        acc.grad_norm = t.grad_norm;
    }
    let n = steps.max(1) as f64;
    acc.batch_ms /= n;
    acc.forward_ms /= n;
    acc.backward_ms /= n;
    acc.update_ms /= n;
    Ok(acc)
}
