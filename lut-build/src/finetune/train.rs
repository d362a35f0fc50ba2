//! The training loop: random crops, batch gradients in fixed chunks, Adam.
//!
//! Determinism: crops are drawn on the calling thread from a ChaCha8 generator seeded by
//! `seed`; the batch is cut into fixed chunks of `chunk` crops whose gradients are computed in
//! parallel (rayon) and summed in chunk order. The result is therefore identical for any number
//! of threads.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::FinetuneError;
use super::crop::{Crop, CropBox};
use super::graph::{Graph, Mode};
use crate::corpus::Picture10;

/// Settings of a fine-tuning run.
#[derive(Clone, Debug)]
pub struct FinetuneOptions {
    /// Adam steps.
    pub iterations: usize,
    /// Crops per step.
    pub batch: usize,
    /// Side of a crop's loss box, in samples of the target grid (smaller planes: the plane).
    pub crop: usize,
    /// Adam's step size (parameters are `value / 127`).
    pub learning_rate: f64,
    /// Seed of the crop sampler.
    pub seed: u64,
    /// Crops per gradient chunk (the unit of parallel work; fixes the summation order).
    pub chunk: usize,
    /// Forward mode (training uses [`Mode::Exact`]).
    pub mode: Mode,
    /// Crops of the fixed evaluation set measured before and after (0: none).
    pub eval_crops: usize,
}

impl Default for FinetuneOptions {
    fn default() -> Self {
        FinetuneOptions {
            iterations: 1000,
            batch: 32,
            crop: 48,
            learning_rate: 1e-3,
            seed: 1,
            chunk: 4,
            mode: Mode::Exact,
            eval_crops: 256,
        }
    }
}

/// One training pair: a reconstruction and its original (10-bit 4:2:0, same size).
#[derive(Clone, Copy, Debug)]
pub struct TrainFrame<'a> {
    /// The decoded picture.
    pub recon: &'a Picture10,
    /// The original.
    pub original: &'a Picture10,
}

/// What a run did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct FinetuneResult {
    /// Batch MSE (10-bit codes^2) at every step, before the step's update.
    pub losses: Vec<f64>,
    /// MSE on the fixed evaluation crops before training (unfiltered reconstruction: `base`).
    pub eval_before: f64,
    /// The same after training.
    pub eval_after: f64,
    /// MSE of the unfiltered reconstruction on the evaluation crops.
    pub eval_base: f64,
    /// Wall time of the steps, in seconds.
    pub seconds: f64,
}

impl FinetuneResult {
    /// Nanoseconds per step.
    pub fn ns_per_iteration(&self) -> f64 {
        self.seconds * 1e9 / self.losses.len().max(1) as f64
    }
}

/// A crop sampled from frame `frame`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Index into the frames.
    pub frame: usize,
    /// The loss box.
    pub bx: CropBox,
}

