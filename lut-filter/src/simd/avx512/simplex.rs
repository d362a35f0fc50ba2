//! The AVX-512 4-simplex row kernel: chunks of 16 samples, built on the AVX2 kernel's
//! per-table constants ([`avx2::simplex::Kernel`]), widened, and falling back to two AVX2
//! chunks wherever the 16-lane code does not apply (the parent module says which).

use std::arch::x86_64::*;

use super::super::avx2::simplex::{self as narrow, Band, Geo, Pass, Plan};
use super::super::{RowTaps, Rows, portable};
use super::chunk::{CUBES, PAIRS, WORDS, chunk};
use super::cube32::{Cubes32, chunk32};
use crate::interp::PreparedTable;
use crate::tables::{CUBE_BYTES, CUBE_PADDING, DENSE_PADDING};

/// A [`Geo`] widened to 16 lanes (per-lane values).
#[derive(Clone, Copy)]
pub(super) struct Geo16 {
    pub(super) bits: __m512i,
    pub(super) up: __m512i,
    pub(super) strides: [__m512i; 4],
    pub(super) origin: __m512i,
    pub(super) span: __m512i,
    pub(super) pos_limit: __m512i,
}

/// A [`Band`] widened to 16 lanes.
#[derive(Clone, Copy)]
struct Band16 {
    offset: __m512i,
    width: __m512i,
    mask: [__m512i; 3],
}

/// Lane 0 of `v` in every lane of a 512-bit vector (`v` is a broadcast constant).
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
fn widen(v: __m256i) -> __m512i {
    _mm512_broadcastd_epi32(_mm256_castsi256_si128(v))
}

impl Geo16 {
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
    fn new(g: &Geo) -> Geo16 {
        Geo16 {
            bits: widen(g.bits),
            up: widen(g.up),
            strides: g.strides.map(|s| widen(s)),
            origin: widen(g.origin),
            span: widen(g.span),
            pos_limit: widen(g.pos_limit),
        }
    }
}

impl Band16 {
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
    fn new(b: &Band) -> Band16 {
        Band16 {
            offset: widen(b.offset),
            width: widen(b.width),
            mask: b.mask.map(|m| widen(m)),
        }
    }
}

impl Geo16 {
    /// Lanes of `mask` from `a`, the others from `b` (per-lane fields only).
    #[inline]
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
    fn blend(a: &Geo16, b: &Geo16, mask: __mmask16) -> Geo16 {
        let m = |x: __m512i, y: __m512i| _mm512_mask_blend_epi32(mask, y, x);
        Geo16 {
            bits: m(a.bits, b.bits),
            up: m(a.up, b.up),
            strides: [0, 1, 2, 3].map(|t| m(a.strides[t], b.strides[t])),
            origin: m(a.origin, b.origin),
            span: m(a.span, b.span),
            pos_limit: m(a.pos_limit, b.pos_limit),
        }
    }
}

/// The 16-lane constants of one pass, the buffer its chunks read, and its row loops (tap step
/// 1, tap step 2).
///
/// The vector constants themselves are made from the AVX2 plan's at the start of each block
/// of rows: kept here, they would make every kernel kilobytes to build and move, per filter
/// call and look-up, which CTU-by-CTU calls pay for.
struct Wide<'a> {
    table: &'a [i8],
    /// The cube layout, for passes whose constants fit the 32-sample chunks.
    cubes32: Option<&'a [i8]>,
    unit: WideFn,
    strided: WideFn,
}

