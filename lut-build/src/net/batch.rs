//! Fast batched evaluation of a unit's MLP ([`UnitWeights`]).
//!
//! Rows are processed in panels of [`PANEL`] rows held feature-major (`[feature][row]`), so
//! that the innermost loop runs over the rows of a panel and vectorises; each layer's outputs are
//! computed [`OUT_BLOCK`] at a time so that every weight loaded is used for a whole panel and a
//! panel's accumulators stay in registers.
//!
//! The per-row arithmetic is *exactly* that of [`UnitWeights::forward`]: each output starts at
//! its bias and adds `w[o][i] * x[i]` for `i = 0, 1, ...` in order, in `f32`, with no fused
//! multiply-add. Results are therefore bit-identical to the plain definition, independent of the
//! batch size, of a row's position in the batch and of the thread count.

use super::file::UnitWeights;

/// Rows per panel.
pub const PANEL: usize = 8;
/// Layer outputs computed together.
pub const OUT_BLOCK: usize = 4;

/// Evaluates `inputs.len() / spec.inputs` rows (row-major, `spec.inputs` values per row) into
/// `out` (row-major, `spec.outputs` values per row); same result as [`UnitWeights::forward`].
///
/// # Panics
/// If `out` is shorter than `rows * spec.outputs`.
pub fn forward_batch(unit: &UnitWeights, inputs: &[f32], out: &mut [f32]) {
    let n_in = unit.spec.inputs;
    let n_out = unit.spec.outputs;
    let rows = inputs.len() / n_in.max(1);
    assert!(out.len() >= rows * n_out, "output buffer too short");
    let width = unit
        .layers
        .iter()
        .map(|l| l.inputs.max(l.outputs))
        .max()
        .unwrap_or(0);
    let mut cur = vec![0f32; width * PANEL];
    let mut next = vec![0f32; width * PANEL];
    let last = unit.layers.len().saturating_sub(1);
    for r0 in (0..rows).step_by(PANEL) {
        let n = PANEL.min(rows - r0);
        // Transpose the panel's inputs to [feature][row]; padding rows are zero.
        for i in 0..n_in {
            for r in 0..PANEL {
                cur[i * PANEL + r] = if r < n {
                    inputs[(r0 + r) * n_in + i]
                } else {
                    0.0
                };
            }
        }
        for (li, layer) in unit.layers.iter().enumerate() {
            layer_panel(
                &layer.weight,
                &layer.bias,
                layer.inputs,
                layer.outputs,
                li < last,
                &cur,
                &mut next,
            );
            std::mem::swap(&mut cur, &mut next);
        }
        for r in 0..n {
            for o in 0..n_out {
                out[(r0 + r) * n_out + o] = cur[o * PANEL + r];
            }
        }
    }
}

/// One layer on one panel: `y[o][r] = b[o] + sum_i w[o][i] x[i][r]` (then ReLU if `relu`).
#[inline]
fn layer_panel(
    weight: &[f32],
    bias: &[f32],
    n_in: usize,
    n_out: usize,
    relu: bool,
    x: &[f32],
    y: &mut [f32],
) {
    let x = &x[..n_in * PANEL];
    let mut o = 0;
    while o + OUT_BLOCK <= n_out {
        let mut acc = [[0f32; PANEL]; OUT_BLOCK];
        for (b, a) in acc.iter_mut().enumerate() {
            *a = [bias[o + b]; PANEL];
        }
        let w: [&[f32]; OUT_BLOCK] =
            std::array::from_fn(|b| &weight[(o + b) * n_in..(o + b + 1) * n_in]);
        for (i, xi) in x.chunks_exact(PANEL).enumerate() {
            let xi: &[f32; PANEL] = xi.try_into().expect("panel-sized chunk");
            for b in 0..OUT_BLOCK {
                let wb = w[b][i];
                for r in 0..PANEL {
                    acc[b][r] += wb * xi[r];
                }
            }
        }
        for (b, a) in acc.iter().enumerate() {
            store(a, relu, &mut y[(o + b) * PANEL..(o + b + 1) * PANEL]);
        }
        o += OUT_BLOCK;
    }
    while o < n_out {
        let mut acc = [bias[o]; PANEL];
        let w = &weight[o * n_in..(o + 1) * n_in];
        for (xi, &wi) in x.chunks_exact(PANEL).zip(w) {
            for r in 0..PANEL {
                acc[r] += wi * xi[r];
            }
        }
        store(&acc, relu, &mut y[o * PANEL..(o + 1) * PANEL]);
        o += 1;
    }
}

#[inline(always)]
fn store(acc: &[f32; PANEL], relu: bool, dst: &mut [f32]) {
    for (d, &a) in dst.iter_mut().zip(acc) {
        *d = if relu { a.max(0.0) } else { a };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{Activation, Transfer, UnitSpec};
    use rand::{Rng, SeedableRng};

    fn unit(inputs: usize, outputs: usize, hidden: &[usize], seed: u64) -> UnitWeights {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let spec = UnitSpec {
            inputs,
            outputs,
            hidden: hidden.to_vec(),
            activation: Activation::Relu,
            transfer: Transfer::Tanh,
        };
        UnitWeights::random(spec, &mut rng, 1.0)
    }

    /// On random weights and inputs, every row equals the plain forward pass (bit for bit: the
    /// arithmetic order is the same), for row counts that are not multiples of the panel and
    /// widths that are not multiples of the output block.
    #[test]
    fn batch_matches_plain_forward() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for (seed, (inputs, outputs, hidden)) in [
            (4, 1, vec![64, 64, 64]),
            (3, 3, vec![7, 13]),
            (4, 2, vec![]),
            (3, 5, vec![33]),
        ]
        .into_iter()
        .enumerate()
        {
            let u = unit(inputs, outputs, &hidden, seed as u64);
            for rows in [1usize, 7, 8, 9, 100] {
                let x: Vec<f32> = (0..rows * inputs)
                    .map(|_| rng.gen_range(0.0..1.0))
                    .collect();
                let mut fast = vec![0f32; rows * outputs];
                let mut plain = vec![0f32; rows * outputs];
                forward_batch(&u, &x, &mut fast);
                u.forward(&x, &mut plain);
                let worst = fast
                    .iter()
                    .zip(&plain)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(worst < 1e-6, "{inputs}->{hidden:?}->{outputs}: {worst}");
                assert_eq!(fast, plain, "arithmetic order differs");
                assert!(plain.iter().any(|&v| v != 0.0));
            }
        }
    }
}
