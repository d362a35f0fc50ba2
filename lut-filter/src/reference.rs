//! The reference implementation: whole picture, plain loops, clamped reads, no tiling, no
//! threads, its own interpolation code. It *defines* what the engine must produce; tests compare
//! the engine against it bit for bit. Slow on purpose: clarity over speed.
//!
//! Arithmetic (all integer):
//! * a map value `v` with `fb` fraction bits (codec planes: `B - 4`; features: 4) has grid node
//!   `v >> fb` and fraction `v & (2^fb - 1)`, normalised to 8 bits;
//! * a 4-simplex look-up returns `sum_i w_i * T[vertex_i]` with weights summing to 256, i.e. the
//!   interpolated table value in units of 1/256; trilinear look-ups round their 2^24-scaled sum
//!   to the same units (`(s + 2^15) >> 16`);
//! * a node output is the sum of its look-ups; as a feature it becomes
//!   `clamp(round(sum / (256 * terms)) + 127, 0, 255)`, rounding half up;
//! * the residual is `round(S * scale * 2^(B-10) / 2^(scale_shift + 8))`, half up, with `S` the
//!   sum of the output terms; the sample becomes `clip(x + residual, 0, 2^B - 1)`.

use crate::Error;
use crate::container::Model;
use crate::description::{Component, Grid};
use crate::picture::{Picture, Sample};
use crate::plan::{MapId, PlanKind, TableLoc};
use crate::tables::{DfcGeometry, NODES, normalise_fraction, regular_row};

/// A whole map on its grid.
struct Map {
    width: usize,
    height: usize,
    frac_bits: u32,
    data: Vec<i32>,
}

impl Map {
    /// Value at (y, x) with coordinates clamped into the map (replicate padding).
    fn at(&self, y: i64, x: i64) -> i32 {
        let y = y.clamp(0, self.height as i64 - 1) as usize;
        let x = x.clamp(0, self.width as i64 - 1) as usize;
        self.data[y * self.width + x]
    }
}

/// Rounds `a / d` half up (`d > 0`).
pub fn round_div(a: i64, d: i64) -> i64 {
    (a + d / 2).div_euclid(d)
}

/// The requantisation of a node output into an 8-bit feature.
pub fn requantise(sum: i64, terms: u32) -> i32 {
    (round_div(sum, 256 * i64::from(terms)) + 127).clamp(0, 255) as i32
}

/// The residual at bit depth `bit_depth` for output sum `s`.
pub fn residual(s: i64, scale: i32, scale_shift: u8, bit_depth: u8) -> i64 {
    let mut num = s * i64::from(scale);
    let mut shift = u32::from(scale_shift) + 8;
    if bit_depth >= 10 {
        num <<= bit_depth - 10;
    } else {
        shift += u32::from(10 - bit_depth);
    }
    round_div(num, 1i64 << shift)
}