/// A row loop: [`run`] instantiated for one output count, table kind and read mode.
type WideFn = unsafe fn(&Wide<'_>, &Pass<'_, '_>, Rows, &mut [i32]);

impl<'a> Wide<'a> {
    /// The 16-lane form of `plan` (outputs `n_out` of `k` per pass), where its table is one
    /// buffer read by position (regular, or DFC in the dense layout, with its cube layout for
    /// 1- and 2-output tables where `table` carries it); `None` otherwise (the AVX2 plan then runs
    /// every chunk).
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
    fn new(
        table: &PreparedTable<'a>,
        plan: &Plan<'a>,
        fb: u32,
        n_out: usize,
        k: usize,
    ) -> Option<Self> {
        let kern = &plan.kern;
        if kern.index.is_some() || !std::ptr::eq(kern.a, kern.b) {
            return None;
        }
        let band = kern.band;
        // Cubes: 1- and 2-output DFC rows by position (the dense layout), whose positions are
        // then cube numbers; the length check ties the cubes to this dense layout.
        let cubes = table.cubes().filter(|c| {
            n_out == k
                && band.is_some()
                && kern
                    .a
                    .len()
                    .checked_sub(DENSE_PADDING)
                    .map(|l| l * CUBE_BYTES + CUBE_PADDING)
                    == Some(c.len())
        });
        // Vertices one row apart share a 4-byte word where rows are 1 or 2 bytes (one pass
        // of every output) and the last coordinate's stride is one row.
        let last_stride = |g: &Geo| _mm_cvtsi128_si32(_mm256_castsi256_si128(g.strides[3]));
        let pair = n_out == k
            && k <= 2
            && [&kern.geo_a, &kern.geo_b]
                .iter()
                .all(|g| last_stride(g) == k as i32);
        macro_rules! pick {
            ($n:literal, $mode:expr) => {
                if band.is_some() {
                    (
                        run::<$n, true, true, { $mode }> as WideFn,
                        run::<$n, false, true, { $mode }> as WideFn,
                    )
                } else {
                    (
                        run::<$n, true, false, { $mode }> as WideFn,
                        run::<$n, false, false, { $mode }> as WideFn,
                    )
                }
            };
        }
        // 1-output cubes run every chunk from the cubes; 2-output ones only the chunks of 32,
        // those of 16 reading pairs from the dense layout.
        let (unit, strided) = match (n_out, cubes.is_some(), pair) {
            (1, true, _) => pick!(1, CUBES),
            (1, false, true) => pick!(1, PAIRS),
            (1, false, false) => pick!(1, WORDS),
            (2, _, true) => pick!(2, PAIRS),
            (2, _, false) => pick!(2, WORDS),
            (3, _, _) => pick!(3, WORDS),
            _ => pick!(4, WORDS),
        };
        let cubes32 = match (cubes, &kern.band) {
            (Some(c), Some(b)) if n_out == 1 || pair => {
                Cubes32::new(&kern.geo_a, &kern.geo_b, b, fb)
                    .is_some()
                    .then_some(c)
            }
            _ => None,
        };
        Some(Wide {
            table: if n_out == 1 {
                cubes.unwrap_or(kern.a)
            } else {
                kern.a
            },
            cubes32,
            unit,
            strided,
        })
    }
}

/// A table prepared for the AVX-512 row kernel: the AVX2 kernel, and the 16-lane form of each
/// of its passes where there is one.
pub(super) struct Spatial<'a> {
    narrow: narrow::Spatial<'a>,
    wide: [Option<Wide<'a>>; 2],
}

impl<'a> Spatial<'a> {
    /// The kernel for `table` with `fb` fraction bits and `k` outputs, if the AVX2 path can run
    /// it (else the portable path runs it).
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
    pub(super) fn new(table: &PreparedTable<'a>, fb: u32, k: usize) -> Option<Spatial<'a>> {
        let narrow = narrow::Spatial::new(table, fb, k)?;
        let wide = [0, 1].map(|i| {
            let plan = narrow.passes[i].as_ref()?;
            Wide::new(table, plan, fb, (k - 4 * i).min(4), k)
        });
        Some(Spatial { narrow, wide })
    }

    /// See [`super::super::SpatialKernel::rows`].
    ///
    /// # Safety
    /// AVX-512 F/BW and AVX2 are available, and `acc` is as [`narrow::Spatial::rows`] needs.
    pub(super) unsafe fn rows(
        &self,
        table: &PreparedTable<'_>,
        taps: &RowTaps<'_>,
        block: Rows,
        acc: &mut [i32],
        stride: usize,
    ) {
        let run = |i: usize, plan: &Plan<'_>, pass: &Pass<'_, '_>, block: Rows, acc: &mut [i32]| {
            match &self.wide[i] {
                Some(w) if pass.n >= 16 => {
                    let run = if pass.taps.step == 1 {
                        w.unit
                    } else {
                        w.strided
                    };
                    // SAFETY: AVX-512 F/BW/VBMI and AVX2 are available (the caller's
                    // contract), `n >= 16`, and `rows_by` calls with taps that fit.
                    unsafe { run(w, pass, block, acc) }
                }
                // SAFETY: AVX2 is available; `rows_by` calls with `n >= 8` and taps that fit.
                _ => unsafe { plan.run_rows(pass, block, acc) },
            }
        };
        // SAFETY: the caller's contract.
        unsafe { self.narrow.rows_by(table, taps, block, acc, stride, &run) }
    }
}

/// Loads the four tap values of samples `x0..x0 + 16` (`at`: the taps of sample 0): 16 u16 per
/// tap (`UNIT`), or 32 of which the even ones (step 2).
///
/// # Safety
/// AVX-512 F/BW are available, and every tap has `step * (x0 + 16)` u16 readable from `at[t]`.
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
unsafe fn load_taps<const UNIT: bool>(at: &[*const u16; 4], x0: usize) -> [__m512i; 4] {
    at.map(|p| {
        if UNIT {
            // SAFETY: 16 u16 of the map (the caller's contract).
            _mm512_cvtepu16_epi32(unsafe { _mm256_loadu_si256(p.add(x0).cast()) })
        } else {
            // SAFETY: 32 u16 of the map (the caller's contract); the low half of each 32-bit
            // lane is an even element.
            let w = unsafe { _mm512_loadu_si512(p.add(2 * x0).cast()) };
            _mm512_and_si512(w, _mm512_set1_epi32(0xffff))
        }
    })
}

/// DFC band test of 16 lanes (as the AVX2 `band`): bit set where the lane is in the fine band.
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
fn band(v: &[__m512i; 4], b: &Band16) -> __mmask16 {
    let c = _mm512_sub_epi32(b.offset, v[0]);
    let u = [0, 1, 2].map(|t| _mm512_and_si512(_mm512_add_epi32(v[t + 1], c), b.mask[t]));
    let m = _mm512_max_epu32(_mm512_max_epu32(u[0], u[1]), u[2]);
    _mm512_cmple_epu32_mask(m, b.width)
}

/// Runs a pass over every row of `block` (`pass`: the pass over its first row): chunks of 16
/// (cube passes: of 32 while whole ones fit); the last one overlaps the previous and adds only
/// its new lanes.
///
/// # Safety
/// AVX-512 F/BW/VBMI and AVX2 are available, `n >= 16`, and the taps of every row fit as for
/// the AVX2 `run`.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
unsafe fn run<const N: usize, const UNIT: bool, const DFC: bool, const MODE: u8>(
    wide: &Wide<'_>,
    pass: &Pass<'_, '_>,
    block: Rows,
    acc: &mut [i32],
) {
    let kern = pass.kern;
    let consts = Consts {
        geo_a: Geo16::new(&kern.geo_a),
        geo_b: Geo16::new(&kern.geo_b),
        band: kern.band.as_ref().map(|b| Band16::new(b)),
        cubes32: match &kern.band {
            Some(b) if wide.cubes32.is_some() => Cubes32::new(&kern.geo_a, &kern.geo_b, b, pass.fb),
            _ => None,
        },
    };
    for y in 0..block.rows {
        let taps = pass.taps.row(y, block.pitch);
        let row = Pass {
            taps: &taps,
            ..*pass
        };
        let acc = &mut acc[y * block.acc_pitch..];
        // SAFETY: the caller's contract, for every row.
        unsafe { run_row::<N, UNIT, DFC, MODE>(wide, &consts, &row, acc) };
    }
}

/// The vector constants of a pass (see [`Wide`]).
struct Consts {
    geo_a: Geo16,
    geo_b: Geo16,
    band: Option<Band16>,
    cubes32: Option<Cubes32>,
}

/// [`run`] on one row.
///
/// # Safety
/// As [`run`].
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
unsafe fn run_row<const N: usize, const UNIT: bool, const DFC: bool, const MODE: u8>(
    wide: &Wide<'_>,
    consts: &Consts,
    pass: &Pass<'_, '_>,
    acc: &mut [i32],
) {
    let (n, stride, taps) = (pass.n, pass.stride, pass.taps);
    assert!(n >= 16, "rows of 16 samples or more");
    assert!((N - 1) * stride + n <= acc.len(), "accumulator rows");
    assert_eq!(taps.step, if UNIT { 1 } else { 2 }, "tap step");
    // SAFETY: `s <= s + step * n <= len` (the caller's contract).
    let taps_at = taps.start.map(|s| unsafe { taps.data.as_ptr().add(s) });
    let table = wide.table.as_ptr();
    // Samples `x..` (a chunk of 16, the last one overlapping the previous); returns the next.
    let step16 = |x: usize, acc: &mut [i32]| -> usize {
        let (x0, skip) = if x + 16 <= n {
            (x, 0)
        } else {
            (n - 16, x - (n - 16))
        };
        // SAFETY: the taps fit (the caller's contract) and `x0 + 16 <= n`.
        let v = unsafe { load_taps::<UNIT>(&taps_at, x0) };
        // SAFETY: `x0 + 16 <= n`, so rows `j < N` of 16 values at `j * stride + x0` lie in
        // `acc` (asserted above).
        let out = unsafe { acc.as_mut_ptr().add(x0) };
        let keep = 0xffff_u16 << skip;
        // Lanes all placed alike (regular table; DFC all fine or all coarse), or a DFC chunk's
        // fine and coarse lanes each their own way.
        let blended;
        let g = match &consts.band {
            Some(b) if DFC => match band(&v, b) {
                0xffff => &consts.geo_a,
                0 => &consts.geo_b,
                fine => {
                    blended = Geo16::blend(&consts.geo_a, &consts.geo_b, fine);
                    &blended
                }
            },
            _ => &consts.geo_a,
        };
        // SAFETY: `out` as just argued; `table` is the buffer the geometries address, read as
        // `MODE` says (`Wide::new`).
        let done = unsafe { chunk::<N, MODE, UNIT, DFC>(table, g, v, out, stride, keep) };
        if !done && pass.lead {
            portable::spatial_row(pass.table, taps, pass.fb, x..x0 + 16, pass.k, acc, stride);
        }
        x0 + 16
    };
    let mut x = 0;
    // Cube passes: chunks of 32 samples in 16-bit lanes while whole ones fit; a refused one
    // runs as two chunks of 16.
    // (Only the loops that can have cubes call it, so that every copy of it has one call
    // site, where the compiler inlines it.)
    let cube_loop = MODE == CUBES || (N == 2 && MODE == PAIRS && DFC);
    if let (Some(c), Some(cubes)) = (consts.cubes32.as_ref(), wide.cubes32)
        && cube_loop
    {
        while x + 32 <= n {
            // SAFETY: the taps fit and `x + 32 <= n` (as for 16 above); `cubes` is the cube
            // layout `c` addresses, of `N` outputs (`Wide::new`); `out` has `N` rows of 32
            // values `stride` apart (asserted above).
            let done = unsafe {
                chunk32::<UNIT, N>(
                    c,
                    cubes.as_ptr(),
                    &taps_at,
                    x,
                    acc.as_mut_ptr().add(x),
                    stride,
                )
            };
            x = if done {
                x + 32
            } else {
                step16(step16(x, acc), acc)
            };
        }
    }
    while x < n {
        x = step16(x, acc);
    }
}
