//! The colour-gain channel node of a cross-component chroma model (`--colour-gain`).
//!
//! A chroma model's luma node `l1` predicts a correction from the luma around each chroma sample,
//! the same for every colour. How a luma edge shows in chroma depends on the colours on either
//! side of it, which a sum of per-plane look-ups cannot express. The channel node `c1` reads
//! `(l1.0, in.u, in.v)` and holds `T[f][u][v] = (16 f - 127) / 16 * G[u][v]`: trilinear
//! interpolation of a table linear in the feature axis is exact, so `c1` adds
//! `(l1 feature - 127) / 16 * G(U, V)`, the luma node's correction scaled by a gain that depends
//! on the local colour (bilinear over 17 x 17 colour nodes). Where `l1` predicts nothing (feature
//! 127) `c1` adds nothing, so it cannot learn colour biases of the training clips.
//!
//! `G` is linear in the output, so it is fitted by (ridge) least squares on what the model's
//! spatial nodes left, exactly like them; the 289 unknowns make a small dense system.

use lut_filter::interp::trilinear;
use lut_filter::tables::{NODES, normalise_fraction};
use rayon::prelude::*;

use super::PlanePair;

/// Colour nodes per axis and unknowns of `G`.
const SIDE: usize = NODES;
const UNKNOWNS: usize = SIDE * SIDE;

/// The fitted node: its table (`17^3` rows of `outputs` values) and what it explains.
pub(super) struct ColourGain {
    /// Outputs per row (the gain is split over several outputs when one int8 is too small).
    pub outputs: usize,
    /// Row-major `[f][u][v][output]`.
    pub table: Vec<i8>,
}

/// The picture's U and V planes for a pair of `component` U (`own_is_u`) or V.
pub(super) fn uv<'a>(pair: &PlanePair<'a>, own_is_u: bool) -> (&'a [u16], &'a [u16]) {
    let other = pair
        .cross
        .other_chroma
        .expect("colour gain needs the other chroma plane");
    if own_is_u {
        (pair.recon, other)
    } else {
        (other, pair.recon)
    }
}

/// Bilinear colour weights (out of 65536) of (u, v) at `fb` fraction bits: `[(node, weight)]`.
fn colour_weights(u: u16, v: u16, fb: u32) -> [(usize, f64); 4] {
    let mask = (1u32 << fb) - 1;
    let (nu, nv) = ((u32::from(u) >> fb) as usize, (u32::from(v) >> fb) as usize);
    let fu = f64::from(normalise_fraction(u32::from(u) & mask, fb));
    let fv = f64::from(normalise_fraction(u32::from(v) & mask, fb));
    let (wu, wv) = ([256.0 - fu, fu], [256.0 - fv, fv]);
    let at = |bu: usize, bv: usize| {
        let (a, b) = ((nu + bu).min(SIDE - 1), (nv + bv).min(SIDE - 1));
        (a * SIDE + b, wu[bu] * wv[bv] / 65536.0)
    };
    [at(0, 0), at(0, 1), at(1, 0), at(1, 1)]
}

