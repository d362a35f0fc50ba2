//! The cube kernel ([`super::chunk::CUBES`]) in 16-bit lanes: 32 samples per chunk.
//!
//! Everything a look-up computes, per output, fits 16 bits: tap values (at most 12-bit
//! samples), node and fraction, sort keys (`fraction << 8 | corner bit`), positions (the DFC
//! parts this runs on have fewer than 2^16 positions), weights (at most 256), and even the
//! weighted sum (`|sum| <= 128 * 256`: weights sum to 256, table values lie in -128..=127).
//! So a 512-bit vector holds 32 look-ups, and the vector work per look-up is about halved.
//! A 1-output look-up reads two 8-byte cubes, one gathered and one by a scalar load (the two
//! paths run side by side); a 2-output one reads two 16-byte records (both outputs' cubes)
//! by scalar loads, and shares the geometry, sort and weights between its outputs. One byte
//! permutation picks two vertex values per 16-bit lane, and `maddubs` multiplies them by
//! byte weights in pairs. The arithmetic is the same integers as the 16-lane and portable
//! kernels', so the results are bit-exact with them.
//!
//! Tap values outside the grid could wrap 16-bit positions back into the table: a chunk with
//! such a value (the engine never makes one) is refused like a chunk reaching outside the
//! table, and the caller computes it with the 16-lane code. For taps on the grid, the
//! constants are accepted only if no position can exceed 16 bits (`Geo32::new`).

use std::arch::x86_64::*;

use super::super::avx2::simplex::{Band, Geo};
use crate::tables::ONE;

/// A [`Geo`] in 16-bit lanes.
#[derive(Clone, Copy)]
struct Geo32 {
    bits: __m512i,
    up: __m512i,
    strides: [__m512i; 4],
    origin: __m512i,
    span: __m512i,
    pos_limit: __m512i,
}

/// Lane 0 of a broadcast AVX2 constant.
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
fn lane0(v: __m256i) -> i32 {
    _mm_cvtsi128_si32(_mm256_castsi256_si128(v))
}

impl Geo32 {
    /// For tap values at most `vmax`; `None` unless every position such taps can make, last
    /// vertices included, fits 16 bits: 16-bit arithmetic is then exact, positions grow along
    /// the simplex path as in 32 bits, and the bounds check on the last vertex bounds every
    /// read (memory safety does not depend on the band test or on the table's contents).
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
    fn new(g: &Geo, vmax: i32) -> Option<Geo32> {
        let set = |v: i32| u16::try_from(v).ok().map(|v| _mm512_set1_epi16(v as i16));
        let bits = lane0(g.bits);
        let node_max = i64::from(vmax >> bits.clamp(0, 31));
        let strides = g.strides.map(|s| i64::from(lane0(s)));
        let max_pos = i64::from(lane0(g.origin))
            + strides.iter().map(|s| node_max * s).sum::<i64>()
            + i64::from(lane0(g.span));
        if strides.iter().any(|&s| s <= 0) || max_pos > i64::from(u16::MAX) {
            return None;
        }
        Some(Geo32 {
            bits: set(bits)?,
            up: set(16 - bits)?,
            strides: [
                set(lane0(g.strides[0]))?,
                set(lane0(g.strides[1]))?,
                set(lane0(g.strides[2]))?,
                set(lane0(g.strides[3]))?,
            ],
            origin: set(lane0(g.origin))?,
            span: set(lane0(g.span))?,
            pos_limit: set(lane0(g.pos_limit))?,
        })
    }

    /// Lanes of `mask` from `a`, the others from `b`.
    #[inline]
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
    fn blend(a: &Geo32, b: &Geo32, mask: __mmask32) -> Geo32 {
        let m = |x: __m512i, y: __m512i| _mm512_mask_blend_epi16(mask, y, x);
        Geo32 {
            bits: m(a.bits, b.bits),
            up: m(a.up, b.up),
            strides: [0, 1, 2, 3].map(|t| m(a.strides[t], b.strides[t])),
            origin: m(a.origin, b.origin),
            span: m(a.span, b.span),
            pos_limit: m(a.pos_limit, b.pos_limit),
        }
    }
}

