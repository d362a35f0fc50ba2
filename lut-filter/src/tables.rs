//! Table geometry: regular 17^4 grids, DFC compaction (fine band + coarse grid) and 17^3 channel
//! tables. Shared by the runtime, the container validator and writers (lut-build, tests).

/// Nodes per dimension of the regular grid (interval 16 on the 8-bit scale).
pub const NODES: usize = 17;
/// Rows of a regular 4-D table.
pub const REGULAR_ROWS: usize = NODES * NODES * NODES * NODES;
/// Rows of a 3-D channel table.
pub const CHANNEL_ROWS: usize = NODES * NODES * NODES;
/// Fractions are normalised to this many bits before interpolation; every look-up result is an
/// integer in units of `table value / 2^FRAC_BITS`.
pub const FRAC_BITS: u32 = 8;
/// `2^FRAC_BITS`.
pub const ONE: i32 = 1 << FRAC_BITS;

/// Zeros after the rows of [`DfcGeometry::dense`]: a 4-byte read starting at its last row
/// (one to three bytes of outputs) stays inside the buffer, so SIMD gathers need no special
/// case for the top of the grid.
pub const DENSE_PADDING: usize = 3;

/// Bytes per position and output of [`DfcGeometry::cubes`].
pub const CUBE_BYTES: usize = 8;

/// Zeros after the cubes of [`DfcGeometry::cubes`]: a 16-byte read (both outputs' cubes)
/// at 8 times any byte position of the dense layout's last row stays inside the buffer.
pub const CUBE_PADDING: usize = 8;

/// Row of a regular 4-D table for node coordinates (a, b, c, d).
#[inline(always)]
pub fn regular_row(a: usize, b: usize, c: usize, d: usize) -> usize {
    ((a * NODES + b) * NODES + c) * NODES + d
}

/// Normalises a fraction of `bits` bits to [`FRAC_BITS`] bits (exact for `bits <= 8`; for larger
/// interval exponents, only reached by coarse tables at 11-12 bit, low bits are dropped).
#[inline(always)]
pub fn normalise_fraction(f: u32, bits: u32) -> u32 {
    if bits <= FRAC_BITS {
        f << (FRAC_BITS - bits)
    } else {
        f >> (bits - FRAC_BITS)
    }
}

/// Geometry of a DFC-compacted table (DESIGN §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DfcGeometry {
    /// Diagonal coordinates (2, 3 or 4), counting the anchor.
    pub dims: usize,
    /// Half-width of the band in grid nodes.
    pub dw: usize,
    /// Coarse interval exponent on the 8-bit scale.
    pub si: usize,
}

impl DfcGeometry {
    /// Width of one diagonal offset dimension.
    pub fn band(&self) -> usize {
        2 * self.dw + 1
    }

    /// Entries of the fine index table: `17 * (2dw+1)^(dims-1) * 17^(4-dims)`.
    pub fn index_len(&self) -> usize {
        NODES * self.band().pow(self.dims as u32 - 1) * NODES.pow(4 - self.dims as u32)
    }

    /// Position in the fine index table of node tuple `n` (which must be inside the band).
    #[inline(always)]
    pub fn index_pos(&self, n: [usize; 4]) -> usize {
        let band = self.band();
        let mut pos = n[0];
        for (k, &v) in n.iter().enumerate().skip(1) {
            if k < self.dims {
                pos = pos * band + (v + self.dw - n[0]);
            } else {
                pos = pos * NODES + v;
            }
        }
        pos
    }

    /// Whether node tuple `n` lies inside the band (all diagonal offsets within `dw`).
    pub fn in_band(&self, n: [usize; 4]) -> bool {
        (1..self.dims).all(|k| n[k].abs_diff(n[0]) <= self.dw)
    }

    /// The canonical fine index table: for every position, the fine row (in enumeration order
    /// of valid tuples) or -1 where the offsets leave the 0..=16 grid. Also returns the rows.
    /// Containers store it as int16 when every row fits (always for `dims >= 3`, `dw <= 5`),
    /// else as int32.
    pub fn fine_index(&self) -> (Vec<i32>, usize) {
        let mut index = vec![-1i32; self.index_len()];
        let mut rows = 0usize;
        for_each_tuple(NODES, |n| {
            if self.in_band(n) {
                index[self.index_pos(n)] = rows as i32;
                rows += 1;
            }
        });
        // Enumeration above visits tuples in lexicographic order of (x, y, z, t); index_pos is
        // monotone in that order inside the band, so rows are numbered in index order.
        (index, rows)
    }

