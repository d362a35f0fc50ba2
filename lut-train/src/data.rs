//! Training data: (reconstruction, original) picture pairs from the corpus (or synthetic ones
//! for tests and timing), seen through one of the 8 flips / quarter turns, and crops of them.
//!
//! Every random choice comes from a generator the caller seeds, so a batch is a function of
//! (seed, step) alone: that is what makes `--resume` continue a run identically.

use std::path::Path;
use std::sync::Arc;

use lut_build::corpus::{self, Cache, Config, Corpus, Picture10, Selection, Split};
use lut_filter::description::{Component, Grid};
use rand::Rng;
use rand::SeedableRng;
use rayon::prelude::*;

use crate::TrainError;
use crate::graph::{GridSizes, Rect};

/// One training picture: a reconstruction and its original (10-bit 4:2:0).
#[derive(Clone, Debug)]
pub struct Frame {
    /// The decoded reconstruction.
    pub recon: Picture10,
    /// The original.
    pub orig: Arc<Picture10>,
    /// Its slice QP.
    pub slice_qp: i32,
    /// Where it came from (`<clip> <config> qp<nominal> #<index>`).
    pub label: String,
}

/// A frame seen through a dihedral transform: bit 2 transposes, bit 0 flips rows, bit 1 flips
/// columns (applied after the transpose, on source coordinates). Luma and chroma are
/// transformed alike, which keeps their 2:1 alignment for even picture sizes.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    /// The frame.
    pub frame: &'a Frame,
    /// Transform, 0..8 (0 = identity).
    pub transform: u8,
}

impl<'a> View<'a> {
    /// The untransformed frame.
    pub fn identity(frame: &'a Frame) -> Self {
        View {
            frame,
            transform: 0,
        }
    }

    fn transposed(&self) -> bool {
        self.transform & 4 != 0
    }

    /// Grid sizes in view coordinates.
    pub fn sizes(&self) -> GridSizes {
        let p = &self.frame.recon;
        if self.transposed() {
            GridSizes::yuv420(p.width, p.height)
        } else {
            GridSizes::yuv420(p.height, p.width)
        }
    }

    /// Source (row, column) of view position `(y, x)` on `grid` (inside the grid).
    #[inline]
    pub fn source(&self, grid: Grid, y: usize, x: usize) -> (usize, usize) {
        let pic = &self.frame.recon;
        let (w, h) = match grid {
            Grid::Luma => (pic.width, pic.height),
            Grid::Chroma => (pic.chroma_width(), pic.chroma_height()),
        };
        let (mut a, mut b) = if self.transposed() { (x, y) } else { (y, x) };
        if self.transform & 1 != 0 {
            a = h - 1 - a;
        }
        if self.transform & 2 != 0 {
            b = w - 1 - b;
        }
        (a, b)
    }

    #[inline]
    fn sample(&self, pic: &Picture10, c: Component, y: usize, x: usize) -> u16 {
        let (a, b) = self.source(c.grid(), y, x);
        let w = match c.grid() {
            Grid::Luma => pic.width,
            Grid::Chroma => pic.chroma_width(),
        };
        pic.plane(c.index())[a * w + b]
    }

    /// Reconstruction sample.
    #[inline]
    pub fn recon(&self, c: Component, y: usize, x: usize) -> u16 {
        self.sample(&self.frame.recon, c, y, x)
    }

    /// Original sample.
    #[inline]
    pub fn orig(&self, c: Component, y: usize, x: usize) -> u16 {
        self.sample(&self.frame.orig, c, y, x)
    }
}

/// A crop: the positions of `interior` (on the target component's grid of `view`) are filtered
/// and scored; whatever they read around them comes from the whole view.
#[derive(Clone, Copy, Debug)]
pub struct Crop<'a> {
    /// The picture.
    pub view: View<'a>,
    /// The scored positions.
    pub interior: Rect,
}

/// Frames plus a sampler of random crops (frames drawn in proportion to their area).
#[derive(Clone, Debug)]
pub struct FrameSet {
    /// The frames.
    pub frames: Vec<Frame>,
    cumulative: Vec<u64>,
}

