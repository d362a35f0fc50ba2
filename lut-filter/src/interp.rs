//! The engine's interpolation kernels (portable). Each is checked against the reference
//! implementation's independent code by the engine-vs-reference tests.
//!
//! [`PreparedTable::locate`] is public: builders and trainers use it to know exactly which rows
//! and weights a look-up reads (a look-up is linear in the table entries).

use crate::tables::{DfcGeometry, FRAC_BITS, NODES, ONE, SpatialTable, normalise_fraction};

/// Strides of the 17^4 grid per coordinate.
const REGULAR_STRIDES: [usize; 4] = [NODES * NODES * NODES, NODES * NODES, NODES, 1];

/// Sorts coordinates by fraction (largest first, ties: lower coordinate first) with a sorting
/// network on unique keys.
#[inline(always)]
fn order(f: [u32; 4]) -> [usize; 4] {
    // key = fraction * 4 + (3 - coordinate): unique, larger first = the documented order.
    let mut k = [0usize, 1, 2, 3].map(|i| (f[i] << 2) | (3 - i as u32));
    macro_rules! cswap {
        ($a:expr, $b:expr) => {
            if k[$a] < k[$b] {
                k.swap($a, $b);
            }
        };
    }
    cswap!(0, 1);
    cswap!(2, 3);
    cswap!(0, 2);
    cswap!(1, 3);
    cswap!(1, 2);
    k.map(|x| 3 - (x & 3) as usize)
}

/// Simplex vertices and weights: vertex `i` is `base + sum of strides of the first i sorted
/// coordinates` (order: [`order`]).
#[inline(always)]
fn simplex_positions(base: usize, strides: [usize; 4], f: [u32; 4]) -> ([usize; 5], [i32; 5]) {
    let o = order(f);
    let p1 = base + strides[o[0]];
    let p2 = p1 + strides[o[1]];
    let p3 = p2 + strides[o[2]];
    let p4 = p3 + strides[o[3]];
    let fs = o.map(|i| f[i] as i32);
    (
        [base, p1, p2, p3, p4],
        [
            ONE - fs[0],
            fs[0] - fs[1],
            fs[1] - fs[2],
            fs[2] - fs[3],
            fs[3],
        ],
    )
}

#[inline(always)]
fn accumulate_k<const K: usize>(table: &[i8], rows: [usize; 5], w: [i32; 5], acc: &mut [i32]) {
    let mut s = [0i32; K];
    for i in 0..5 {
        let row = &table[rows[i] * K..rows[i] * K + K];
        for j in 0..K {
            s[j] += w[i] * i32::from(row[j]);
        }
    }
    for (a, v) in acc.iter_mut().zip(s) {
        *a += v;
    }
}

#[inline(always)]
fn accumulate(table: &[i8], k: usize, rows: [usize; 5], w: [i32; 5], acc: &mut [i32]) {
    match k {
        1 => accumulate_k::<1>(table, rows, w, acc),
        2 => accumulate_k::<2>(table, rows, w, acc),
        3 => accumulate_k::<3>(table, rows, w, acc),
        _ => {
            for (j, a) in acc.iter_mut().enumerate().take(k) {
                let mut s = 0i32;
                for i in 0..5 {
                    s += w[i] * i32::from(table[rows[i] * k + j]);
                }
                *a += s;
            }
        }
    }
}

/// Per-coordinate strides of a DFC fine-index position (linear in the node coordinates: moving
/// the anchor also moves every diagonal offset by -1).
pub(crate) fn dfc_position_strides(g: &DfcGeometry) -> [usize; 4] {
    let band = g.band();
    let mut s = [0usize; 4];
    let mut acc = 1usize;
    for k in (1..4).rev() {
        s[k] = acc;
        acc *= if k < g.dims { band } else { NODES };
    }
    // s[0] = acc (stride of x) minus the strides of the diagonal offsets; wrapping arithmetic
    // keeps the sum exact for the in-band vertices it is applied to.
    let diag: usize = (1..g.dims).map(|k| s[k]).sum();
    s[0] = acc.wrapping_sub(diag);
    s
}

/// Which table of a spatial table a look-up reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The regular 17^4 table.
    Regular,
    /// The DFC fine (band) table.
    Fine,
    /// The DFC coarse table.
    Coarse,
}

/// A 4-D table prepared for look-ups: the view plus derived strides (and, for the SIMD
/// kernels, optionally the DFC rows laid out by position, [`DfcGeometry::dense`]).
#[derive(Clone, Copy, Debug)]
pub struct PreparedTable<'a> {
    table: SpatialTable<'a>,
    pos_strides: [usize; 4],
    coarse_strides: [usize; 4],
    dense: Option<&'a [i8]>,
    cubes: Option<&'a [i8]>,
}

