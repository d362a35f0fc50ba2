//! Located look-ups with what their derivatives need: rows, weights, and the order in which the
//! simplex walks the coordinates.
//!
//! Two variants of each look-up exist:
//! * **exact** (integer map values): rows and weights come from the runtime's own
//!   [`PreparedTable::locate`] / the trilinear formula of `lut_filter::interp::trilinear`, so the
//!   forward pass reads exactly what the runtime reads;
//! * **smooth** (real map values, for gradient checks): the same piecewise-linear interpolation
//!   evaluated at real coordinates, with real fractions.
//!
//! Both give the walk order, from which the derivative with respect to the input values follows:
//! the 4-simplex value is `sum_j w_j T(V_j)` with `V_{j+1} = V_j + e_{order[j]}` and
//! `w_j = f_{order[j-1]} - f_{order[j]}`, so `d value / d f_{order[j]} = T(V_{j+1}) - T(V_j)`, and
//! `d f / d v = 1 / q` with `q` the grid interval the look-up used (fine or coarse).

use lut_filter::interp::{Part, PreparedTable};
use lut_filter::tables::{
    DfcGeometry, FRAC_BITS, NODES, SpatialTable, normalise_fraction, regular_row,
};

/// Geometry of one spatial table as the trainer sees it.
#[derive(Clone, Debug)]
pub(crate) enum TableGeom {
    /// Full 17^4 grid.
    Regular,
    /// DFC: fine band (through `index`) and coarse grid.
    Dfc {
        /// Geometry.
        geometry: DfcGeometry,
        /// Fine index: position -> fine row.
        index: Vec<i32>,
    },
}

impl TableGeom {
    /// A table view for [`PreparedTable::locate`] (which reads only the geometry and index).
    pub(crate) fn prepared(&self) -> PreparedTable<'_> {
        PreparedTable::new(match self {
            TableGeom::Regular => SpatialTable::Regular(&[]),
            TableGeom::Dfc { geometry, index } => SpatialTable::Dfc {
                geometry: *geometry,
                fine: &[],
                index,
                coarse: &[],
            },
        })
    }
}

/// One located 4-simplex look-up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Simplex {
    /// Whether the DFC coarse table is read (else the regular or fine table).
    pub coarse: bool,
    /// Rows of the five vertices in the part read.
    pub rows: [usize; 5],
    /// Weights of the five vertices, summing to 1.
    pub w: [f64; 5],
    /// Coordinate incremented from vertex `j` to vertex `j + 1`.
    pub order: [usize; 4],
    /// Grid interval in map units.
    pub q: f64,
}

/// Coordinates sorted by fraction, largest first, ties: lower coordinate first (the runtime's
/// documented order).
fn sort_order<T: PartialOrd + Copy>(f: [T; 4]) -> [usize; 4] {
    let mut o = [0usize, 1, 2, 3];
    // Insertion sort: stable, so ties keep the lower coordinate first.
    for i in 1..4 {
        let mut j = i;
        while j > 0 && f[o[j]] > f[o[j - 1]] {
            o.swap(j, j - 1);
            j -= 1;
        }
    }
    o
}

/// The order of integer fractions with a sorting network on unique keys (as the runtime).
#[inline(always)]
fn integer_order(f: [u32; 4]) -> [usize; 4] {
    // key = fraction * 4 + (3 - coordinate): unique, larger first = the documented order.
    let mut k = [0usize, 1, 2, 3].map(|i| (f[i] << 2) | (3 - i as u32));
    for (a, b) in [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)] {
        if k[a] < k[b] {
            k.swap(a, b);
        }
    }
    k.map(|x| 3 - (x & 3) as usize)
}

/// The exact look-up of integer values `v` with `fb` fraction bits (the runtime's rows and
/// weights). The walk order is only computed if `want_order` (else it is `[0, 1, 2, 3]`).
#[inline]
pub(crate) fn locate_exact(
    prepared: &PreparedTable<'_>,
    geom: &TableGeom,
    v: [u32; 4],
    fb: u32,
    want_order: bool,
) -> Simplex {
    let (part, rows, w) = prepared.locate(v, fb);
    let bits = match (part, geom) {
        (Part::Coarse, TableGeom::Dfc { geometry, .. }) => fb + geometry.si as u32 - 4,
        _ => fb,
    };
    let order = if want_order {
        let mask = (1u32 << bits) - 1;
        integer_order(v.map(|x| normalise_fraction(x & mask, bits)))
    } else {
        [0, 1, 2, 3]
    };
    let scale = 1.0 / f64::from(1u32 << FRAC_BITS);
    let mut wf = [0.0; 5];
    for i in 0..5 {
        wf[i] = f64::from(w[i]) * scale;
    }
    Simplex {
        coarse: part == Part::Coarse,
        rows,
        w: wf,
        order,
        q: f64::from(1u32 << bits),
    }
}

