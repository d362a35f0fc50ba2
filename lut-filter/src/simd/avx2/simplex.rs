//! The AVX2 4-simplex row kernel: per-table constants and the row loop (the chunk of 8
//! samples: [`super::chunk`]; method and memory-safety argument: the parent module).
//!
//! Positions are computed in bytes wherever rows are linear in the node coordinates (regular
//! and coarse tables, and DFC fine rows laid out by index position,
//! [`crate::tables::DfcGeometry::dense`]): strides are pre-multiplied by the outputs `k`,
//! so a vertex's gather offset is one add away. Without the dense layout, fine lanes go
//! through the index table (a gather of rows, then `row * k`).
//!
//! The kernel is specialised on the outputs handled per pass (`N`, 1 to 4: one gather per
//! vertex; nodes with 5 to 8 outputs take two passes), the tap step (1, or 2 for a
//! chroma-from-luma reduction) and the table kind, chosen once per table ([`Plan`]); a DFC
//! chunk whose lanes are all fine or all coarse runs with broadcast constants ([`Geo`]), a
//! mixed one with per-lane constants blended from both.

use std::arch::x86_64::*;

use crate::interp::PreparedTable;
use crate::tables::{DENSE_PADDING, SpatialTable};

use super::super::{RowTaps, Rows, portable};
use super::chunk::{SRC_A, SRC_B, SRC_MIXED, band, chunk, load_taps};

/// How the lanes of a chunk split values and place vertices (per lane: broadcast, or blended
/// for a mixed DFC chunk).
///
/// Sort keys carry the vertex step: `key_t = fraction_t << 16 | stride_t`, the 8-bit fraction
/// above the coordinate's stride. Strides are distinct and decrease with the coordinate
/// ([`GeoSpec::geo`] checks), so sorting keys in descending order gives the documented order
/// (largest fraction first, ties to the lower coordinate), and a sorted key's low half is the
/// step to the next vertex.
#[derive(Clone, Copy)]
pub(in crate::simd) struct Geo {
    /// `node = v >> bits`; `fraction << 16 = (v << (24 - bits)) & 0xff0000`: per lane, and as
    /// shift counts for chunks whose lanes all share them.
    pub(in crate::simd) bits: __m256i,
    pub(in crate::simd) up: __m256i,
    pub(in crate::simd) bits_count: __m128i,
    pub(in crate::simd) up_count: __m128i,
    /// Per-coordinate strides of a vertex position, and its value at node 0 (bytes; for fine
    /// lanes read through the index: index positions).
    pub(in crate::simd) strides: [__m256i; 4],
    pub(in crate::simd) origin: __m256i,
    /// Sum of the strides: the last vertex's position minus the first's.
    pub(in crate::simd) span: __m256i,
    /// Largest allowed last-vertex position.
    pub(in crate::simd) pos_limit: __m256i,
    /// Index path only: largest row whose bytes may be gathered.
    pub(in crate::simd) row_limit: __m256i,
}

/// Scalar form of a [`Geo`].
struct GeoSpec {
    bits: u32,
    strides: [usize; 4],
    origin: usize,
    pos_limit: usize,
    row_limit: usize,
}

impl GeoSpec {
    /// The broadcast [`Geo`], if positions fit i32 arithmetic and grow along the simplex path
    /// (strides positive, which the bounds check on the last vertex relies on) and strides fit
    /// the low half of a key, distinct and decreasing (the tie order).
    #[target_feature(enable = "avx2")]
    fn geo(&self) -> Option<Geo> {
        let span: usize = self.strides.iter().sum();
        let max_node = (usize::from(u16::MAX) >> self.bits) + 1;
        let max_pos = self.origin.checked_add(max_node.checked_mul(span)?)?;
        let fits = |v: usize| i32::try_from(v).is_ok();
        let s = self.strides;
        if !(fits(max_pos) && fits(self.pos_limit) && fits(self.row_limit))
            || !(s[0] < 1 << 16 && s[0] > s[1] && s[1] > s[2] && s[2] > s[3] && s[3] > 0)
            || !(1..=16).contains(&self.bits)
        {
            return None;
        }
        let set = |v: usize| _mm256_set1_epi32(v as i32);
        let up = 24 - self.bits as i32;
        Some(Geo {
            bits: set(self.bits as usize),
            up: _mm256_set1_epi32(up),
            bits_count: _mm_cvtsi32_si128(self.bits as i32),
            up_count: _mm_cvtsi32_si128(up),
            strides: s.map(set),
            origin: set(self.origin),
            span: set(span),
            pos_limit: set(self.pos_limit),
            row_limit: set(self.row_limit),
        })
    }
}