impl<'a> PreparedTable<'a> {
    /// Prepares a table view.
    pub fn new(table: SpatialTable<'a>) -> Self {
        match table {
            SpatialTable::Regular(_) => PreparedTable {
                table,
                pos_strides: REGULAR_STRIDES,
                coarse_strides: REGULAR_STRIDES,
                dense: None,
                cubes: None,
            },
            SpatialTable::Dfc { geometry, .. } => {
                let cn = geometry.coarse_nodes();
                PreparedTable {
                    table,
                    pos_strides: dfc_position_strides(&geometry),
                    coarse_strides: [cn * cn * cn, cn * cn, cn, 1],
                    dense: None,
                    cubes: None,
                }
            }
        }
    }

    /// Attaches the DFC rows laid out by position, which must be [`DfcGeometry::dense`] of
    /// this table's fine rows, index and coarse rows (for its number of outputs): the SIMD
    /// kernels then read fine rows without the index indirection, and fine and coarse rows
    /// from one buffer. Ignored for a regular table; the portable path never reads it.
    pub fn with_dense(mut self, dense: &'a [i8]) -> Self {
        if matches!(self.table, SpatialTable::Dfc { .. }) {
            self.dense = Some(dense);
        }
        self
    }

    /// The DFC rows by position, if attached ([`PreparedTable::with_dense`]).
    #[inline(always)]
    pub(crate) fn dense(&self) -> Option<&'a [i8]> {
        self.dense
    }

    /// Attaches the cube layout of a 1- or 2-output DFC table, which must be
    /// [`DfcGeometry::cubes`] of its dense layout (attached too): the AVX-512 kernel then reads
    /// a look-up's five vertices with two reads of 8 bytes per output. Ignored for a regular
    /// table.
    pub fn with_cubes(mut self, cubes: &'a [i8]) -> Self {
        if matches!(self.table, SpatialTable::Dfc { .. }) {
            self.cubes = Some(cubes);
        }
        self
    }

    /// The cube layout, if attached ([`PreparedTable::with_cubes`]).
    #[inline(always)]
    pub(crate) fn cubes(&self) -> Option<&'a [i8]> {
        self.cubes
    }

    /// The table view.
    #[inline(always)]
    pub(crate) fn table(&self) -> SpatialTable<'a> {
        self.table
    }

    /// Per-coordinate strides of a look-up's first vertex position: regular rows, or DFC
    /// fine-index positions (wrapping in coordinate 0, see `dfc_position_strides`).
    #[inline(always)]
    pub(crate) fn pos_strides(&self) -> [usize; 4] {
        self.pos_strides
    }

    /// Per-coordinate row strides of the coarse table (regular strides for a regular table).
    #[inline(always)]
    pub(crate) fn coarse_strides(&self) -> [usize; 4] {
        self.coarse_strides
    }

    /// The part, the five rows and the five weights (summing to 256) of the 4-simplex look-up
    /// of `v` (values with `fb` fraction bits, within the grid's range).
    #[inline(always)]
    pub fn locate(&self, v: [u32; 4], fb: u32) -> (Part, [usize; 5], [i32; 5]) {
        match self.table {
            SpatialTable::Regular(_) => {
                let mask = (1u32 << fb) - 1;
                let n = v.map(|x| (x >> fb) as usize);
                let f = v.map(|x| normalise_fraction(x & mask, fb));
                let base = ((n[0] * NODES + n[1]) * NODES + n[2]) * NODES + n[3];
                let (rows, w) = simplex_positions(base, REGULAR_STRIDES, f);
                (Part::Regular, rows, w)
            }
            SpatialTable::Dfc {
                geometry, index, ..
            } => {
                let q = 1i32 << fb;
                let lim = geometry.dw as i32 * q;
                let x0 = v[0] as i32;
                let mut in_band = true;
                for &vi in v.iter().take(geometry.dims).skip(1) {
                    let d = vi as i32 - x0;
                    in_band &= d > -lim && d <= lim;
                }
                if in_band {
                    let mask = (1u32 << fb) - 1;
                    let n = v.map(|x| (x >> fb) as usize);
                    let f = v.map(|x| normalise_fraction(x & mask, fb));
                    let base = geometry.index_pos(n);
                    let (pos, w) = simplex_positions(base, self.pos_strides, f);
                    (Part::Fine, pos.map(|p| index[p] as usize), w)
                } else {
                    let bits = fb + geometry.si as u32 - 4;
                    let mask = (1u32 << bits) - 1;
                    let n = v.map(|x| (x >> bits) as usize);
                    let f = v.map(|x| normalise_fraction(x & mask, bits));
                    let s = self.coarse_strides;
                    let base = n[0] * s[0] + n[1] * s[1] + n[2] * s[2] + n[3];
                    let (rows, w) = simplex_positions(base, s, f);
                    (Part::Coarse, rows, w)
                }
            }
        }
    }

    /// The int8 rows of `part`.
    #[inline(always)]
    pub fn part(&self, part: Part) -> &'a [i8] {
        match (self.table, part) {
            (SpatialTable::Regular(t), _) => t,
            (SpatialTable::Dfc { fine, .. }, Part::Fine) => fine,
            (SpatialTable::Dfc { coarse, .. }, _) => coarse,
        }
    }

    /// Adds the 4-simplex look-up of `v` (values with `fb` fraction bits, already clamped to
    /// the grid's range) to `acc[..k]`, in units of 1/256 of a table value.
    #[inline]
    pub fn lookup(&self, v: [u32; 4], fb: u32, k: usize, acc: &mut [i32]) {
        let (part, rows, w) = self.locate(v, fb);
        accumulate(self.part(part), k, rows, w, acc);
    }
}