impl FrameSet {
    /// A set of frames.
    pub fn new(frames: Vec<Frame>) -> Self {
        let mut acc = 0u64;
        let cumulative = frames
            .iter()
            .map(|f| {
                acc += (f.recon.width * f.recon.height) as u64;
                acc
            })
            .collect();
        FrameSet { frames, cumulative }
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Luma samples in all frames.
    pub fn samples(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// `count` random crops of `size` x `size` on the grid of `component` (smaller where a
    /// picture is smaller), each from a random frame (by area) under a random transform when
    /// `augment`.
    pub fn random_crops(
        &self,
        rng: &mut impl Rng,
        count: usize,
        size: usize,
        component: Component,
        augment: bool,
    ) -> Vec<Crop<'_>> {
        let total = self.samples();
        (0..count)
            .map(|_| {
                let t = rng.gen_range(0..total.max(1));
                let i = self.cumulative.partition_point(|&c| c <= t);
                let frame = &self.frames[i.min(self.frames.len() - 1)];
                let transform = if augment { rng.gen_range(0..8u8) } else { 0 };
                let view = View { frame, transform };
                let interior = random_rect(rng, view.sizes().rect(component.grid()), size);
                Crop { view, interior }
            })
            .collect()
    }
}

/// A random `size` x `size` rectangle inside `grid` (clipped to the grid's size).
fn random_rect(rng: &mut impl Rng, grid: Rect, size: usize) -> Rect {
    let (h, w) = (grid.height(), grid.width());
    let (ch, cw) = (size.min(h), size.min(w));
    let y0 = rng.gen_range(0..=h - ch) as i64;
    let x0 = rng.gen_range(0..=w - cw) as i64;
    Rect {
        y0,
        y1: y0 + ch as i64,
        x0,
        x1: x0 + cw as i64,
    }
}

/// Deterministic validation crops: `count` crops of `size` from `frames` (no transform), drawn
/// with a fixed generator so that runs with different seeds are scored on the same crops.
pub fn validation_crops(
    frames: &FrameSet,
    count: usize,
    size: usize,
    component: Component,
) -> Vec<Crop<'_>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x0005_eed0_f7a1);
    frames.random_crops(&mut rng, count, size, component, false)
}

/// Which pictures to load from the corpus.
#[derive(Clone, Debug)]
pub struct CorpusQuery {
    /// Train or val clips.
    pub split: Split,
    /// AI, RA or both (`None`).
    pub config: Option<Config>,
    /// Inclusive slice-QP range.
    pub qp_range: [i32; 2],
    /// Keep at most one picture in `stride` of each bitstream (1 = all).
    pub stride: usize,
}

/// Loads the (reconstruction, original) pairs of the corpus in `data_dir` whose slice QP lies
/// in the range (reconstructions from `cache`, decoded there when missing).
pub fn load_frames(
    data_dir: &Path,
    cache: &Cache,
    query: &CorpusQuery,
    progress: bool,
) -> Result<Vec<Frame>, TrainError> {
    let corpus = Corpus::open(data_dir)?;
    let [lo, hi] = query.qp_range;
    let sel = Selection::new(Some(query.split), query.config, &[]);
    let encodes: Vec<_> = corpus
        .select(&sel)
        .into_iter()
        .filter(|e| e.slice_qp_range.0 <= hi && e.slice_qp_range.1 >= lo)
        .collect();
    let originals = corpus.read_originals(encodes.iter().map(|e| e.name.as_str()))?;
    let bar = corpus::progress_bar(encodes.len(), progress, "pairs");
    let per_encode: Vec<Vec<Frame>> = encodes
        .par_iter()
        .map(|e| {
            let (pairs, _) = corpus.pair(e, &originals[&e.name], cache, 1)?;
            bar.inc(1);
            Ok(pairs
                .frames
                .into_iter()
                .filter(|f| (lo..=hi).contains(&f.slice_qp))
                .enumerate()
                .filter(|(i, _)| i % query.stride.max(1) == 0)
                .map(|(_, f)| Frame {
                    label: format!("{} #{}", e.label(), f.index),
                    recon: f.reconstruction,
                    orig: f.original,
                    slice_qp: f.slice_qp,
                })
                .collect())
        })
        .collect::<Result<_, corpus::CorpusError>>()?;
    bar.finish_and_clear();
    Ok(per_encode.into_iter().flatten().collect())
}

