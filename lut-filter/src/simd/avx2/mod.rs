//! AVX2 row kernels: 8 samples per step (one per 32-bit lane).
//!
//! A 4-simplex look-up of 8 samples ([`chunk`], constants and row loop in [`simplex`]): the tap
//! values are loaded straight from the map (16-bit, zero-extended), split into node and 8-bit
//! fraction (per-lane shifts where a DFC chunk mixes fine and coarse lanes), sorted by a
//! 5-comparator network with `max`/`min` on keys `fraction << 16 | stride` (strides distinct
//! and decreasing, so the order is the documented one: largest fraction first, ties to the
//! lower coordinate; a sorted key's low half is the step to the next vertex). Table rows are
//! read with one 32-bit gather per vertex and group of 4 outputs; output `j` is byte `j % 4`
//! of it, sign-extended by a shift pair. Weights times values are summed in 32 bits, as the
//! portable code does (no overflow: at most `128 * 256` per look-up). DFC tables are read
//! from the engine's position-addressed layout ([`crate::tables::DfcGeometry::dense`]) or,
//! without it, fine lanes through the index table (masked gather). [`trilinear`]: channel
//! nodes, 8 corners per sample.
//!
//! **Memory safety.** Every gather offset is checked before the gather (unsigned compares, so
//! negative values fail too): positions grow along the simplex path, so the last vertex's
//! position bounds every lane's reads (`offset + 4 <= len`), and index rows are checked one by
//! one. A chunk with any lane outside is computed by the portable code, which indexes with
//! bounds checks: a 32-bit gather of a regular table's last row would read up to 3 bytes past
//! its end, so those (rare, saturated) samples take the portable path; the engine's DFC
//! layout by position ends with [`crate::tables::DENSE_PADDING`] bytes, so its last rows
//! (often reached on the small coarse grid) are gathered like any other. Tap loads and accumulator
//! accesses are checked once per row (the taps of the last row fit their map; the accumulator
//! holds every row); other loads and stores go through slices indexed first.

use std::arch::x86_64::*;

use crate::interp::PreparedTable;

use super::{RESIDUAL_LIMIT, RowTaps, Rows, portable};

mod chunk;
pub(super) mod simplex;
mod trilinear;

/// Proof that the CPU runs AVX2: exists only where `is_x86_feature_detected!("avx2")` held.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token(());

impl Token {
    pub(crate) fn new() -> Option<Token> {
        is_x86_feature_detected!("avx2").then_some(Token(()))
    }
}

/// A table prepared for the AVX2 spatial row kernel.
pub(crate) struct Spatial<'a>(simplex::Spatial<'a>);

impl<'a> Spatial<'a> {
    /// `None` where the AVX2 kernel cannot run this table (the portable one then does).
    pub(crate) fn new(
        _token: Token,
        table: &PreparedTable<'a>,
        fb: u32,
        k: usize,
    ) -> Option<Spatial<'a>> {
        // SAFETY: a `Token` exists only where AVX2 was detected at run time.
        unsafe { simplex::Spatial::new(table, fb, k) }.map(Spatial)
    }

    /// See [`super::SpatialKernel::rows`].
    pub(crate) fn rows(
        &self,
        table: &PreparedTable<'_>,
        taps: &RowTaps<'_>,
        block: Rows,
        acc: &mut [i32],
        stride: usize,
    ) {
        // SAFETY: a `Spatial` exists only where AVX2 was detected (its `Token`); the
        // accumulator's size was checked by the caller (`check_acc`).
        unsafe { self.0.rows(table, taps, block, acc, stride) }
    }
}

/// See [`super::trilinear_row`].
pub(super) fn trilinear_row(
    _token: Token,
    table: &[i8],
    k: usize,
    inputs: [(&[u16], u32); 3],
    n: usize,
    acc: &mut [i32],
    stride: usize,
) {
    // SAFETY: a `Token` exists only where AVX2 was detected at run time; the sizes were
    // checked by the caller.
    unsafe { trilinear::trilinear_row(table, k, inputs, n, acc, stride) }
}

/// See [`super::requantise_row`].
pub(super) fn requantise_row(_token: Token, raw: &[i32], terms: u32, out: &mut [u16]) {
    // SAFETY: a `Token` exists only where AVX2 was detected at run time.
    unsafe { requantise_row_avx2(raw, terms, out) }
}

/// See [`super::residual_row`].
pub(super) fn residual_row(
    _token: Token,
    sums: &[i32],
    scale: i32,
    scale_shift: u8,
    bit_depth: u8,
    out: &mut [i32],
) {
    // SAFETY: a `Token` exists only where AVX2 was detected at run time.
    unsafe { residual_row_avx2(sums, scale, scale_shift, bit_depth, out) }
}