/// Filters the whole plane of the model's component; returns the filtered samples (row-major,
/// plane width x height).
pub fn filter_plane<T: Sample>(model: &Model<'_>, pic: &Picture<'_, T>) -> Result<Vec<i32>, Error> {
    let plan = model.plan();
    let bytes = model.container.bytes();
    let b = pic.bit_depth;
    let max = (1i32 << b) - 1;
    let component = plan.desc.component;
    crate::engine::check_model_picture(model, pic)?;
    let (sy, sx) = pic.chroma_format.subsampling().unwrap_or((1, 1));

    let input = |c: Component| -> Map {
        let p = pic.plane(c).expect("checked above");
        let mut data = Vec::with_capacity(p.width() * p.height());
        for y in 0..p.height() {
            data.extend(p.row(y).iter().map(|s| s.to_i32().clamp(0, max)));
        }
        Map {
            width: p.width(),
            height: p.height(),
            frac_bits: u32::from(b) - 4,
            data,
        }
    };
    let inputs: Vec<Option<Map>> = Component::ALL
        .iter()
        .map(|&c| pic.plane(c).map(|_| input(c)))
        .collect();
    let grid_size = |g: Grid| {
        let c = if g == Grid::Luma {
            Component::Y
        } else {
            Component::U
        };
        let p = pic.plane(c).expect("checked above");
        (p.width(), p.height())
    };

    // raw[n][k]: sums of node n's output k; feature[n][k]: its requantised map.
    let mut raw: Vec<Vec<Vec<i64>>> = Vec::new();
    let mut feature: Vec<Vec<Map>> = Vec::new();
    for node in &plan.nodes {
        let (w, h) = grid_size(node.grid);
        let get = |id: MapId| -> &Map {
            match id {
                MapId::Input(c) => inputs[c.index()].as_ref().expect("checked above"),
                MapId::Node(n, k) => &feature[n][k],
            }
        };
        let mut sums = vec![vec![0i64; w * h]; node.outputs];
        match &node.kind {
            PlanKind::Spatial {
                input,
                tables,
                rotations,
                phases,
            } => {
                let m = get(*input);
                for y in 0..h {
                    for x in 0..w {
                        for (pattern, loc) in tables {
                            for r in 0..*rotations {
                                let (ay, ax) = match phases {
                                    None => (y as i64, x as i64),
                                    Some(ph) => (
                                        (y * sy + usize::from(ph[r][0]) * (sy - 1)) as i64,
                                        (x * sx + usize::from(ph[r][1]) * (sx - 1)) as i64,
                                    ),
                                };
                                let taps = pattern.rotated_taps(r);
                                let v = taps
                                    .map(|(di, dj)| m.at(ay + i64::from(di), ax + i64::from(dj)));
                                let out = simplex(bytes, loc, node.outputs, v, m.frac_bits);
                                for (k, o) in out.iter().enumerate() {
                                    sums[k][y * w + x] += o;
                                }
                            }
                        }
                    }
                }
            }
            PlanKind::Channel { inputs: ins, table } => {
                let maps = ins.map(get);
                let t: &[i8] = bytemuck::cast_slice(&bytes[table.clone()]);
                for y in 0..h {
                    for x in 0..w {
                        let v = maps.map(|m| m.at(y as i64, x as i64));
                        let fb = maps.map(|m| m.frac_bits);
                        let out = trilinear(t, node.outputs, v, fb);
                        for (k, o) in out.iter().enumerate() {
                            sums[k][y * w + x] += o;
                        }
                    }
                }
            }
        }
        feature.push(
            sums.iter()
                .map(|s| Map {
                    width: w,
                    height: h,
                    frac_bits: 4,
                    data: s.iter().map(|&v| requantise(v, node.terms)).collect(),
                })
                .collect(),
        );
        raw.push(sums);
    }

    let target = inputs[component.index()].as_ref().expect("checked above");
    let out = &plan.desc.output;
    let mut result = Vec::with_capacity(target.data.len());
    for (i, &x) in target.data.iter().enumerate() {
        let s: i64 = plan.terms.iter().map(|&(n, k)| raw[n][k][i]).sum();
        let r = residual(s, out.scale, out.scale_shift, b);
        result.push((i64::from(x) + r).clamp(0, i64::from(max)) as i32);
    }
    Ok(result)
}