impl Geo {
    /// Lanes of `mask` from `a`, the others from `b` (per-lane fields only).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn blend(a: &Geo, b: &Geo, mask: __m256i) -> Geo {
        let m = |x: __m256i, y: __m256i| _mm256_blendv_epi8(y, x, mask);
        Geo {
            bits: m(a.bits, b.bits),
            up: m(a.up, b.up),
            bits_count: a.bits_count, // unused by mixed chunks
            up_count: a.up_count,
            strides: [0, 1, 2, 3].map(|t| m(a.strides[t], b.strides[t])),
            origin: m(a.origin, b.origin),
            span: m(a.span, b.span),
            pos_limit: m(a.pos_limit, b.pos_limit),
            row_limit: m(a.row_limit, b.row_limit),
        }
    }
}

/// The DFC band test's constants: `-lim < v[t] - v[0] <= lim` for each diagonal coordinate
/// `t` is `(v[t] + lim - 1 - v[0]) & mask[t] <= 2 lim - 1`, unsigned (`mask[t]` is 0 for
/// coordinates off the diagonal).
#[derive(Clone, Copy)]
pub(in crate::simd) struct Band {
    pub(in crate::simd) offset: __m256i,
    pub(in crate::simd) width: __m256i,
    pub(in crate::simd) mask: [__m256i; 3],
}

/// The constants of one pass over a table.
pub(in crate::simd) struct Kernel<'a> {
    /// Regular table, DFC rows by position ([`crate::tables::DfcGeometry::dense`]), or DFC
    /// fine rows read through `index`.
    pub(in crate::simd) a: &'a [i8],
    /// DFC coarse rows (`a` for a regular table or the dense layout: one buffer).
    pub(in crate::simd) b: &'a [i8],
    /// DFC band test.
    pub(in crate::simd) band: Option<Band>,
    /// DFC fine rows addressed through this index (no dense layout).
    pub(in crate::simd) index: Option<&'a [i32]>,
    pub(in crate::simd) geo_a: Geo,
    pub(in crate::simd) geo_b: Geo,
    /// Outputs per row (the byte stride of rows) and byte offset of this pass's first output.
    pub(in crate::simd) k: i32,
    pub(in crate::simd) first: i32,
}

impl<'a> Kernel<'a> {
    /// Constants for the outputs `first..` (`first` 0 or 4) of a `k`-output table, with gather
    /// limits such that every output group `g < ceil(k / 4)` may be read: both passes of a
    /// 5-to-8-output node accept and refuse the same chunks.
    #[target_feature(enable = "avx2")]
    fn new(table: &PreparedTable<'a>, fb: u32, k: usize, first: usize) -> Option<Kernel<'a>> {
        // A row is accepted iff its bytes up to the last output group's 4 fit:
        // `row * k + need <= len`; this pass gathers at `row * k + first`.
        let need = 4 * k.div_ceil(4);
        let linear = |len: usize, bits: u32, strides: [usize; 4], origin: usize| {
            Some(GeoSpec {
                bits,
                strides: strides.map(|v| v * k),
                origin: origin * k + first,
                pos_limit: len.checked_sub(need)? + first,
                // Rows are positions here; a mixed chunk's index check passes these lanes.
                row_limit: i32::MAX as usize,
            })
        };
        let (a, b, band, index, spec_a, spec_b) = match table.table() {
            SpatialTable::Regular(t) => {
                let spec = linear(t.len(), fb, table.pos_strides(), 0)?;
                (t, t, None, None, spec, None)
            }
            SpatialTable::Dfc {
                geometry,
                fine,
                index,
                coarse,
            } => {
                let origin = geometry.index_pos([0; 4]);
                let bits = fb + geometry.si as u32 - 4;
                let fine_bytes = index.len().checked_mul(k)?;
                let dense = table.dense().filter(|d| {
                    Some(d.len()) == fine_bytes.checked_add(coarse.len() + DENSE_PADDING)
                });
                let (a, b, spec_a, spec_b, index) = match dense {
                    // One buffer: fine positions, then coarse rows (from `fine_bytes`), then
                    // `DENSE_PADDING` bytes. Reads of the last row of either part end inside
                    // the buffer: those of the fine part in the coarse rows (at least 16
                    // bytes), those of the coarse part in the padding; `linear` sees the
                    // lengths that allow them.
                    Some(d) => {
                        let mut spec_b = linear(d.len(), bits, table.coarse_strides(), 0)?;
                        spec_b.origin += fine_bytes;
                        let fine_reach = fine_bytes + DENSE_PADDING;
                        let spec_a = linear(fine_reach, fb, table.pos_strides(), origin)?;
                        (d, d, spec_a, spec_b, None)
                    }
                    None => {
                        let spec_a = GeoSpec {
                            bits: fb,
                            strides: table.pos_strides(),
                            origin,
                            pos_limit: index.len().checked_sub(1)?,
                            row_limit: fine.len().checked_sub(need)? / k,
                        };
                        let spec_b = linear(coarse.len(), bits, table.coarse_strides(), 0)?;
                        (fine, coarse, spec_a, spec_b, Some(index))
                    }
                };
                let lim = i32::try_from(geometry.dw).ok()?.checked_mul(1 << fb)?;
                let band = Band {
                    offset: _mm256_set1_epi32(lim - 1),
                    width: _mm256_set1_epi32(2 * lim - 1),
                    mask: [1, 2, 3].map(|t| _mm256_set1_epi32(-i32::from(t < geometry.dims))),
                };
                (a, b, Some(band), index, spec_a, Some(spec_b))
            }
        };
        let geo_a = spec_a.geo()?;
        let geo_b = match &spec_b {
            Some(s) => s.geo()?,
            None => geo_a,
        };
        Some(Kernel {
            a,
            b,
            band,
            index,
            geo_a,
            geo_b,
            k: k as i32,
            first: first as i32,
        })
    }
}

/// A table prepared for the AVX2 row kernel: one [`Plan`] per 4 outputs.
pub(crate) struct Spatial<'a> {
    /// Outputs 0-3, and 4-7 where the table has more than 4.
    pub(in crate::simd) passes: [Option<Plan<'a>>; 2],
    k: usize,
    fb: u32,
}

/// A pass's constants and its row loops (tap step 1, tap step 2), chosen once.
pub(in crate::simd) struct Plan<'a> {
    pub(in crate::simd) kern: Kernel<'a>,
    unit: RunFn,
    strided: RunFn,
}