/// Chunk starts covering `0..len` with 8-wide chunks (the last overlapping); none if `len < 8`.
fn chunk_starts(len: usize) -> impl Iterator<Item = usize> {
    let last = len.saturating_sub(8);
    (0..len / 8)
        .map(|c| c * 8)
        .chain((len >= 8 && !len.is_multiple_of(8)).then_some(last))
}

#[target_feature(enable = "avx2")]
fn requantise_row_avx2(raw: &[i32], terms: u32, out: &mut [u16]) {
    let n = out.len();
    if n < 8 {
        portable::requantise_row(raw, terms, out);
        return;
    }
    let half = _mm256_set1_epi32(128 * terms as i32);
    let t = _mm256_set1_ps(terms as f32);
    for x in chunk_starts(n) {
        let r = &raw[x..x + 8];
        // SAFETY: `r` holds the 8 i32 read.
        let s = unsafe { _mm256_loadu_si256(r.as_ptr().cast()) };
        // floor((s + 128 T) / 256) without overflow: (s >> 8) + ((s & 255) + 128 T) >> 8.
        let low = _mm256_add_epi32(_mm256_and_si256(s, _mm256_set1_epi32(255)), half);
        let q = _mm256_add_epi32(_mm256_srai_epi32::<8>(s), _mm256_srai_epi32::<8>(low));
        // floor(q / T): |q| < 2^24 converts exactly, and a quotient of two such integers that
        // is not an integer lies at least 1/T from one, far more than its rounding error.
        let f = _mm256_floor_ps(_mm256_div_ps(_mm256_cvtepi32_ps(q), t));
        let y = _mm256_add_epi32(_mm256_cvtps_epi32(f), _mm256_set1_epi32(127));
        let y = _mm256_min_epi32(
            _mm256_max_epi32(y, _mm256_setzero_si256()),
            _mm256_set1_epi32(255),
        );
        let packed = _mm_packus_epi32(_mm256_castsi256_si128(y), _mm256_extracti128_si256::<1>(y));
        let o = &mut out[x..x + 8];
        // SAFETY: `o` holds the 8 u16 written.
        unsafe { _mm_storeu_si128(o.as_mut_ptr().cast(), packed) };
    }
}

/// Arithmetic right shift of 64-bit lanes by `count`.
#[target_feature(enable = "avx2")]
fn sra64(v: __m256i, count: __m128i) -> __m256i {
    let sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), v);
    _mm256_xor_si256(_mm256_srl_epi64(_mm256_xor_si256(v, sign), count), sign)
}

#[target_feature(enable = "avx2")]
fn residual_row_avx2(sums: &[i32], scale: i32, scale_shift: u8, bit_depth: u8, out: &mut [i32]) {
    let n = out.len();
    if n < 8 {
        portable::residual_row(sums, scale, scale_shift, bit_depth, out);
        return;
    }
    let mut shift = i64::from(scale_shift) + 8;
    let up = if bit_depth >= 10 {
        i64::from(bit_depth - 10)
    } else {
        shift += i64::from(10 - bit_depth);
        0
    };
    let up_bits = up;
    let (up, down) = (_mm_cvtsi64_si128(up), _mm_cvtsi64_si128(shift));
    let half = _mm256_set1_epi64x(1 << (shift - 1));
    let sc = _mm256_set1_epi64x(i64::from(scale));
    let (lo, hi) = (
        _mm256_set1_epi64x(-i64::from(RESIDUAL_LIMIT)),
        _mm256_set1_epi64x(i64::from(RESIDUAL_LIMIT)),
    );
    // Residual of the low 32 bits of each 64-bit lane, saturated.
    let lanes = |s: __m256i| {
        let num = _mm256_sll_epi64(_mm256_mul_epi32(s, sc), up);
        let r = sra64(_mm256_add_epi64(num, half), down);
        let r = _mm256_blendv_epi8(r, hi, _mm256_cmpgt_epi64(r, hi));
        _mm256_blendv_epi8(r, lo, _mm256_cmpgt_epi64(lo, r))
    };
    // In 32 bits where nothing can overflow: `shift <= 30`, and `|s| <= sum_limit` (checked
    // per chunk) with `sum_limit * |scale << up| + half < 2^31`. The result is then the same
    // integer as the 64-bit one.
    let factor = i64::from(scale).unsigned_abs() << up_bits;
    let narrow = (shift <= 30).then(|| {
        (
            _mm256_set1_epi32((i64::from(scale) << up_bits) as i32),
            _mm_cvtsi64_si128(shift),
            _mm256_set1_epi32(1 << (shift - 1)),
        )
    });
    let headroom = (1_u64 << 31) - 1 - (1_u64 << (shift.clamp(1, 31) - 1));
    let sum_limit = headroom
        .checked_div(factor)
        .unwrap_or(headroom)
        .min(i32::MAX as u64);
    let sum_limit = _mm256_set1_epi32(sum_limit as i32);
    let (lo32, hi32) = (
        _mm256_set1_epi32(-RESIDUAL_LIMIT),
        _mm256_set1_epi32(RESIDUAL_LIMIT),
    );
    for x in chunk_starts(n) {
        let r = &sums[x..x + 8];
        // SAFETY: `r` holds the 8 i32 read.
        let s = unsafe { _mm256_loadu_si256(r.as_ptr().cast()) };
        let small = || {
            let a = _mm256_abs_epi32(s);
            // Unsigned: |i32::MIN| stays 2^31 and fails.
            _mm256_movemask_epi8(_mm256_cmpeq_epi32(
                _mm256_max_epu32(a, sum_limit),
                sum_limit,
            )) == -1
        };
        let y = match narrow {
            Some((f, down32, half32)) if small() => {
                let v = _mm256_add_epi32(_mm256_mullo_epi32(s, f), half32);
                let v = _mm256_sra_epi32(v, down32);
                _mm256_min_epi32(_mm256_max_epi32(v, lo32), hi32)
            }
            _ => {
                let even = lanes(s);
                let odd = lanes(_mm256_srli_epi64::<32>(s));
                _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd))
            }
        };
        let o = &mut out[x..x + 8];
        // SAFETY: `o` holds the 8 i32 written.
        unsafe { _mm256_storeu_si256(o.as_mut_ptr().cast(), y) };
    }
}