/// Fits `G` (codes per unit of `(feature - 127) / 16`) on `remaining` and quantises the node
/// with the model's residual scale `c` (codes per table unit).
#[allow(clippy::too_many_arguments)]
pub(super) fn fit(
    pairs: &[PlanePair<'_>],
    own_is_u: bool,
    l1: &[Vec<u8>],
    remaining: &[Vec<f64>],
    weights: &[f64],
    work: &[Vec<(usize, usize)>],
    step: usize,
    fb: u32,
    lambda: f64,
    c: f64,
) -> ColourGain {
    // Normal equations, per chunk in a fixed order.
    let parts: Vec<(Vec<f64>, Vec<f64>, [u8; 2])> = work
        .par_iter()
        .map(|chunk| {
            let mut ata = vec![0.0; UNKNOWNS * UNKNOWNS];
            let mut atb = vec![0.0; UNKNOWNS];
            let mut range = [u8::MAX, 0];
            for &(p, y) in chunk {
                let pair = &pairs[p];
                let (us, vs) = uv(pair, own_is_u);
                for x in (0..pair.width).step_by(step) {
                    let i = y * pair.width + x;
                    let f = l1[p][i];
                    range = [range[0].min(f), range[1].max(f)];
                    let d = (f64::from(f) - 127.0) / 16.0;
                    if d == 0.0 {
                        continue;
                    }
                    let cw = colour_weights(us[i], vs[i], fb);
                    let w = weights[p];
                    for &(j, a) in &cw {
                        atb[j] += w * a * d * remaining[p][i];
                        for &(k, b) in &cw {
                            ata[j * UNKNOWNS + k] += w * a * b * d * d;
                        }
                    }
                }
            }
            (ata, atb, range)
        })
        .collect();
    let mut ata = vec![0.0; UNKNOWNS * UNKNOWNS];
    let mut atb = vec![0.0; UNKNOWNS];
    let mut range = [u8::MAX, 0];
    for (a, b, r) in parts {
        ata.iter_mut().zip(a).for_each(|(o, v)| *o += v);
        atb.iter_mut().zip(b).for_each(|(o, v)| *o += v);
        range = [range[0].min(r[0]), range[1].max(r[1])];
    }
    for j in 0..UNKNOWNS {
        ata[j * UNKNOWNS + j] += lambda;
    }
    let g = solve_spd(&mut ata, atb, UNKNOWNS);

    // Table values (table units) at every feature node; the nodes the training features reach
    // decide how many outputs keep them within int8.
    let value = |nf: usize, j: usize| (16.0 * nf as f64 - 127.0) / 16.0 * g[j] / c;
    let (lo, hi) = (
        usize::from(range[0] >> 4),
        (usize::from(range[1] >> 4) + 1).min(SIDE - 1),
    );
    let peak = (lo..=hi)
        .flat_map(|nf| (0..UNKNOWNS).map(move |j| (nf, j)))
        .map(|(nf, j)| value(nf, j).abs())
        .fold(0.0, f64::max);
    let outputs = ((peak / 127.0).ceil() as usize).clamp(1, 8);
    let mut table = Vec::with_capacity(SIDE * UNKNOWNS * outputs);
    for nf in 0..SIDE {
        for j in 0..UNKNOWNS {
            let q = (value(nf, j) / outputs as f64).round().clamp(-127.0, 127.0) as i8;
            table.extend(std::iter::repeat_n(q, outputs));
        }
    }
    ColourGain { outputs, table }
}

impl ColourGain {
    /// The node's raw output for luma feature `f` and colour (u, v) at `fb` fraction bits, in
    /// units of 1/256 table value, as the runtime computes it.
    pub(super) fn raw(&self, f: u8, u: u16, v: u16, fb: u32) -> i64 {
        let mut acc = [0i32; 8];
        trilinear(
            &self.table,
            self.outputs,
            [u32::from(f), u32::from(u), u32::from(v)],
            [4, fb, fb],
            &mut acc,
        );
        acc[..self.outputs].iter().map(|&a| i64::from(a)).sum()
    }
}

/// Solves the symmetric positive definite system `a x = b` (`a` is overwritten) by Cholesky.
fn solve_spd(a: &mut [f64], mut b: Vec<f64>, n: usize) -> Vec<f64> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        let d = d.max(1e-12).sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * n + k] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= a[k * n + i] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves() {
        // A = M M^T + I for a fixed M; x known.
        let n = 5;
        let m: Vec<f64> = (0..n * n).map(|i| ((i * 7 % 11) as f64) - 5.0).collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| m[i * n + k] * m[j * n + k]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        let x: Vec<f64> = (0..n).map(|i| i as f64 - 2.0).collect();
        let b: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| a[i * n + j] * x[j]).sum())
            .collect();
        let got = solve_spd(&mut a.clone(), b, n);
        for (g, e) in got.iter().zip(&x) {
            assert!((g - e).abs() < 1e-9, "{got:?}");
        }
    }

    #[test]
    fn colour_weights_sum_to_one() {
        for (u, v) in [(0u16, 0u16), (512, 300), (1023, 1023), (100, 1000)] {
            let s: f64 = colour_weights(u, v, 6).iter().map(|w| w.1).sum();
            assert!((s - 1.0).abs() < 1e-12);
        }
    }
}