impl Plan<'_> {
    /// Runs `pass` (made from this plan) with the row loop of its tap step.
    ///
    /// # Safety
    /// AVX2 is available, `pass.n >= 8`, and [`taps_fit`] holds for `pass.taps`.
    pub(in crate::simd) unsafe fn run(&self, pass: &Pass<'_, '_>, acc: &mut [i32]) {
        let run = if pass.taps.step == 1 {
            self.unit
        } else {
            self.strided
        };
        // SAFETY: the caller's contract.
        unsafe { run(pass, acc) }
    }
}

/// How [`Spatial::rows_by`] runs pass `i` over a block of rows (its plan, the pass over the
/// block's first row, the block, the accumulator from the pass's first output).
pub(in crate::simd) type PassRunner<'r> =
    dyn Fn(usize, &Plan<'_>, &Pass<'_, '_>, Rows, &mut [i32]) + 'r;

impl Plan<'_> {
    /// [`Plan::run`] on every row of `block`, `pass` being the pass over its first row.
    ///
    /// # Safety
    /// As [`Plan::run`], for every row.
    pub(in crate::simd) unsafe fn run_rows(
        &self,
        pass: &Pass<'_, '_>,
        block: Rows,
        acc: &mut [i32],
    ) {
        for y in 0..block.rows {
            let taps = pass.taps.row(y, block.pitch);
            let row = Pass {
                taps: &taps,
                ..*pass
            };
            // SAFETY: the caller's contract.
            unsafe { self.run(&row, &mut acc[y * block.acc_pitch..]) };
        }
    }
}

/// A row loop: [`run`] instantiated for one output count and table kind.
type RunFn = unsafe fn(&Pass<'_, '_>, &mut [i32]);

impl<'a> Spatial<'a> {
    /// The kernel for `table` with `fb` fraction bits and `k` outputs, if the AVX2 path can run
    /// it (else the portable path runs it).
    #[target_feature(enable = "avx2")]
    pub(crate) fn new(table: &PreparedTable<'a>, fb: u32, k: usize) -> Option<Spatial<'a>> {
        if !(1..=8).contains(&fb) || !(1..=8).contains(&k) {
            return None;
        }
        let plan = |first: usize| -> Option<Plan<'a>> {
            let kern = Kernel::new(table, fb, k, first)?;
            macro_rules! pick {
                ($n:literal) => {
                    match (kern.band.is_some(), kern.index.is_some()) {
                        (false, _) => (
                            run::<$n, true, false, false> as RunFn,
                            run::<$n, false, false, false> as RunFn,
                        ),
                        (true, false) => (
                            run::<$n, true, true, false> as RunFn,
                            run::<$n, false, true, false> as RunFn,
                        ),
                        (true, true) => (
                            run::<$n, true, true, true> as RunFn,
                            run::<$n, false, true, true> as RunFn,
                        ),
                    }
                };
            }
            let (unit, strided) = match (k - first).min(4) {
                1 => pick!(1),
                2 => pick!(2),
                3 => pick!(3),
                _ => pick!(4),
            };
            Some(Plan {
                kern,
                unit,
                strided,
            })
        };
        let second = if k > 4 { Some(plan(4)?) } else { None };
        Some(Spatial {
            passes: [Some(plan(0)?), second],
            k,
            fb,
        })
    }

