//! The network evaluated directly on a picture: the graph of `lut_filter::reference` with every
//! table look-up replaced by the unit itself.
//!
//! Everything but the look-ups is the runtime's: maps, clamped reads (replicate padding),
//! rotated taps, `chroma_from_luma` anchors, the requantisation of node outputs into 8-bit
//! features `clamp(round(sum / terms) + 127, 0, 255)` (half up), the residual
//! `round(S * scale * 2^(B-10) / 2^scale_shift)` (half up) and the final clip. A look-up becomes
//! the unit evaluated at the *continuous* tap values (a codec sample `x` enters as `x / 2^B`, an
//! 8-bit feature `f` as `f / 256`) followed by the unit's transfer, unrounded; sums are `f64`.
//! This is what the tables approximate: the LUT-vs-network gap measures the transfer's loss
//! (table quantisation, grid interpolation, compaction).
//!
//! Evaluation is batched: for every node, the taps of a block of [`BLOCK`] output positions
//! (all rotations) are gathered and evaluated in one call per pattern; blocks run in parallel
//! with rayon. Every position's sum is accumulated in a fixed order (patterns, then rotations),
//! so the result does not depend on the number of threads.

use lut_filter::description::{Grid, Sampling};
use lut_filter::{Component, ModelDescription, Node, Picture, Sample};
use rayon::prelude::*;

use super::{NetError, UnitEvaluator};

/// Output positions per batch (per pattern, one evaluation of `BLOCK * rotations` rows).
pub const BLOCK: usize = 1024;

/// Errors of the direct evaluation.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// A unit could not be evaluated.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The description is invalid.
    #[error(transparent)]
    Description(#[from] lut_filter::Error),
    /// The picture does not fit the model.
    #[error("{0}")]
    Picture(String),
}

/// A pattern's taps at rotations 0..4.
type RotatedTaps = [[(i32, i32); 4]; 4];

/// A map on its grid: integer values and the factor that normalises them to unit inputs.
struct Map {
    width: usize,
    height: usize,
    /// `1 / 2^B` for codec planes, `1 / 256` for features.
    norm: f32,
    data: Vec<i32>,
}

impl Map {
    /// Normalised value at (y, x), coordinates clamped into the map.
    #[inline]
    fn at(&self, y: i64, x: i64) -> f32 {
        let y = y.clamp(0, self.height as i64 - 1) as usize;
        let x = x.clamp(0, self.width as i64 - 1) as usize;
        self.data[y * self.width + x] as f32 * self.norm
    }
}

/// A node's output: raw sums (table units, `[position][output]`) on a grid.
struct NodeOut {
    width: usize,
    outputs: usize,
    sums: Vec<f64>,
}

/// The feature of a raw sum: `clamp(round(sum / terms) + 127, 0, 255)`, half up.
#[inline]
pub fn requantise(sum: f64, terms: u32) -> i32 {
    ((sum / f64::from(terms) + 0.5).floor() + 127.0).clamp(0.0, 255.0) as i32
}

/// The residual of output sum `s` (table units), half up, as `lut_filter::reference::residual`.
#[inline]
pub fn residual(s: f64, scale: i32, scale_shift: u8, bit_depth: u8) -> i64 {
    let v = s * f64::from(scale) * 2f64.powi(i32::from(bit_depth) - 10 - i32::from(scale_shift));
    (v + 0.5).floor() as i64
}