/// One 4-simplex look-up (DESIGN §2) of values `v` with `fb` fraction bits.
fn simplex(bytes: &[u8], loc: &TableLoc, k: usize, v: [i32; 4], fb: u32) -> Vec<i64> {
    let q = 1i32 << fb;
    let split = |bits: u32| -> ([usize; 4], [i64; 4]) {
        (
            v.map(|x| (x >> bits) as usize),
            v.map(|x| i64::from(normalise_fraction((x & ((1 << bits) - 1)) as u32, bits))),
        )
    };
    // (table, nodes, fractions, row function)
    type RowOf<'a> = Box<dyn Fn([usize; 4]) -> usize + 'a>;
    let (table, nodes, frac, row): (&[i8], _, _, RowOf<'_>) = match loc {
        TableLoc::Regular(range) => {
            let (n, f) = split(fb);
            (
                bytemuck::cast_slice(&bytes[range.clone()]),
                n,
                f,
                Box::new(|c: [usize; 4]| regular_row(c[0], c[1], c[2], c[3])),
            )
        }
        TableLoc::Dfc {
            geometry,
            fine,
            index,
            coarse,
        } => {
            let g: DfcGeometry = *geometry;
            let dw = g.dw as i32;
            let in_band = (1..g.dims).all(|i| {
                let d = v[i] - v[0];
                -dw * q < d && d <= dw * q
            });
            if in_band {
                let (n, f) = split(fb);
                (
                    bytemuck::cast_slice(&bytes[fine.clone()]),
                    n,
                    f,
                    Box::new(move |c: [usize; 4]| {
                        assert!(g.in_band(c), "simplex vertex {c:?} left the DFC band");
                        let r = index[g.index_pos(c)];
                        assert!(r >= 0, "fine index has no row for {c:?}");
                        r as usize
                    }),
                )
            } else {
                let (n, f) = split(fb + g.si as u32 - 4);
                let cn = g.coarse_nodes();
                (
                    bytemuck::cast_slice(&bytes[coarse.clone()]),
                    n,
                    f,
                    Box::new(move |c: [usize; 4]| ((c[0] * cn + c[1]) * cn + c[2]) * cn + c[3]),
                )
            }
        }
    };
    // Coordinates sorted by fraction, largest first; ties: lower coordinate first.
    let mut order = [0usize, 1, 2, 3];
    order.sort_by(|&a, &b| frac[b].cmp(&frac[a]).then(a.cmp(&b)));
    let mut vertex = nodes;
    let mut rows = vec![row(vertex)];
    for &o in &order {
        vertex[o] += 1;
        rows.push(row(vertex));
    }
    let f = order.map(|o| frac[o]);
    let weights = [256 - f[0], f[0] - f[1], f[1] - f[2], f[2] - f[3], f[3]];
    (0..k)
        .map(|j| {
            rows.iter()
                .zip(weights)
                .map(|(&r, w)| w * i64::from(table[r * k + j]))
                .sum()
        })
        .collect()
}

/// One trilinear look-up of three values with their own fraction bits.
fn trilinear(table: &[i8], k: usize, v: [i32; 3], fb: [u32; 3]) -> Vec<i64> {
    let n: [usize; 3] = [0, 1, 2].map(|i| (v[i] >> fb[i]) as usize);
    let f: [i64; 3] = [0, 1, 2].map(|i| {
        i64::from(normalise_fraction(
            (v[i] & ((1 << fb[i]) - 1)) as u32,
            fb[i],
        ))
    });
    (0..k)
        .map(|j| {
            let mut s = 0i64;
            for corner in 0..8 {
                let bit = |i: usize| (corner >> (2 - i)) & 1;
                let w: i64 = (0..3)
                    .map(|i| if bit(i) == 1 { f[i] } else { 256 - f[i] })
                    .product();
                let row = ((n[0] + bit(0)) * NODES + n[1] + bit(1)) * NODES + n[2] + bit(2);
                s += w * i64::from(table[row * k + j]);
            }
            (s + (1 << 15)) >> 16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requantisation_follows_design() {
        // clamp(round(sum / terms) + 127, 0, 255) with sums in 1/256 units, half up.
        assert_eq!(requantise(0, 12), 127);
        assert_eq!(requantise(256 * 12 * 5, 12), 132);
        assert_eq!(requantise(256 * 12 * 5 / 2, 12), 130); // 2.5 -> 3
        assert_eq!(requantise(-256 * 12 * 5 / 2, 12), 125); // -2.5 -> -2
        assert_eq!(requantise(256 * 12 * 1000, 12), 255);
        assert_eq!(requantise(-256 * 12 * 1000, 12), 0);
    }

    #[test]
    fn residual_scales_with_bit_depth() {
        // S = 100 table units, scale 0.5 (32768 / 2^16) -> 50 codes at 10 bit.
        let s = 100 * 256;
        assert_eq!(residual(s, 32768, 16, 10), 50);
        assert_eq!(residual(s, 32768, 16, 8), 13); // 12.5 -> 13
        assert_eq!(residual(s, 32768, 16, 12), 200);
        assert_eq!(residual(-s, 32768, 16, 8), -12); // -12.5 -> -12 (half up)
        assert_eq!(residual(s, 0, 0, 10), 0);
    }
}