    /// See [`super::super::SpatialKernel::rows`]; `table` is the one the kernel was made for.
    ///
    /// # Safety
    /// AVX2 is available, and `acc` holds `(k - 1) * stride + span` values with `span =
    /// (rows - 1) * acc_pitch + n`, `stride >= span`, `acc_pitch >= n`.
    pub(crate) unsafe fn rows(
        &self,
        table: &PreparedTable<'_>,
        taps: &RowTaps<'_>,
        block: Rows,
        acc: &mut [i32],
        stride: usize,
    ) {
        let run = |_: usize, plan: &Plan<'_>, pass: &Pass<'_, '_>, block: Rows, acc: &mut [i32]| {
            // SAFETY: AVX2 is available, and [`taps_fit`] holds for every row (`rows_by`).
            unsafe { plan.run_rows(pass, block, acc) }
        };
        // SAFETY: the caller's contract.
        unsafe { self.rows_by(table, taps, block, acc, stride, &run) }
    }

    /// [`Spatial::rows`] with each pass over the block run by `run(pass_index, plan, pass,
    /// block, acc)` (`pass` over the first row, `acc` from the pass's first output): blocks of
    /// rows of fewer than 8 samples, or whose taps cannot be loaded in place, take the
    /// portable code instead; for the others, AVX2 is available and [`taps_fit`] holds for
    /// every row's taps.
    ///
    /// # Safety
    /// As [`Spatial::rows`].
    pub(in crate::simd) unsafe fn rows_by(
        &self,
        table: &PreparedTable<'_>,
        taps: &RowTaps<'_>,
        block: Rows,
        acc: &mut [i32],
        stride: usize,
        run: &PassRunner<'_>,
    ) {
        let (k, fb, n) = (self.k, self.fb, block.n);
        // The last row's taps fitting bounds every row's (starts grow with the row).
        let last = RowTaps {
            start: taps
                .start
                .map(|s| s.saturating_add(block.pitch.saturating_mul(block.rows - 1))),
            ..*taps
        };
        if n < 8 || !taps_fit(&last, n) {
            super::super::portable_rows(table, taps, fb, block, k, acc, stride);
            return;
        }
        for (i, plan) in self.passes.iter().enumerate() {
            let Some(plan) = plan else { break };
            let pass = Pass {
                kern: &plan.kern,
                table,
                taps,
                fb,
                n,
                k,
                stride,
                lead: i == 0,
            };
            run(i, plan, &pass, block, &mut acc[4 * i * stride..]);
        }
    }
}

/// Whether every chunk's tap loads can read 8 (step 1) or 16 (step 2) values in place (other
/// steps never occur in the engine: they take the portable path).
fn taps_fit(taps: &RowTaps<'_>, n: usize) -> bool {
    let span = match taps.step {
        1 => n,
        2 => 2 * n,
        _ => return false,
    };
    taps.start
        .iter()
        .all(|&s| s.checked_add(span).is_some_and(|e| e <= taps.data.len()))
}

/// One pass over a row: outputs `first..first + N` of every sample.
#[derive(Clone, Copy)]
pub(in crate::simd) struct Pass<'p, 'a> {
    pub(in crate::simd) kern: &'p Kernel<'a>,
    pub(in crate::simd) table: &'p PreparedTable<'p>,
    pub(in crate::simd) taps: &'p RowTaps<'p>,
    pub(in crate::simd) fb: u32,
    pub(in crate::simd) n: usize,
    pub(in crate::simd) k: usize,
    pub(in crate::simd) stride: usize,
    /// The first pass, which computes refused chunks with the portable code (all outputs).
    pub(in crate::simd) lead: bool,
}