/// The same look-up at real values `v` (map units, `fb` fraction bits): real fractions.
pub(crate) fn locate_smooth(geom: &TableGeom, v: [f64; 4], fb: u32) -> Simplex {
    let q = f64::from(1u32 << fb);
    let split = |q: f64, nodes: usize| -> ([usize; 4], [f64; 4]) {
        let mut n = [0usize; 4];
        let mut f = [0.0f64; 4];
        for i in 0..4 {
            let t = (v[i] / q).max(0.0);
            let a = (t.floor() as usize).min(nodes - 2);
            n[i] = a;
            f[i] = (t - a as f64).min(1.0);
        }
        (n, f)
    };
    let walk = |n: [usize; 4], f: [f64; 4], row: &dyn Fn([usize; 4]) -> usize| {
        let order = sort_order(f);
        let mut vertex = n;
        let mut rows = [row(vertex); 5];
        for (j, &o) in order.iter().enumerate() {
            vertex[o] += 1;
            rows[j + 1] = row(vertex);
        }
        let s = order.map(|o| f[o]);
        let w = [1.0 - s[0], s[0] - s[1], s[1] - s[2], s[2] - s[3], s[3]];
        (rows, w, order)
    };
    match geom {
        TableGeom::Regular => {
            let (n, f) = split(q, NODES);
            let (rows, w, order) = walk(n, f, &|c| regular_row(c[0], c[1], c[2], c[3]));
            Simplex {
                coarse: false,
                rows,
                w,
                order,
                q,
            }
        }
        TableGeom::Dfc { geometry: g, index } => {
            let lim = g.dw as f64 * q;
            let in_band = (1..g.dims).all(|i| {
                let d = v[i] - v[0];
                d > -lim && d <= lim
            });
            if in_band {
                let (n, f) = split(q, NODES);
                let (rows, w, order) = walk(n, f, &|c| index[g.index_pos(c)] as usize);
                Simplex {
                    coarse: false,
                    rows,
                    w,
                    order,
                    q,
                }
            } else {
                let qc = f64::from(1u32 << (fb + g.si as u32 - 4));
                let cn = g.coarse_nodes();
                let (n, f) = split(qc, cn);
                let (rows, w, order) =
                    walk(n, f, &|c| ((c[0] * cn + c[1]) * cn + c[2]) * cn + c[3]);
                Simplex {
                    coarse: true,
                    rows,
                    w,
                    order,
                    q: qc,
                }
            }
        }
    }
}

/// One located trilinear (channel) look-up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Trilinear {
    /// Rows of the 8 corners; corner `c` has coordinate `i` incremented iff bit `2 - i` of `c`.
    pub rows: [usize; 8],
    /// Fractions in [0, 1) per coordinate.
    pub f: [f64; 3],
    /// Grid interval per coordinate, in map units.
    pub q: [f64; 3],
}

impl Trilinear {
    /// Whether corner `c` has coordinate `i` incremented.
    #[inline]
    pub(crate) fn bit(c: usize, i: usize) -> bool {
        (c >> (2 - i)) & 1 == 1
    }

    /// Weight of corner `c` (products of fractions; exact in f64 for 8-bit fractions).
    #[inline]
    pub(crate) fn weight(&self, c: usize) -> f64 {
        (0..3)
            .map(|i| {
                if Self::bit(c, i) {
                    self.f[i]
                } else {
                    1.0 - self.f[i]
                }
            })
            .product()
    }

    /// Derivative of corner `c`'s weight with respect to fraction `i`.
    #[inline]
    pub(crate) fn weight_derivative(&self, c: usize, i: usize) -> f64 {
        let mut d = if Self::bit(c, i) { 1.0 } else { -1.0 };
        for j in (0..3).filter(|&j| j != i) {
            d *= if Self::bit(c, j) {
                self.f[j]
            } else {
                1.0 - self.f[j]
            };
        }
        d
    }
}

fn corner_rows(n: [usize; 3]) -> [usize; 8] {
    std::array::from_fn(|c| {
        let b = |i: usize| usize::from(Trilinear::bit(c, i));
        ((n[0] + b(0)) * NODES + n[1] + b(1)) * NODES + n[2] + b(2)
    })
}