/// Filters the plane of `model`'s component of `pic` with the network `eval` (unit names
/// `<model>/<node>/<pattern>` and `<model>/<node>`, see [`super::unit_slots`]); returns the
/// filtered samples, row-major, plane width x height (as `lut_filter::reference::filter_plane`).
pub fn forward_plane<T: Sample>(
    eval: &dyn UnitEvaluator,
    model: &ModelDescription,
    pic: &Picture<'_, T>,
) -> Result<Vec<i32>, ForwardError> {
    lut_filter::plan::check_description(model)?;
    let b = pic.bit_depth;
    if !(8..=12).contains(&b) {
        return Err(ForwardError::Picture(format!(
            "bit depth {b} (8..=12 supported)"
        )));
    }
    let max = (1i32 << b) - 1;
    let (sy, sx) = pic.chroma_format.subsampling().unwrap_or((1, 1));
    let plane_map = |c: Component| -> Result<Map, ForwardError> {
        let p = pic.plane(c).ok_or_else(|| {
            ForwardError::Picture(format!(
                "model '{}' reads the {c} plane, which is absent",
                model.name
            ))
        })?;
        let mut data = Vec::with_capacity(p.width() * p.height());
        for y in 0..p.height() {
            data.extend(p.row(y).iter().map(|s| s.to_i32().clamp(0, max)));
        }
        Ok(Map {
            width: p.width(),
            height: p.height(),
            norm: 1.0 / (1u32 << b) as f32,
            data,
        })
    };
    let grid_size = |g: Grid| -> Result<(usize, usize), ForwardError> {
        let c = if g == Grid::Luma {
            Component::Y
        } else {
            Component::U
        };
        let p = pic
            .plane(c)
            .ok_or_else(|| ForwardError::Picture(format!("the picture has no {c} plane")))?;
        Ok((p.width(), p.height()))
    };
    let mut inputs: [Option<Map>; 3] = [None, None, None];
    let mut outs: Vec<NodeOut> = Vec::new();
    let mut features: Vec<Vec<Map>> = Vec::new();
    let mut names: Vec<&str> = Vec::new();

    for node in &model.nodes {
        // Make sure the input planes this node reads are loaded.
        let refs: Vec<&str> = match node {
            Node::Spatial(s) => vec![s.input.as_str()],
            Node::Channel(c) => c.inputs.iter().map(String::as_str).collect(),
        };
        for r in &refs {
            if let Some(c) = r.strip_prefix("in.") {
                let c: Component = c.parse().map_err(ForwardError::Picture)?;
                if inputs[c.index()].is_none() {
                    inputs[c.index()] = Some(plane_map(c)?);
                }
            }
        }
        let get = |r: &str| -> &Map { resolve(r, &inputs, &names, &features) };
        let k = usize::from(node.outputs());
        let out = match node {
            Node::Spatial(s) => {
                let m = get(&s.input);
                let phases = match &s.sampling {
                    Sampling::Same => None,
                    Sampling::ChromaFromLuma { phases } => Some(*phases),
                };
                let (w, h) = match phases {
                    None => (m.width, m.height),
                    Some(_) => grid_size(Grid::Chroma)?,
                };
                let rot = usize::from(s.rotations);
                let units: Vec<(String, RotatedTaps)> = s
                    .patterns
                    .iter()
                    .map(|p| {
                        (
                            format!("{}/{}/{}", model.name, s.name, p.name()),
                            std::array::from_fn(|r| p.rotated_taps(r)),
                        )
                    })
                    .collect();
                let transfers = units
                    .iter()
                    .map(|(u, _)| eval.transfer(u))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut sums = vec![0f64; w * h * k];
                sums.par_chunks_mut(BLOCK * k).enumerate().try_for_each(
                    |(blk, acc)| -> Result<(), NetError> {
                        let first = blk * BLOCK;
                        let n = acc.len() / k;
                        let mut x = Vec::with_capacity(n * rot * 4);
                        let mut y = vec![0f32; n * rot * k];
                        for ((unit, taps), transfer) in units.iter().zip(&transfers) {
                            x.clear();
                            for (r, taps) in taps.iter().enumerate().take(rot) {
                                for i in first..first + n {
                                    let (py, px) = (i / w, i % w);
                                    let (ay, ax) = match phases {
                                        None => (py as i64, px as i64),
                                        Some(ph) => (
                                            (py * sy + usize::from(ph[r][0]) * (sy - 1)) as i64,
                                            (px * sx + usize::from(ph[r][1]) * (sx - 1)) as i64,
                                        ),
                                    };
                                    for &(di, dj) in taps {
                                        x.push(m.at(ay + i64::from(di), ax + i64::from(dj)));
                                    }
                                }
                            }
                            eval.eval(unit, &x, &mut y)?;
                            check_finite(unit, &y)?;
                            for r in 0..rot {
                                let ys = &y[r * n * k..(r + 1) * n * k];
                                for (a, &v) in acc.iter_mut().zip(ys) {
                                    *a += f64::from(transfer.apply(v));
                                }
                            }
                        }
                        Ok(())
                    },
                )?;
                NodeOut {
                    width: w,
                    outputs: k,
                    sums,
                }
            }
            Node::Channel(c) => {
                let maps = [get(&c.inputs[0]), get(&c.inputs[1]), get(&c.inputs[2])];
                let (w, h) = (maps[0].width, maps[0].height);
                let unit = format!("{}/{}", model.name, c.name);
                let transfer = eval.transfer(&unit)?;
                let mut sums = vec![0f64; w * h * k];
                sums.par_chunks_mut(BLOCK * k).enumerate().try_for_each(
                    |(blk, acc)| -> Result<(), NetError> {
                        let first = blk * BLOCK;
                        let n = acc.len() / k;
                        let mut x = Vec::with_capacity(n * 3);
                        for i in first..first + n {
                            let (py, px) = ((i / w) as i64, (i % w) as i64);
                            x.extend(maps.iter().map(|m| m.at(py, px)));
                        }
                        let mut y = vec![0f32; n * k];
                        eval.eval(&unit, &x, &mut y)?;
                        check_finite(&unit, &y)?;
                        for (a, &v) in acc.iter_mut().zip(&y) {
                            *a += f64::from(transfer.apply(v));
                        }
                        Ok(())
                    },
                )?;
                NodeOut {
                    width: w,
                    outputs: k,
                    sums,
                }
            }
        };
        let terms = node.terms();
        let h = out.sums.len() / (k * out.width);
        features.push(
            (0..k)
                .map(|j| Map {
                    width: out.width,
                    height: h,
                    norm: 1.0 / 256.0,
                    data: out
                        .sums
                        .iter()
                        .skip(j)
                        .step_by(k)
                        .map(|&s| requantise(s, terms))
                        .collect(),
                })
                .collect(),
        );
        outs.push(out);
        names.push(node.name());
    }

    let target = match inputs[model.component.index()].take() {
        Some(m) => m,
        None => plane_map(model.component)?,
    };
    let term_refs: Vec<(usize, usize)> = model
        .output
        .terms
        .iter()
        .map(|t| node_ref(t, &names))
        .collect();
    for &(n, _) in &term_refs {
        if outs[n].width != target.width {
            return Err(ForwardError::Picture(format!(
                "output term of node '{}' is not on the {} grid",
                names[n], model.component
            )));
        }
    }
    let out = &model.output;
    Ok(target
        .data
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let s: f64 = term_refs
                .iter()
                .map(|&(n, j)| outs[n].sums[i * outs[n].outputs + j])
                .sum();
            let r = residual(s, out.scale, out.scale_shift, b);
            (i64::from(x) + r).clamp(0, i64::from(max)) as i32
        })
        .collect())
}