/// The 16-bit constants of a cube pass: both geometries, the DFC band test, the largest tap
/// value on the grid.
pub(super) struct Cubes32 {
    geo_a: Geo32,
    geo_b: Geo32,
    offset: __m512i,
    width: __m512i,
    mask: [__m512i; 3],
    /// The bits above the largest tap value on the grid (`(16 << fb) - 1`).
    above: __m512i,
}

impl Cubes32 {
    /// For a DFC table with its cube layout, taps with `fb` fraction bits; `None` where a
    /// constant does not fit 16 bits.
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
    pub(super) fn new(geo_a: &Geo, geo_b: &Geo, band: &Band, fb: u32) -> Option<Cubes32> {
        let set = |v: i32| u16::try_from(v).ok().map(|v| _mm512_set1_epi16(v as i16));
        let vmax = (16 << fb) - 1;
        Some(Cubes32 {
            geo_a: Geo32::new(geo_a, vmax)?,
            geo_b: Geo32::new(geo_b, vmax)?,
            offset: set(lane0(band.offset))?,
            width: set(lane0(band.width))?,
            mask: [
                set(lane0(band.mask[0]) & 0xffff)?,
                set(lane0(band.mask[1]) & 0xffff)?,
                set(lane0(band.mask[2]) & 0xffff)?,
            ],
            above: set(!vmax & 0xffff)?,
        })
    }
}

