//! The AVX-512 4-simplex row kernel: chunks of 16 samples, built on the AVX2 kernel's
//! per-table constants ([`avx2::simplex::Kernel`]), widened, and falling back to two AVX2
//! chunks wherever the 16-lane code does not apply (the parent module says which).

use std::arch::x86_64::*;

use super::super::avx2::simplex::{self as narrow, Band, Geo, Pass, Plan};
use super::super::{RowTaps, Rows, portable};
use crate::interp::PreparedTable;
use crate::tables::ONE;

/// A [`Geo`] widened to 16 lanes (per-lane values).
#[derive(Clone, Copy)]
struct Geo16 {
    bits: __m512i,
    up: __m512i,
    strides: [__m512i; 4],
    origin: __m512i,
    span: __m512i,
    pos_limit: __m512i,
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
#[target_feature(enable = "avx2,avx512f,avx512bw")]
fn widen(v: __m256i) -> __m512i {
    _mm512_broadcastd_epi32(_mm256_castsi256_si128(v))
}

impl Geo16 {
    #[target_feature(enable = "avx2,avx512f,avx512bw")]
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

impl Geo16 {
    /// Lanes of `mask` from `a`, the others from `b` (per-lane fields only).
    #[inline]
    #[target_feature(enable = "avx2,avx512f,avx512bw")]
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

/// The 16-lane constants of one pass, and its row loops (tap step 1, tap step 2).
struct Wide {
    geo_a: Geo16,
    geo_b: Geo16,
    band: Option<Band16>,
    unit: WideFn,
    strided: WideFn,
}

/// A row loop: [`run`] instantiated for one output count and table kind.
type WideFn = unsafe fn(&Wide, &Pass<'_, '_>, &mut [i32]);

impl Wide {
    /// The 16-lane form of `plan`, where its table is one buffer read by position (regular,
    /// or DFC in the dense layout); `None` otherwise (the AVX2 plan then runs every chunk).
    #[target_feature(enable = "avx2,avx512f,avx512bw")]
    fn new(plan: &Plan<'_>, n_out: usize, k: usize) -> Option<Wide> {
        let kern = &plan.kern;
        if kern.index.is_some() || !std::ptr::eq(kern.a, kern.b) {
            return None;
        }
        let band = kern.band.map(|b: Band| Band16 {
            offset: widen(b.offset),
            width: widen(b.width),
            mask: b.mask.map(|m| widen(m)),
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
            ($n:literal, $pair:literal) => {
                if band.is_some() {
                    (
                        run::<$n, true, true, $pair> as WideFn,
                        run::<$n, false, true, $pair> as WideFn,
                    )
                } else {
                    (
                        run::<$n, true, false, $pair> as WideFn,
                        run::<$n, false, false, $pair> as WideFn,
                    )
                }
            };
        }
        let (unit, strided) = match (n_out, pair) {
            (1, true) => pick!(1, true),
            (1, false) => pick!(1, false),
            (2, true) => pick!(2, true),
            (2, false) => pick!(2, false),
            (3, _) => pick!(3, false),
            _ => pick!(4, false),
        };
        Some(Wide {
            geo_a: Geo16::new(&kern.geo_a),
            geo_b: Geo16::new(&kern.geo_b),
            band,
            unit,
            strided,
        })
    }
}

/// A table prepared for the AVX-512 row kernel: the AVX2 kernel, and the 16-lane form of each
/// of its passes where there is one.
pub(super) struct Spatial<'a> {
    narrow: narrow::Spatial<'a>,
    wide: [Option<Wide>; 2],
}

impl<'a> Spatial<'a> {
    /// The kernel for `table` with `fb` fraction bits and `k` outputs, if the AVX2 path can run
    /// it (else the portable path runs it).
    #[target_feature(enable = "avx2,avx512f,avx512bw")]
    pub(super) fn new(table: &PreparedTable<'a>, fb: u32, k: usize) -> Option<Spatial<'a>> {
        let narrow = narrow::Spatial::new(table, fb, k)?;
        let wide = [0, 1].map(|i| {
            let plan = narrow.passes[i].as_ref()?;
            Wide::new(plan, (k - 4 * i).min(4), k)
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
        let run =
            |i: usize, plan: &Plan<'_>, pass: &Pass<'_, '_>, acc: &mut [i32]| match &self.wide[i] {
                Some(w) if pass.n >= 16 => {
                    let run = if pass.taps.step == 1 {
                        w.unit
                    } else {
                        w.strided
                    };
                    // SAFETY: AVX-512 F/BW and AVX2 are available (the caller's contract),
                    // `n >= 16`, and `rows_by` calls with taps that fit.
                    unsafe { run(w, pass, acc) }
                }
                // SAFETY: AVX2 is available; `rows_by` calls with `n >= 8` and taps that fit.
                _ => unsafe { plan.run(pass, acc) },
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
#[target_feature(enable = "avx2,avx512f,avx512bw")]
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
#[target_feature(enable = "avx2,avx512f,avx512bw")]
fn band(v: &[__m512i; 4], b: &Band16) -> __mmask16 {
    let c = _mm512_sub_epi32(b.offset, v[0]);
    let u = [0, 1, 2].map(|t| _mm512_and_si512(_mm512_add_epi32(v[t + 1], c), b.mask[t]));
    let m = _mm512_max_epu32(_mm512_max_epu32(u[0], u[1]), u[2]);
    _mm512_cmple_epu32_mask(m, b.width)
}

/// Runs a pass over a row: chunks of 16; the last one overlaps the previous and adds only its
/// new lanes; chunks the 16-lane code does not take run as two AVX2 chunks.
///
/// # Safety
/// AVX-512 F/BW and AVX2 are available, `n >= 16`, and the taps fit as for the AVX2 `run`.
#[target_feature(enable = "avx2,avx512f,avx512bw")]
unsafe fn run<const N: usize, const UNIT: bool, const DFC: bool, const PAIR: bool>(
    wide: &Wide,
    pass: &Pass<'_, '_>,
    acc: &mut [i32],
) {
    let (kern, n, stride, taps) = (pass.kern, pass.n, pass.stride, pass.taps);
    assert!(n >= 16, "rows of 16 samples or more");
    assert!((N - 1) * stride + n <= acc.len(), "accumulator rows");
    assert_eq!(taps.step, if UNIT { 1 } else { 2 }, "tap step");
    // SAFETY: `s <= s + step * n <= len` (the caller's contract).
    let taps_at = taps.start.map(|s| unsafe { taps.data.as_ptr().add(s) });
    let table = kern.a.as_ptr().cast::<i32>();
    let mut x = 0;
    while x < n {
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
        let g = match wide.band {
            Some(b) if DFC => match band(&v, &b) {
                0xffff => &wide.geo_a,
                0 => &wide.geo_b,
                fine => {
                    blended = Geo16::blend(&wide.geo_a, &wide.geo_b, fine);
                    &blended
                }
            },
            _ => &wide.geo_a,
        };
        // SAFETY: `out` as just argued; `table` is the one buffer the geometries address.
        let done = unsafe { chunk::<N, PAIR, UNIT, DFC>(table, g, v, out, stride, keep) };
        if !done && pass.lead {
            portable::spatial_row(pass.table, taps, pass.fb, x..x0 + 16, pass.k, acc, stride);
        }
        x = x0 + 16;
    }
}

/// One chunk of 16 samples read from one buffer at positions `g` gives: adds the `keep` lanes'
/// look-ups to the `N` rows at `out` (stride `stride`). Returns false, having added nothing, if
/// a lane's rows lie outside what may be gathered. `PAIR`: rows are `N` bytes (`N` outputs of
/// `N`) and the last coordinate's stride is `N` bytes, so two vertices one step apart along it
/// are read with one gather (4 gathers a look-up instead of 5). `UNIT` and `DFC` are those of
/// the row loop calling it, only so that every loop has its own copy with one call site, which
/// the compiler then inlines (a shared copy is called out of line, its vectors passed through
/// memory).
///
/// # Safety
/// AVX-512 F/BW are available; `table` is the buffer whose `pos_limit` `g` holds (every lane's
/// last vertex at most `pos_limit` leaves 4 bytes to gather); `out.add(j * stride)` is valid
/// for 16 i32 reads and writes, `j < N`.
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw")]
unsafe fn chunk<const N: usize, const PAIR: bool, const UNIT: bool, const DFC: bool>(
    table: *const i32,
    g: &Geo16,
    v: [__m512i; 4],
    out: *mut i32,
    stride: usize,
    keep: __mmask16,
) -> bool {
    let zero = _mm512_setzero_si512();
    let frac = _mm512_set1_epi32(0xff_0000);
    let mut base = g.origin;
    let mut keys = [zero; 4];
    for t in 0..4 {
        // Per-lane shifts: a mixed DFC chunk's lanes split their values two ways (and on
        // this level they cost what shifts by one count do).
        let (node, f) = (
            _mm512_srlv_epi32(v[t], g.bits),
            _mm512_sllv_epi32(v[t], g.up),
        );
        base = _mm512_add_epi32(base, _mm512_mullo_epi32(node, g.strides[t]));
        keys[t] = _mm512_or_si512(_mm512_and_si512(f, frac), g.strides[t]);
    }
    // Positions grow along the path, so the last vertex's bounds them all.
    if _mm512_cmple_epu32_mask(_mm512_add_epi32(base, g.span), g.pos_limit) != 0xffff {
        return false;
    }
    for (a, b) in [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)] {
        let (hi, lo) = (
            _mm512_max_epi32(keys[a], keys[b]),
            _mm512_min_epi32(keys[a], keys[b]),
        );
        keys[a] = hi;
        keys[b] = lo;
    }
    let low = _mm512_set1_epi32(0xffff);
    let mut pos = [base; 5];
    for r in 1..5 {
        pos[r] = _mm512_add_epi32(pos[r - 1], _mm512_and_si512(keys[r - 1], low));
    }
    let fs = [0, 1, 2, 3].map(|r| _mm512_srli_epi32::<16>(keys[r]));
    let w = [
        _mm512_sub_epi32(_mm512_set1_epi32(ONE), fs[0]),
        _mm512_sub_epi32(fs[0], fs[1]),
        _mm512_sub_epi32(fs[1], fs[2]),
        _mm512_sub_epi32(fs[2], fs[3]),
        fs[3],
    ];
    let mut sums = [zero; N];
    // Output `j` of vertex `r`, `j < N`: byte `j + N h` of the word at `c`, weighted by `w`.
    let mut add = |word: __m512i, w: __m512i, h: usize| {
        for (j, s) in sums.iter_mut().enumerate() {
            // Byte j + N h of the word, sign-extended.
            let t = match j + N * h {
                0 => _mm512_srai_epi32::<24>(_mm512_slli_epi32::<24>(word)),
                1 => _mm512_srai_epi32::<24>(_mm512_slli_epi32::<16>(word)),
                2 => _mm512_srai_epi32::<24>(_mm512_slli_epi32::<8>(word)),
                _ => _mm512_srai_epi32::<24>(word),
            };
            *s = _mm512_add_epi32(*s, _mm512_mullo_epi32(w, t));
        }
    };
    if PAIR {
        // The step of stride N (bytes) joins two vertices in one 4-byte word: with `t[r]` the
        // lanes whose step `r` is that one, vertex `r + 1` is read with vertex `r` and the
        // later vertices move one word down, so 4 gathers read all 5 vertices.
        let pair = _mm512_set1_epi32(N as i32);
        let t = [0, 1, 2, 3].map(|r| _mm512_cmpeq_epi32_mask(_mm512_and_si512(keys[r], low), pair));
        let later = [0, t[0], t[0] | t[1], t[0] | t[1] | t[2]];
        for r in 0..4 {
            let c = _mm512_mask_blend_epi32(later[r], pos[r], pos[r + 1]);
            // SAFETY: `pos[r] <= c <= pos[4]`, which leaves 4 bytes in the table (checked
            // above).
            let word = unsafe { _mm512_i32gather_epi32::<1>(c, table) };
            add(word, _mm512_mask_blend_epi32(later[r], w[r], w[r + 1]), 0);
            add(word, _mm512_maskz_mov_epi32(t[r], w[r + 1]), 1);
        }
    } else {
        for (p, w) in pos.into_iter().zip(w) {
            // SAFETY: every lane's position leaves 4 bytes in the table (checked above).
            let word = unsafe { _mm512_i32gather_epi32::<1>(p, table) };
            add(word, w, 0);
        }
    }
    for (j, s) in sums.into_iter().enumerate() {
        // SAFETY: the caller's contract on `out`.
        unsafe {
            let p = out.add(j * stride);
            let old = _mm512_loadu_si512(p.cast());
            _mm512_storeu_si512(p.cast(), _mm512_mask_add_epi32(old, keep, old, s));
        }
    }
    true
}