/// Draws `n` crop boxes: a frame uniformly, then a box position uniformly in its plane.
pub fn sample_boxes(
    rng: &mut ChaCha8Rng,
    frames: &[TrainFrame<'_>],
    plane: usize,
    n: usize,
    side: usize,
) -> Vec<Sample> {
    (0..n)
        .map(|_| {
            let frame = rng.gen_range(0..frames.len());
            let (w, h) = frames[frame].recon.plane_size(plane);
            let (bw, bh) = (side.min(w), side.min(h));
            let y = rng.gen_range(0..=h - bh);
            let x = rng.gen_range(0..=w - bw);
            Sample {
                frame,
                bx: CropBox { y, x, h: bh, w: bw },
            }
        })
        .collect()
}

fn check_frames(graph: &Graph, frames: &[TrainFrame<'_>]) -> Result<(), FinetuneError> {
    if frames.is_empty() {
        return Err(FinetuneError::NoData(graph.description().name.clone()));
    }
    for f in frames {
        if !f.recon.is_consistent()
            || !f.original.is_consistent()
            || (f.recon.width, f.recon.height) != (f.original.width, f.original.height)
        {
            return Err(FinetuneError::Data(format!(
                "a {}x{} reconstruction does not match its {}x{} original or is not 4:2:0",
                f.recon.width, f.recon.height, f.original.width, f.original.height
            )));
        }
    }
    Ok(())
}

/// Sum of squared errors, samples and (optionally) the gradient over `samples`, in fixed chunks.
fn batch(
    graph: &Graph,
    values: &[f64],
    frames: &[TrainFrame<'_>],
    samples: &[Sample],
    chunk: usize,
    mode: Mode,
    want_grad: bool,
) -> (f64, usize, Option<Vec<f64>>) {
    let component = graph.description().component;
    let (margin, reads) = (graph.margin(), graph.reads());
    let parts: Vec<(f64, usize, Vec<f64>)> = samples
        .par_chunks(chunk.max(1))
        .map(|c| {
            let mut g = if want_grad {
                vec![0.0; graph.parameters()]
            } else {
                Vec::new()
            };
            let (mut sse, mut count) = (0.0, 0usize);
            for s in c {
                let f = &frames[s.frame];
                let crop = Crop::new(f.recon, f.original, component, s.bx, margin, reads);
                let o = graph.run(values, &crop, mode, want_grad.then_some(&mut g[..]));
                sse += o.sse;
                count += o.count;
            }
            (sse, count, g)
        })
        .collect();
    let mut sse = 0.0;
    let mut count = 0;
    let mut grad = want_grad.then(|| vec![0.0; graph.parameters()]);
    for (s, c, g) in parts {
        sse += s;
        count += c;
        if let Some(grad) = grad.as_mut() {
            for (a, b) in grad.iter_mut().zip(g) {
                *a += b;
            }
        }
    }
    (sse, count, grad)
}

/// Mean squared error of the model with parameters `params` over `samples` (exact forward).
pub fn evaluate(
    graph: &Graph,
    params: &[f64],
    frames: &[TrainFrame<'_>],
    samples: &[Sample],
) -> f64 {
    let values = graph.values(params, Mode::Exact);
    let (sse, count, _) = batch(graph, &values, frames, samples, 4, Mode::Exact, false);
    sse / count.max(1) as f64
}

/// Mean squared error of the unfiltered reconstruction over `samples`.
pub fn baseline(frames: &[TrainFrame<'_>], plane: usize, samples: &[Sample]) -> f64 {
    let (mut sse, mut n) = (0.0, 0usize);
    for s in samples {
        let f = &frames[s.frame];
        let (w, _) = f.recon.plane_size(plane);
        let (r, o) = (f.recon.plane(plane), f.original.plane(plane));
        for y in s.bx.y..s.bx.y + s.bx.h {
            for x in s.bx.x..s.bx.x + s.bx.w {
                let d = f64::from(r[y * w + x]) - f64::from(o[y * w + x]);
                sse += d * d;
                n += 1;
            }
        }
    }
    sse / n.max(1) as f64
}

/// Fine-tunes `params` (`value / 127` per table entry, [`Graph::blocks`] layout) on `frames`.
/// `progress(step, batch_mse)` is called after every step. Parameters are kept in [-1, 1]
/// (projected after each step), where the straight-through clamp passes gradients.
pub fn finetune(
    graph: &Graph,
    params: &mut [f64],
    frames: &[TrainFrame<'_>],
    opts: &FinetuneOptions,
    progress: &(dyn Fn(usize, f64) + Sync),
) -> Result<FinetuneResult, FinetuneError> {
    check_frames(graph, frames)?;
    if params.len() != graph.parameters() {
        return Err(FinetuneError::Model {
            model: graph.description().name.clone(),
            what: format!(
                "{} parameters given, the model has {}",
                params.len(),
                graph.parameters()
            ),
        });
    }
    if opts.batch == 0 || opts.crop == 0 {
        return Err(FinetuneError::Data(
            "batch and crop must be positive".into(),
        ));
    }
    let plane = graph.description().component.index();
    let mut eval_rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x5eed_e7a1);
    let eval_set = sample_boxes(&mut eval_rng, frames, plane, opts.eval_crops, opts.crop);
    let mut result = FinetuneResult::default();
    if !eval_set.is_empty() {
        result.eval_base = baseline(frames, plane, &eval_set);
        result.eval_before = evaluate(graph, params, frames, &eval_set);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut adam = super::adam::Adam::new(params.len(), opts.learning_rate);
    let start = std::time::Instant::now();
    for it in 0..opts.iterations {
        let samples = sample_boxes(&mut rng, frames, plane, opts.batch, opts.crop);
        let values = graph.values(params, opts.mode);
        let (sse, count, grad) = batch(
            graph, &values, frames, &samples, opts.chunk, opts.mode, true,
        );
        let mut grad = grad.expect("gradient requested");
        let inv = 1.0 / count.max(1) as f64;
        for g in &mut grad {
            *g *= inv;
        }
        let grad = graph.parameter_gradient(params, &grad);
        adam.step(params, &grad);
        for p in params.iter_mut() {
            *p = p.clamp(-1.0, 1.0);
        }
        let loss = sse * inv;
        result.losses.push(loss);
        progress(it, loss);
    }
    result.seconds = start.elapsed().as_secs_f64();
    if !eval_set.is_empty() {
        result.eval_after = evaluate(graph, params, frames, &eval_set);
    }
    Ok(result)
}