    /// The fine rows laid out by fine-index position, followed by the coarse rows:
    /// `index_len() * outputs` values (row `index[p]` of `fine` at position `p`, zero where the
    /// index names no row), then `coarse`. A look-up then reads position-addressed rows
    /// directly, without the index indirection, and fine and coarse rows from one buffer (what
    /// the SIMD kernels do when a [`crate::interp::PreparedTable`] carries it), then
    /// [`DENSE_PADDING`] zeros, so that 4-byte reads may start at any row.
    pub fn dense(&self, fine: &[i8], index: &[i32], coarse: &[i8], outputs: usize) -> Vec<i8> {
        let mut dense = Vec::with_capacity(index.len() * outputs + coarse.len() + DENSE_PADDING);
        if outputs == 1 {
            dense.extend(index.iter().map(|&r| match usize::try_from(r) {
                Ok(r) => fine[r],
                Err(_) => 0,
            }));
        } else {
            for &r in index {
                match usize::try_from(r) {
                    Ok(r) => dense.extend_from_slice(&fine[r * outputs..(r + 1) * outputs]),
                    Err(_) => dense.resize(dense.len() + outputs, 0),
                }
            }
        }
        dense.extend_from_slice(coarse);
        dense.resize(dense.len() + DENSE_PADDING, 0);
        dense
    }

    /// The rows of [`DfcGeometry::dense`] of a 1- or 2-output table laid out as cubes, for the
    /// AVX-512 kernels: per position of the fine part, then per row of the coarse part, one
    /// cube of [`CUBE_BYTES`] bytes per output (output 0's, then output 1's), then
    /// [`CUBE_PADDING`] zeros. Byte `4 b1 + 2 b2 + b3` of a cube is the row at `p + b1 s1 + b2
    /// s2 + b3 s3` of the same part (`s` its strides: fine positions or coarse rows; 0 past the
    /// part's end), i.e. the 2x2x2 corners spanned by the last three coordinates. Every vertex
    /// of a look-up is a corner of the cube at its first vertex or of the cube one step further
    /// in coordinate 0, so two 8-byte reads per output serve all five. `None` unless `outputs`
    /// is 1 or 2 and `dense` is this geometry's dense layout of `outputs`-output tables.
    pub fn cubes(&self, dense: &[i8], outputs: usize) -> Option<Vec<i8>> {
        let fine_len = self.index_len();
        let coarse_len = self.coarse_rows();
        if !(1..=2).contains(&outputs)
            || dense.len() != (fine_len + coarse_len) * outputs + DENSE_PADDING
        {
            return None;
        }
        let cn = self.coarse_nodes();
        let fine_strides = crate::interp::dfc_position_strides(self);
        let split = fine_len * outputs;
        let parts = [
            (
                &dense[..split],
                [fine_strides[1], fine_strides[2], fine_strides[3]],
            ),
            (
                &dense[split..split + coarse_len * outputs],
                [cn * cn, cn, 1],
            ),
        ];
        let mut cubes =
            Vec::with_capacity((fine_len + coarse_len) * outputs * CUBE_BYTES + CUBE_PADDING);
        for (rows, [s1, s2, s3]) in parts {
            for p in 0..rows.len() / outputs {
                for o in 0..outputs {
                    for corner in 0..CUBE_BYTES {
                        let q =
                            p + (corner >> 2) * s1 + ((corner >> 1) & 1) * s2 + (corner & 1) * s3;
                        cubes.push(rows.get(q * outputs + o).copied().unwrap_or(0));
                    }
                }
            }
        }
        cubes.resize(cubes.len() + CUBE_PADDING, 0);
        Some(cubes)
    }

    /// Nodes per dimension of the coarse grid: `2^(8-si) + 1`.
    pub fn coarse_nodes(&self) -> usize {
        (1usize << (8 - self.si)) + 1
    }

    /// Rows of the coarse table.
    pub fn coarse_rows(&self) -> usize {
        self.coarse_nodes().pow(4)
    }

    /// Regular-grid step between coarse nodes.
    pub fn coarse_step(&self) -> usize {
        1 << (self.si - 4)
    }