/// The exact trilinear look-up of integer values (the runtime's fractions, normalised to
/// 8 bits).
#[inline]
pub(crate) fn trilinear_exact(v: [u32; 3], fb: [u32; 3]) -> Trilinear {
    let n = [0, 1, 2].map(|i| (v[i] >> fb[i]) as usize);
    let one = f64::from(1u32 << FRAC_BITS);
    let f =
        [0, 1, 2].map(|i| f64::from(normalise_fraction(v[i] & ((1 << fb[i]) - 1), fb[i])) / one);
    Trilinear {
        rows: corner_rows(n),
        f,
        q: fb.map(|b| f64::from(1u32 << b)),
    }
}

/// The same look-up at real values.
pub(crate) fn trilinear_smooth(v: [f64; 3], fb: [u32; 3]) -> Trilinear {
    let q = fb.map(|b| f64::from(1u32 << b));
    let mut n = [0usize; 3];
    let mut f = [0.0; 3];
    for i in 0..3 {
        let t = (v[i] / q[i]).max(0.0);
        n[i] = (t.floor() as usize).min(NODES - 2);
        f[i] = (t - n[i] as f64).min(1.0);
    }
    Trilinear {
        rows: corner_rows(n),
        f,
        q,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geoms() -> Vec<TableGeom> {
        let g = DfcGeometry {
            dims: 4,
            dw: 2,
            si: 5,
        };
        vec![
            TableGeom::Regular,
            TableGeom::Dfc {
                geometry: g,
                index: g.fine_index().0,
            },
        ]
    }

    /// On integer values the smooth look-up reads the runtime's rows with the runtime's weights.
    #[test]
    fn smooth_locate_equals_runtime_on_integers() {
        let mut state = 12345u64;
        let mut next = |m: u32| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % u64::from(m)) as u32
        };
        for geom in geoms() {
            let prepared = geom.prepared();
            for fb in [4u32, 6] {
                for _ in 0..3000 {
                    let base = next(1 << (fb + 4));
                    let v = [0; 4].map(|_| {
                        if next(2) == 0 {
                            next(1 << (fb + 4))
                        } else {
                            (base + next(1 << (fb + 1))).min((1 << (fb + 4)) - 1)
                        }
                    });
                    let e = locate_exact(&prepared, &geom, v, fb, true);
                    assert_eq!(e.order, s_order(&geom, v, fb));
                    let s = locate_smooth(&geom, v.map(f64::from), fb);
                    assert_eq!(e.coarse, s.coarse, "{v:?}");
                    assert_eq!(e.q, s.q);
                    // Rows with non-zero weight and their weights agree (zero-weight vertices may
                    // differ where fractions tie).
                    for (i, (&r, &w)) in e.rows.iter().zip(&e.w).enumerate() {
                        assert!((w - s.w[i]).abs() < 1e-12, "{v:?} weight {i}");
                        if w != 0.0 {
                            assert_eq!(r, s.rows[i], "{v:?} row {i}");
                        }
                    }
                }
            }
        }
    }

    /// The walk order from a plain sort of the fractions the look-up used.
    fn s_order(geom: &TableGeom, v: [u32; 4], fb: u32) -> [usize; 4] {
        let s = locate_smooth(geom, v.map(f64::from), fb);
        let f = v.map(|x| (f64::from(x) / s.q).fract());
        sort_order(f)
    }

    #[test]
    fn sort_order_breaks_ties_by_lower_coordinate() {
        assert_eq!(sort_order([3, 9, 9, 1]), [1, 2, 0, 3]);
        assert_eq!(sort_order([5, 5, 5, 5]), [0, 1, 2, 3]);
        assert_eq!(sort_order([0.0, 0.0, 0.5, 0.5]), [2, 3, 0, 1]);
    }

    #[test]
    fn trilinear_weights_sum_to_one_and_derivatives_cancel() {
        let t = trilinear_smooth([37.5, 100.25, 500.0], [4, 4, 6]);
        let s: f64 = (0..8).map(|c| t.weight(c)).sum();
        assert!((s - 1.0).abs() < 1e-12);
        for i in 0..3 {
            let d: f64 = (0..8).map(|c| t.weight_derivative(c, i)).sum();
            assert!(d.abs() < 1e-12);
        }
        let e = trilinear_exact([37, 100, 500], [4, 4, 6]);
        assert_eq!(e.rows[0], (2 * NODES + 6) * NODES + 7);
        assert_eq!(e.f, [5.0 / 16.0, 4.0 / 16.0, 52.0 / 64.0]);
    }
}