/// See [`super::Kernels::clamp_row`].
pub(super) fn clamp_row(_token: Token, src: &[u16], signed: bool, max: u16, dst: &mut [u16]) {
    // SAFETY: a `Token` exists only where AVX2 was detected at run time.
    unsafe { clamp_row_avx2(src, signed, max, dst) }
}

/// See [`super::Kernels::add_residual_row`].
pub(super) fn add_residual_row(
    _token: Token,
    src: &[u16],
    signed: bool,
    residual: &[i32],
    max: u16,
    dst: &mut [u16],
) {
    // SAFETY: a `Token` exists only where AVX2 was detected at run time.
    unsafe { add_residual_row_avx2(src, signed, residual, max, dst) }
}

/// 16 samples of `src` clamped to `0..=max` (read as i16 where `signed`).
#[inline]
#[target_feature(enable = "avx2")]
fn clamped16(v: __m256i, signed: bool, max: __m256i) -> __m256i {
    if signed {
        _mm256_min_epi16(_mm256_max_epi16(v, _mm256_setzero_si256()), max)
    } else {
        _mm256_min_epu16(v, max)
    }
}

#[target_feature(enable = "avx2")]
fn clamp_row_avx2(src: &[u16], signed: bool, max: u16, dst: &mut [u16]) {
    let n = dst.len().min(src.len());
    let m = _mm256_set1_epi16(max as i16);
    let mut x = 0;
    while x + 16 <= n {
        let (s, d) = (&src[x..x + 16], &mut dst[x..x + 16]);
        // SAFETY: `s` and `d` hold the 16 u16 read and written.
        unsafe {
            let v = _mm256_loadu_si256(s.as_ptr().cast());
            _mm256_storeu_si256(d.as_mut_ptr().cast(), clamped16(v, signed, m));
        }
        x += 16;
    }
    portable::clamp_row(&src[x..n], signed, max, &mut dst[x..n]);
}

#[target_feature(enable = "avx2")]
fn add_residual_row_avx2(src: &[u16], signed: bool, residual: &[i32], max: u16, dst: &mut [u16]) {
    let n = dst.len().min(src.len()).min(residual.len());
    let m16 = _mm256_set1_epi16(max as i16);
    let m32 = _mm256_set1_epi32(i32::from(max));
    let zero = _mm256_setzero_si256();
    let mut x = 0;
    while x + 16 <= n {
        let (s, r, d) = (&src[x..x + 16], &residual[x..x + 16], &mut dst[x..x + 16]);
        // SAFETY: `s`, `r` and `d` hold the 16 values read and written.
        unsafe {
            let v = clamped16(_mm256_loadu_si256(s.as_ptr().cast()), signed, m16);
            let halves = [
                _mm256_cvtepu16_epi32(_mm256_castsi256_si128(v)),
                _mm256_cvtepu16_epi32(_mm256_extracti128_si256::<1>(v)),
            ];
            let sums = [0, 1].map(|h| {
                let r = _mm256_loadu_si256(r.as_ptr().add(8 * h).cast());
                _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(halves[h], r), zero), m32)
            });
            // Pack (per 128-bit lane), then put the quarters back in order.
            let packed =
                _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packus_epi32(sums[0], sums[1]));
            _mm256_storeu_si256(d.as_mut_ptr().cast(), packed);
        }
        x += 16;
    }
    portable::add_residual_row(&src[x..n], signed, &residual[x..n], max, &mut dst[x..n]);
}