/// Synthetic frames for tests and timing: smooth gradients, edges and texture as the
/// original; the reconstruction adds a level offset, blocky quantisation and deterministic
/// noise (something a filter can learn to undo). Deterministic in `seed`.
pub fn synthetic_frames(count: usize, width: usize, height: usize, seed: u64) -> Vec<Frame> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let mut orig = Picture10::zeroed(width, height);
            let mut recon = Picture10::zeroed(width, height);
            for c in 0..3 {
                let (w, h) = orig.plane_size(c);
                let fx: f64 = rng.gen_range(0.01..0.2);
                let fy: f64 = rng.gen_range(0.01..0.2);
                let base: f64 = rng.gen_range(200.0..800.0);
                let amp: f64 = rng.gen_range(50.0..200.0);
                let edge = rng.gen_range(0..w.max(1));
                let o: Vec<u16> = (0..h * w)
                    .map(|p| {
                        let (y, x) = ((p / w) as f64, (p % w) as f64);
                        let e = if (p % w) > edge { 120.0 } else { 0.0 };
                        let t = ((x * 1.7 + y * 0.9).sin() * 12.0).round();
                        (base + amp * (x * fx).sin() * (y * fy).cos() + e + t).clamp(0.0, 1023.0)
                            as u16
                    })
                    .collect();
                let r: Vec<u16> = o
                    .iter()
                    .map(|&v| {
                        let q = (i32::from(v) + 16) / 32 * 32 + 6;
                        let n: i32 = rng.gen_range(-3..=3);
                        (q + n).clamp(0, 1023) as u16
                    })
                    .collect();
                *orig.plane_mut(c) = o;
                *recon.plane_mut(c) = r;
            }
            Frame {
                recon,
                orig: Arc::new(orig),
                slice_qp: 37,
                label: format!("synthetic #{i}"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_are_the_eight_symmetries_and_keep_chroma_aligned() {
        let f = &synthetic_frames(1, 8, 6, 1)[0];
        let mut seen = std::collections::HashSet::new();
        for t in 0..8u8 {
            let v = View {
                frame: f,
                transform: t,
            };
            let s = v.sizes();
            let (h, w) = s.luma;
            let img: Vec<u16> = (0..h * w)
                .map(|p| v.recon(Component::Y, p / w, p % w))
                .collect();
            seen.insert(img);
            // A chroma sample sits on the 2x2 luma block of the same source position.
            for cy in 0..s.chroma.0 {
                for cx in 0..s.chroma.1 {
                    let (a, b) = v.source(Grid::Chroma, cy, cx);
                    for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let (la, lb) = v.source(Grid::Luma, 2 * cy + dy, 2 * cx + dx);
                        assert_eq!((la / 2, lb / 2), (a, b), "transform {t}");
                    }
                }
            }
        }
        assert_eq!(
            seen.len(),
            8,
            "all 8 transforms differ on a generic picture"
        );
    }

    #[test]
    fn crops_are_deterministic_and_inside() {
        let set = FrameSet::new(synthetic_frames(3, 40, 24, 2));
        let mut a = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut b = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let ca = set.random_crops(&mut a, 20, 16, Component::U, true);
        let cb = set.random_crops(&mut b, 20, 16, Component::U, true);
        for (x, y) in ca.iter().zip(&cb) {
            assert_eq!(x.interior, y.interior);
            assert_eq!(x.view.transform, y.view.transform);
            let g = x.view.sizes().rect(Grid::Chroma);
            assert_eq!(x.interior.intersect(&g), x.interior);
            // chroma 20x12 (or 12x20): the crop is clipped to 12 on the short side.
            assert_eq!(x.interior.len(), 16 * 12);
        }
    }
}