    /// Compacts a regular table (`[83521, outputs]`) into (fine, fine index, coarse) tables:
    /// fine rows are copied from the band, coarse rows sub-sample the grid.
    pub fn compact(&self, regular: &[i8], outputs: usize) -> (Vec<i8>, Vec<i32>, Vec<i8>) {
        assert_eq!(regular.len(), REGULAR_ROWS * outputs, "regular table size");
        let (index, rows) = self.fine_index();
        let mut fine = Vec::with_capacity(rows * outputs);
        for_each_tuple(NODES, |n| {
            if self.in_band(n) {
                let r = regular_row(n[0], n[1], n[2], n[3]) * outputs;
                fine.extend_from_slice(&regular[r..r + outputs]);
            }
        });
        let step = self.coarse_step();
        let mut coarse = Vec::with_capacity(self.coarse_rows() * outputs);
        for_each_tuple(self.coarse_nodes(), |n| {
            let r = regular_row(n[0] * step, n[1] * step, n[2] * step, n[3] * step) * outputs;
            coarse.extend_from_slice(&regular[r..r + outputs]);
        });
        (fine, index, coarse)
    }
}

/// Calls `f` for every 4-tuple of `0..nodes` in lexicographic order.
pub fn for_each_tuple(nodes: usize, mut f: impl FnMut([usize; 4])) {
    for a in 0..nodes {
        for b in 0..nodes {
            for c in 0..nodes {
                for d in 0..nodes {
                    f([a, b, c, d]);
                }
            }
        }
    }
}

/// A 4-D table, viewed zero-copy from the container (the index table is decoded at open).
#[derive(Clone, Copy, Debug)]
pub enum SpatialTable<'a> {
    /// Full grid.
    Regular(&'a [i8]),
    /// DFC-compacted.
    Dfc {
        /// Geometry.
        geometry: DfcGeometry,
        /// Fine rows.
        fine: &'a [i8],
        /// Fine index: position -> row (validated at open; -1 only outside the grid).
        index: &'a [i32],
        /// Coarse rows.
        coarse: &'a [i8],
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_fine_row_counts() {
        let g = DfcGeometry {
            dims: 4,
            dw: 3,
            si: 5,
        };
        assert_eq!(g.fine_index().1, 4583);
        assert_eq!(g.index_len(), 17 * 343);
        assert_eq!(g.coarse_rows(), 6561);
    }

    #[test]
    fn index_rows_are_increasing() {
        for dims in 2..=4 {
            let g = DfcGeometry { dims, dw: 2, si: 5 };
            let (index, rows) = g.fine_index();
            let valid: Vec<i32> = index.iter().copied().filter(|&r| r >= 0).collect();
            assert_eq!(valid.len(), rows);
            assert!(valid.windows(2).all(|w| w[0] + 1 == w[1]));
        }
    }

    /// Each output's cube at a position holds, byte `4 b1 + 2 b2 + b3`, that output's row at
    /// the corner, for 1 and 2 outputs; the two outputs' cubes of a position are adjacent.
    #[test]
    fn cubes_hold_each_outputs_corner_rows() {
        let g = DfcGeometry {
            dims: 4,
            dw: 3,
            si: 5,
        };
        let fine_len = g.index_len();
        let s = crate::interp::dfc_position_strides(&g);
        for k in 1..=2usize {
            let rows = fine_len + g.coarse_rows();
            let mut dense: Vec<i8> = (0..rows * k).map(|i| (i * 7 % 251) as i8).collect();
            dense.resize(rows * k + DENSE_PADDING, 0);
            let cubes = g.cubes(&dense, k).expect("a dense layout of k outputs");
            assert_eq!(cubes.len(), rows * k * CUBE_BYTES + CUBE_PADDING);
            let (cn, p_fine, p_coarse) = (g.coarse_nodes(), 1234, 3000);
            for (p, part, [s1, s2, s3]) in [
                (p_fine, 0..fine_len, [s[1], s[2], s[3]]),
                (p_coarse, fine_len..rows, [cn * cn, cn, 1]),
            ] {
                for o in 0..k {
                    for corner in 0..CUBE_BYTES {
                        let q =
                            p + (corner >> 2) * s1 + ((corner >> 1) & 1) * s2 + (corner & 1) * s3;
                        let at = part.start + p;
                        assert_eq!(
                            cubes[(at * k + o) * CUBE_BYTES + corner],
                            dense[(part.start + q) * k + o],
                            "k {k} output {o} corner {corner}"
                        );
                    }
                }
            }
            assert!(cubes[rows * k * CUBE_BYTES..].iter().all(|&b| b == 0));
        }
        assert!(
            g.cubes(
                &vec![0; (fine_len + g.coarse_rows()) * 3 + DENSE_PADDING],
                3
            )
            .is_none()
        );
    }
}