/// Adds the trilinear look-up of three values (own fraction bits each) to `acc[..k]`, in units
/// of 1/256 of a table value (the 2^24-scaled sum rounded half up).
#[inline]
pub fn trilinear(table: &[i8], k: usize, v: [u32; 3], fb: [u32; 3], acc: &mut [i32]) {
    let n = [0, 1, 2].map(|i| (v[i] >> fb[i]) as usize);
    let f = [0, 1, 2].map(|i| normalise_fraction(v[i] & ((1 << fb[i]) - 1), fb[i]) as i64);
    let base = (n[0] * NODES + n[1]) * NODES + n[2];
    let wx = [i64::from(ONE) - f[0], f[0]];
    let wy = [i64::from(ONE) - f[1], f[1]];
    let wz = [i64::from(ONE) - f[2], f[2]];
    for (j, a) in acc.iter_mut().enumerate().take(k) {
        let mut s = 0i64;
        for (bx, wxv) in wx.iter().enumerate() {
            for (by, wyv) in wy.iter().enumerate() {
                let row = base + bx * NODES * NODES + by * NODES;
                let w = wxv * wyv;
                s += w
                    * (wz[0] * i64::from(table[row * k + j])
                        + wz[1] * i64::from(table[(row + 1) * k + j]));
            }
        }
        *a += ((s + (1 << (2 * FRAC_BITS - 1))) >> (2 * FRAC_BITS)) as i32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_descending_with_low_index_first_on_ties() {
        assert_eq!(order([3, 9, 9, 1]), [1, 2, 0, 3]);
        assert_eq!(order([5, 5, 5, 5]), [0, 1, 2, 3]);
        assert_eq!(order([0, 0, 7, 7]), [2, 3, 0, 1]);
    }

    #[test]
    fn simplex_positions_follow_the_order() {
        let strides = [1000, 100, 10, 1];
        for code in 0..4u32.pow(4) {
            let f = [0, 1, 2, 3].map(|i| (code >> (2 * i)) & 3);
            let o = order(f);
            let (pos, w) = simplex_positions(0, strides, f);
            let mut p = 0;
            for r in 0..4 {
                p += strides[o[r]];
                assert_eq!(pos[r + 1], p, "fractions {f:?}");
            }
            assert_eq!(w.iter().sum::<i32>(), ONE);
            assert_eq!(w[4], f[o[3]] as i32);
        }
    }

    #[test]
    fn order_matches_a_plain_sort_on_all_small_inputs() {
        for code in 0..4u32.pow(4) {
            let f = [0, 1, 2, 3].map(|i| (code >> (2 * i)) & 3);
            let mut expect = [0usize, 1, 2, 3];
            expect.sort_by(|&a, &b| f[b].cmp(&f[a]).then(a.cmp(&b)));
            assert_eq!(order(f), expect, "fractions {f:?}");
        }
    }

    use crate::tables::{REGULAR_ROWS, regular_row};
    use proptest::prelude::*;

    /// An affine table `c0 + c1 a + c2 b + c3 c + c4 d` over node coordinates (within int8).
    fn affine_table(c: [i32; 5]) -> Vec<i8> {
        let mut t = vec![0i8; REGULAR_ROWS];
        crate::tables::for_each_tuple(NODES, |n| {
            let v = c[0] + (0..4).map(|i| c[i + 1] * n[i] as i32).sum::<i32>();
            t[regular_row(n[0], n[1], n[2], n[3])] = v as i8;
        });
        t
    }

    fn lookup1(t: &PreparedTable<'_>, v: [u32; 4], fb: u32) -> i32 {
        let mut acc = [0i32; 1];
        t.lookup(v, fb, 1, &mut acc);
        acc[0]
    }

    proptest! {
        /// At grid nodes the look-up returns the stored value exactly.
        #[test]
        fn simplex_reproduces_nodes(n in proptest::array::uniform4(0u32..16), seed in any::<u64>(), fb in 4u32..=8) {
            let t: Vec<i8> = (0..REGULAR_ROWS).map(|i| ((i as u64).wrapping_mul(seed | 1) >> 7) as i8).collect();
            let table = PreparedTable::new(SpatialTable::Regular(&t));
            let v = n.map(|x| x << fb);
            let row = regular_row(n[0] as usize, n[1] as usize, n[2] as usize, n[3] as usize);
            prop_assert_eq!(lookup1(&table, v, fb), ONE * i32::from(t[row]));
        }

        /// Simplex interpolation reproduces affine functions exactly (at 8-bit and 10-bit).
        #[test]
        fn simplex_is_exact_on_affine_tables(
            c in (-60i32..60, -1i32..=1, -1i32..=1, -1i32..=1, -1i32..=1),
            v in proptest::array::uniform4(0u32..1024),
            ten_bit in any::<bool>(),
        ) {
            let c = [c.0, c.1, c.2, c.3, c.4];
            let t = affine_table(c);
            let table = PreparedTable::new(SpatialTable::Regular(&t));
            let fb = if ten_bit { 6 } else { 4 };
            let v = v.map(|x| x >> (10 - (fb + 4)));
            // value at fractional coordinate x / 2^fb, in units of 1/256
            let expect = ONE * c[0]
                + (0..4)
                    .map(|i| {
                        let node = (v[i] >> fb) as i32;
                        let frac = normalise_fraction(v[i] & ((1 << fb) - 1), fb) as i32;
                        c[i + 1] * (ONE * node + frac)
                    })
                    .sum::<i32>();
            prop_assert_eq!(lookup1(&table, v, fb), expect);
        }

        /// A DFC table compacted from a regular one gives the regular result inside the band.
        #[test]
        fn dfc_equals_regular_inside_the_band(
            dims in 2usize..=4, dw in 1usize..=4, si in 4usize..=7, seed in any::<u64>(),
            x in 0u32..256, d in proptest::array::uniform3(-64i32..=64),
        ) {
            let t: Vec<i8> = (0..REGULAR_ROWS * 2).map(|i| ((i as u64).wrapping_mul(seed | 1) >> 9) as i8).collect();
            let g = DfcGeometry { dims, dw, si };
            let (fine, index, coarse) = g.compact(&t, 2);
            let dfc = PreparedTable::new(SpatialTable::Dfc { geometry: g, fine: &fine, index: &index, coarse: &coarse });
            let regular = PreparedTable::new(SpatialTable::Regular(&t));
            let v = [x, (x as i32 + d[0]).clamp(0, 255) as u32, (x as i32 + d[1]).clamp(0, 255) as u32, (x as i32 + d[2]).clamp(0, 255) as u32];
            let lim = 16 * dw as i32;
            let in_band = (1..dims).all(|k| { let e = v[k] as i32 - x as i32; e > -lim && e <= lim });
            let (mut a, mut b) = ([0i32; 2], [0i32; 2]);
            dfc.lookup(v, 4, 2, &mut a);
            regular.lookup(v, 4, 2, &mut b);
            if in_band {
                prop_assert_eq!(a, b);
            }
            // Outside the band the coarse table is used: at its nodes it is exact too.
            let step = 1u32 << si;
            let on_coarse = v.map(|x| (x / step) * step);
            let (mut a, mut b) = ([0i32; 2], [0i32; 2]);
            dfc.lookup(on_coarse, 4, 2, &mut a);
            regular.lookup(on_coarse, 4, 2, &mut b);
            prop_assert_eq!(a, b);
        }

        /// Trilinear returns stored values at nodes.
        #[test]
        fn trilinear_reproduces_nodes(n in proptest::array::uniform3(0u32..16), fb in proptest::array::uniform3(4u32..=8)) {
            let t: Vec<i8> = (0..crate::tables::CHANNEL_ROWS * 3).map(|i| (i % 251) as i8).collect();
            let mut acc = [0i32; 3];
            trilinear(&t, 3, [n[0] << fb[0], n[1] << fb[1], n[2] << fb[2]], fb, &mut acc);
            let row = (n[0] as usize * NODES + n[1] as usize) * NODES + n[2] as usize;
            prop_assert_eq!(acc, [0, 1, 2].map(|j| ONE * i32::from(t[row * 3 + j])));
        }
    }

    #[test]
    fn dfc_position_strides_match_index_pos() {
        for dims in 2..=4 {
            let g = DfcGeometry { dims, dw: 3, si: 5 };
            let s = dfc_position_strides(&g);
            let n = [8usize, 9, 7, 10];
            let base = g.index_pos(n);
            for k in 0..4 {
                let mut m = n;
                m[k] += 1;
                assert_eq!(
                    base.wrapping_add(s[k]),
                    g.index_pos(m),
                    "dims {dims} coord {k}"
                );
            }
        }
    }
}