/// Adds the look-ups of samples `x0..x0 + 32` to `out[j * stride..][..32]` (output `j < N`),
/// their taps at `at[t] + step * x` (`UNIT`: step 1, else 2). Returns false, having added
/// nothing, if a tap lies outside the grid or a lane's last vertex beyond its part.
///
/// # Safety
/// AVX-512 F/BW/VBMI are available; `N` is 1 or 2; every tap has `step * (x0 + 32)` u16
/// readable from `at[t]`; `table` is the `N`-output cube layout the constants address (`8 N`
/// bytes at `8 p` for every position `p <= pos_limit`); `out.add(j * stride)` is valid for 32
/// i32 reads and writes, `j < N`.
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
pub(super) unsafe fn chunk32<const UNIT: bool, const N: usize>(
    c: &Cubes32,
    table: *const i8,
    at: &[*const u16; 4],
    x0: usize,
    out: *mut i32,
    stride: usize,
) -> bool {
    let v = at.map(|p| {
        if UNIT {
            // SAFETY: 32 u16 of the map (the caller's contract).
            unsafe { _mm512_loadu_si512(p.add(x0).cast()) }
        } else {
            // SAFETY: 64 u16 of the map (the caller's contract); the even ones are the taps.
            let (a, b) = unsafe {
                (
                    _mm512_loadu_si512(p.add(2 * x0).cast()),
                    _mm512_loadu_si512(p.add(2 * x0 + 32).cast()),
                )
            };
            let even = _mm512_set_epi16(
                62, 60, 58, 56, 54, 52, 50, 48, 46, 44, 42, 40, 38, 36, 34, 32, 30, 28, 26, 24, 22,
                20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0,
            );
            _mm512_permutex2var_epi16(a, even, b)
        }
    });
    // Every tap on the grid (`vmax + 1` is a power of two): no bit above `vmax` in any.
    let any = _mm512_or_si512(_mm512_ternarylogic_epi32::<0xfe>(v[0], v[1], v[2]), v[3]);
    if _mm512_test_epi16_mask(any, c.above) != 0 {
        return false;
    }
    // DFC band test (as the 32-bit one), then the lanes' geometry.
    let off = _mm512_sub_epi16(c.offset, v[0]);
    let u = [0, 1, 2].map(|t| _mm512_and_si512(_mm512_add_epi16(v[t + 1], off), c.mask[t]));
    let m = _mm512_max_epu16(_mm512_max_epu16(u[0], u[1]), u[2]);
    let blended;
    let g = match _mm512_cmple_epu16_mask(m, c.width) {
        u32::MAX => &c.geo_a,
        0 => &c.geo_b,
        fine => {
            blended = Geo32::blend(&c.geo_a, &c.geo_b, fine);
            &blended
        }
    };
    // Sort keys `fraction << 8 | code`: the code is the corner bit the step along the
    // coordinate sets, bit 7 for coordinate 0 (the step to the second cube), 4, 2, 1 for the
    // corner bits of a cube. The codes are distinct and decreasing with the coordinate, as
    // the 16-lane kernel's, and a sum of codes is a byte: corner in bits 0-2, cube in bit 7.
    let frac = _mm512_set1_epi16(0xff00_u16 as i16);
    let codes = [0x80, 4, 2, 1].map(|b| _mm512_set1_epi16(b));
    let mut base = g.origin;
    let mut keys = [_mm512_setzero_si512(); 4];
    for t in 0..4 {
        let node = _mm512_srlv_epi16(v[t], g.bits);
        base = _mm512_add_epi16(base, _mm512_mullo_epi16(node, g.strides[t]));
        // (value << up) & 0xff00 | code
        keys[t] = _mm512_ternarylogic_epi32::<0xea>(_mm512_sllv_epi16(v[t], g.up), frac, codes[t]);
    }
    if _mm512_cmple_epu16_mask(_mm512_add_epi16(base, g.span), g.pos_limit) != u32::MAX {
        return false;
    }
    for (a, b) in [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)] {
        let (hi, lo) = (
            _mm512_max_epu16(keys[a], keys[b]),
            _mm512_min_epu16(keys[a], keys[b]),
        );
        keys[a] = hi;
        keys[b] = lo;
    }
    // The two cubes of each lane and output. One output (8 bytes per cube): the second cube
    // by 32 scalar reads, issued first, then the first by 4 gathers of 8 lanes. On Zen 5 a
    // gather reads about one element per cycle by its own path, while scalar reads use the
    // load ports: splitting the reads between them runs both at once (1.15x faster than
    // gathering both cubes, 1.3x faster than reading both by scalar loads; scalar reads
    // first, else 1.08x slower). Two outputs (16 bytes per position, one scalar read for
    // both outputs' cubes): the first cubes by scalar reads too, 1.07x faster than
    // gathering them and 1.03x faster than gathering half of them. (The two read loops and
    // deinterleaves below are written out: one helper for both made the compiler lay out
    // the 1-output kernel differently, 1.07x slower.)
    let table = table.cast::<i64>();
    let mut second_at = [0u64; 8];
    // SAFETY: `second_at` holds the 64 bytes written.
    unsafe {
        _mm512_storeu_si512(
            second_at.as_mut_ptr().cast(),
            _mm512_add_epi16(base, g.strides[0]),
        );
    }
    let mut second = [[0i64; N]; 32];
    for (k, at) in second_at.into_iter().enumerate() {
        for j in 0..4 {
            let p = (at >> (16 * j)) & 0xffff;
            // SAFETY: the second cube's position is below the lane's last vertex's, at most
            // `pos_limit` (checked above): `8 N` bytes readable at 8 times it.
            second[4 * k + j] =
                unsafe { table.add(p as usize).cast::<[i64; N]>().read_unaligned() };
        }
    }
    let mut first_at = [0u64; 8];
    let mut first_read = [[0i64; N]; 32];
    if N == 2 {
        // SAFETY: `first_at` holds the 64 bytes written.
        unsafe { _mm512_storeu_si512(first_at.as_mut_ptr().cast(), base) };
        for (k, at) in first_at.into_iter().enumerate() {
            for j in 0..4 {
                let p = (at >> (16 * j)) & 0xffff;
                // SAFETY: every position is at most `pos_limit` (checked above): `8 N` bytes
                // readable at 8 times it.
                first_read[4 * k + j] =
                    unsafe { table.add(p as usize).cast::<[i64; N]>().read_unaligned() };
            }
        }
    }
    // Output `o`'s first cubes of lanes `8 i..8 i + 8` (`N == 2`: read above, even and odd
    // qwords; else gathered).
    let mut first_cubes = [[_mm512_setzero_si512(); 4]; N];
    if N == 2 {
        // SAFETY: `first_read` holds 32 times `8 N` bytes.
        let read = |i: usize| unsafe {
            _mm512_loadu_si512(first_read.as_ptr().cast::<i64>().add(8 * i).cast())
        };
        let even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
        let odd = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
        for (i, q) in first_cubes[0].iter_mut().enumerate() {
            *q = _mm512_permutex2var_epi64(read(2 * i), even, read(2 * i + 1));
        }
        for (i, q) in first_cubes[N - 1].iter_mut().enumerate() {
            *q = _mm512_permutex2var_epi64(read(2 * i), odd, read(2 * i + 1));
        }
    } else {
        let lo = _mm512_cvtepu16_epi32(_mm512_castsi512_si256(base));
        let hi = _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64::<1>(base));
        for (o, q) in first_cubes.iter_mut().enumerate() {
            // SAFETY: every position is at most `pos_limit` (checked above), `8 N` bytes
            // readable at 8 times it (the caller's contract), output `o`'s at `8 o` of them.
            unsafe {
                let table = table.add(o);
                q[0] = _mm512_i32gather_epi64::<8>(_mm512_castsi512_si256(lo), table);
                q[1] = _mm512_i32gather_epi64::<8>(_mm512_extracti64x4_epi64::<1>(lo), table);
                q[2] = _mm512_i32gather_epi64::<8>(_mm512_castsi512_si256(hi), table);
                q[3] = _mm512_i32gather_epi64::<8>(_mm512_extracti64x4_epi64::<1>(hi), table);
            }
        }
    }
    // Output `o`'s second cubes of lanes `8 i..8 i + 8`: the scalar reads hold the outputs'
    // cubes of a lane side by side (`N == 2`: even and odd qwords).
    // SAFETY: `second` holds the 32 times `8 N` bytes read.
    let read =
        |i: usize| unsafe { _mm512_loadu_si512(second.as_ptr().cast::<i64>().add(8 * i).cast()) };
    let mut second_cubes = [[_mm512_setzero_si512(); 4]; N];
    if N == 1 {
        second_cubes[0] = [read(0), read(1), read(2), read(3)];
    } else {
        let even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
        let odd = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
        for (i, q) in second_cubes[0].iter_mut().enumerate() {
            *q = _mm512_permutex2var_epi64(read(2 * i), even, read(2 * i + 1));
        }
        for (i, q) in second_cubes[N - 1].iter_mut().enumerate() {
            *q = _mm512_permutex2var_epi64(read(2 * i), odd, read(2 * i + 1));
        }
    }
    // Vertex `r`'s corner byte `c_r` is the sum of the first `r` sorted codes (`c_0 = 0`,
    // `c_4 = 0x87`). Two bytes per lane say which values to read: `x = c_1 << 8 | c_2` and
    // `y = c_3 << 8 | 0x87`; each byte also holds the lane's offset `8 (l % 16)` in the
    // 128 bytes that a permutation reads (bits 3-6; bit 7 it ignores).
    let lanes = _mm512_set_epi16(
        15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6,
        5, 4, 3, 2, 1, 0,
    );
    let lanes = _mm512_mullo_epi16(lanes, _mm512_set1_epi16(0x0808));
    let low_byte = _mm512_set1_epi16(0xff);
    let k01 = _mm512_add_epi16(keys[0], keys[1]);
    let k012 = _mm512_add_epi16(k01, keys[2]);
    // (k01 & 0xff) | lanes, then | c_1 << 8
    let x = _mm512_or_si512(
        _mm512_ternarylogic_epi32::<0xea>(k01, low_byte, lanes),
        _mm512_slli_epi16::<8>(keys[0]),
    );
    let y = _mm512_ternarylogic_epi32::<0xfe>(
        _mm512_slli_epi16::<8>(k012),
        lanes,
        _mm512_set1_epi16(0x87),
    );
    // One permutation reads both words of 16 lanes: lanes 0-15's `x` then `y` indices, and
    // lanes 16-31's. The second cube's indices are these; the first cube's read corner 0 for
    // `y`'s low byte (so that it yields `v_0`, the second `v_4`).
    let index = [
        _mm512_inserti64x4::<1>(x, _mm512_castsi512_si256(y)),
        _mm512_shuffle_i64x2::<0xee>(x, y),
    ];
    let first_y = _mm512_inserti64x4::<1>(_mm512_set1_epi16(-1), _mm256_set1_epi16(!7));
    let first_index = [
        _mm512_and_si512(index[0], first_y),
        _mm512_and_si512(index[1], first_y),
    ];
    // Bit 7 of an index byte: the value is in the second cube.
    let in_second = [_mm512_movepi8_mask(index[0]), _mm512_movepi8_mask(index[1])];
    // Weights as byte pairs: `w_1 << 8 | w_2` and `w_3 << 8 | w_4` with `w_r = f_(r-1) -
    // f_r` (`f_4 = 0`) from `f_(r-1) << 8 | f_r` less `f_r << 8 | f_(r+1)`, byte by byte (the
    // fractions are sorted, so no byte borrows). Every pair of weights sums to at most
    // `f_0 <= 255`, so `maddubs` (u8 weights times i8 values, pairs added in 16 bits) never
    // saturates. `w_0 = 256 - f_0` does not fit a byte: `w_0 v_0 = (v_0 << 8) - f_0 v_0`.
    let fs = [0, 1, 2, 3].map(|r| _mm512_srli_epi16::<8>(keys[r]));
    let pair = |r: usize| _mm512_ternarylogic_epi32::<0xea>(keys[r], frac, fs[r + 1]);
    let wx = _mm512_sub_epi8(pair(0), pair(1));
    let wy = _mm512_sub_epi8(pair(2), _mm512_and_si512(keys[3], frac));
    const { assert!(ONE == 256, "w_0 = 256 - f_0") };
    for o in 0..N {
        let (g, q) = (&first_cubes[o], &second_cubes[o]);
        let first = [
            _mm512_permutex2var_epi8(g[0], first_index[0], g[1]),
            _mm512_permutex2var_epi8(g[2], first_index[1], g[3]),
        ];
        let second = [
            _mm512_permutex2var_epi8(q[0], index[0], q[1]),
            _mm512_permutex2var_epi8(q[2], index[1], q[3]),
        ];
        let merged = [
            _mm512_mask_blend_epi8(in_second[0], first[0], second[0]),
            _mm512_mask_blend_epi8(in_second[1], first[1], second[1]),
        ];
        // Back to lane order: `v_1 << 8 | v_2`, `v_3 << 8 | v_4`, and `v_0` in the first
        // cube's `y` low bytes.
        let vx = _mm512_inserti64x4::<1>(merged[0], _mm512_castsi512_si256(merged[1]));
        let vy = _mm512_shuffle_i64x2::<0xee>(merged[0], merged[1]);
        let v0 = _mm512_shuffle_i64x2::<0xee>(first[0], first[1]);
        let sum = _mm512_add_epi16(
            _mm512_sub_epi16(_mm512_slli_epi16::<8>(v0), _mm512_maddubs_epi16(fs[0], v0)),
            _mm512_add_epi16(_mm512_maddubs_epi16(wx, vx), _mm512_maddubs_epi16(wy, vy)),
        );
        // Sign-extend the 32 sums and add them to the accumulator.
        let halves = [
            _mm512_cvtepi16_epi32(_mm512_castsi512_si256(sum)),
            _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64::<1>(sum)),
        ];
        for (h, s) in halves.into_iter().enumerate() {
            // SAFETY: output `o`'s row holds 32 i32 (the caller's contract).
            unsafe {
                let p = out.add(o * stride + 16 * h);
                let old = _mm512_loadu_si512(p.cast());
                _mm512_storeu_si512(p.cast(), _mm512_add_epi32(old, s));
            }
        }
    }
    true
}