/// Refuses NaN outputs (they would silently become zero after the requantisation).
fn check_finite(unit: &str, y: &[f32]) -> Result<(), NetError> {
    if y.iter().any(|v| v.is_nan()) {
        return Err(NetError::Unit {
            unit: unit.to_string(),
            what: "output is NaN".into(),
        });
    }
    Ok(())
}

/// `<node>.<k>` as (node index, output), for a description that passed `check_description`.
fn node_ref(r: &str, names: &[&str]) -> (usize, usize) {
    let (head, k) = r.rsplit_once('.').expect("checked description");
    let n = names
        .iter()
        .position(|&x| x == head)
        .expect("checked description");
    (n, k.parse().expect("checked description"))
}

fn resolve<'a>(
    r: &str,
    inputs: &'a [Option<Map>; 3],
    names: &[&str],
    features: &'a [Vec<Map>],
) -> &'a Map {
    match r.strip_prefix("in.") {
        Some(c) => {
            let c: Component = c.parse().expect("checked description");
            inputs[c.index()].as_ref().expect("loaded before the node")
        }
        None => {
            let (n, k) = node_ref(r, names);
            &features[n][k]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requantisation_and_residual_round_half_up_like_the_runtime() {
        use lut_filter::reference;
        for sum in [
            -1000i64, -640, -32, -1, 0, 1, 31, 32, 33, 640, 1000, 100_000,
        ] {
            let s = sum as f64 / 256.0;
            assert_eq!(requantise(s, 12), reference::requantise(sum, 12), "{sum}");
            assert_eq!(requantise(s, 1), reference::requantise(sum, 1), "{sum}");
            for b in [8, 10, 12] {
                assert_eq!(
                    residual(s, 3, 2, b),
                    reference::residual(sum, 3, 2, b),
                    "{sum} at {b} bit"
                );
            }
        }
    }
}