/// Runs a pass: chunks of 8; the last one overlaps the previous and adds only its new lanes.
/// `acc` starts at the pass's first output.
///
/// # Safety
/// AVX2 is available, `n >= 8`, and [`taps_fit`] holds with the step `UNIT` names (1, or 2).
#[target_feature(enable = "avx2")]
unsafe fn run<const N: usize, const UNIT: bool, const DFC: bool, const INDEX: bool>(
    pass: &Pass<'_, '_>,
    acc: &mut [i32],
) {
    let (kern, n, stride, taps) = (pass.kern, pass.n, pass.stride, pass.taps);
    assert!((N - 1) * stride + n <= acc.len(), "accumulator rows");
    assert_eq!(taps.step, if UNIT { 1 } else { 2 }, "tap step");
    let all = _mm256_set1_epi32(-1);
    // Tap pointers of sample 0; sample x's taps are `step * x` further.
    // SAFETY: `s <= s + step * n <= len` ([`taps_fit`]).
    let taps_at = taps.start.map(|s| unsafe { taps.data.as_ptr().add(s) });
    let single = std::ptr::eq(kern.a, kern.b);
    let mut x = 0;
    while x < n {
        let (x0, keep) = if x + 8 <= n {
            (x, all)
        } else {
            (n - 8, keep_from(x - (n - 8)))
        };
        // SAFETY: [`taps_fit`] holds (the caller's contract) and `x0 + 8 <= n`.
        let v = unsafe { load_taps::<UNIT>(&taps_at, x0) };
        // SAFETY: `x0 + 8 <= n`, so rows `j < N` of 8 values at `j * stride + x0` lie in
        // `acc` (asserted above).
        let out = unsafe { acc.as_mut_ptr().add(x0) };
        // SAFETY: AVX2 is available; `out` as just argued.
        let done = unsafe { chunk8::<N, DFC, INDEX>(kern, single, v, out, stride, keep) };
        if !done && pass.lead {
            let xs = x..x0 + 8;
            portable::spatial_row(pass.table, taps, pass.fb, xs, pass.k, acc, stride);
        }
        x = x0 + 8;
    }
}

/// Lanes `skip..8` (all ones), the others zero.
#[inline]
#[target_feature(enable = "avx2")]
fn keep_from(skip: usize) -> __m256i {
    let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_cmpgt_epi32(lane, _mm256_set1_epi32(skip as i32 - 1))
}

/// One chunk of 8 samples with taps `v`: the common chunks (regular; DFC all fine or all
/// coarse in one buffer) share one call site, so that it is inlined; the others go through
/// [`rare_chunk`]. Returns false, having added nothing, where [`chunk`] refuses.
///
/// # Safety
/// As [`chunk`].
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn chunk8<const N: usize, const DFC: bool, const INDEX: bool>(
    kern: &Kernel<'_>,
    single: bool,
    v: [__m256i; 4],
    out: *mut i32,
    stride: usize,
    keep: __m256i,
) -> bool {
    let all = _mm256_set1_epi32(-1);
    let (g, fine) = match kern.band {
        Some(b) if DFC => {
            let fine = band(&v, &b);
            match _mm256_movemask_ps(_mm256_castsi256_ps(fine)) {
                0xff if !INDEX && single => (Some(&kern.geo_a), fine),
                0 if single => (Some(&kern.geo_b), fine),
                _ => (None, fine),
            }
        }
        _ => (Some(&kern.geo_a), all),
    };
    // SAFETY: the caller's contract.
    unsafe {
        match g {
            Some(g) => chunk::<N, SRC_A, false>(kern, g, v, fine, out, stride, keep),
            None => rare_chunk::<N, INDEX>(kern, v, fine, out, stride, keep),
        }
    }
}

/// The chunks [`run`] does not inline: DFC chunks with fine and coarse lanes, and (index path)
/// DFC chunks reading fine rows through the index or coarse rows from their own table.
///
/// # Safety
/// As [`chunk`].
#[inline(never)]
#[target_feature(enable = "avx2")]
unsafe fn rare_chunk<const N: usize, const INDEX: bool>(
    kern: &Kernel<'_>,
    v: [__m256i; 4],
    fine: __m256i,
    out: *mut i32,
    stride: usize,
    keep: __m256i,
) -> bool {
    // SAFETY: the caller's contract.
    unsafe {
        match _mm256_movemask_ps(_mm256_castsi256_ps(fine)) {
            0xff => chunk::<N, SRC_A, INDEX>(kern, &kern.geo_a, v, fine, out, stride, keep),
            0 => chunk::<N, SRC_B, false>(kern, &kern.geo_b, v, fine, out, stride, keep),
            _ => {
                let g = Geo::blend(&kern.geo_a, &kern.geo_b, fine);
                chunk::<N, SRC_MIXED, INDEX>(kern, &g, v, fine, out, stride, keep)
            }
        }
    }
}
