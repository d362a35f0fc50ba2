//! One chunk of the AVX-512 4-simplex kernel: 16 samples, one per 32-bit lane (constants and
//! row loop: [`super::simplex`]). The lanes are located as the AVX2 chunk locates its 8 (node
//! and fraction split, sort keys, comparator network, weights); the table is then read one of
//! three ways ([`WORDS`], [`PAIRS`], [`CUBES`]).

use std::arch::x86_64::*;

use crate::tables::ONE;

use super::simplex::Geo16;

/// One 4-byte gather per vertex (up to 4 outputs of a row).
pub(super) const WORDS: u8 = 0;
/// Rows of `N <= 2` bytes whose last coordinate's stride is one row: the two vertices one
/// step apart along it share a 4-byte word, so 4 gathers read all 5 vertices.
pub(super) const PAIRS: u8 = 1;
/// 1-output rows in the cube layout ([`crate::tables::DfcGeometry::cubes`]): two 8-byte
/// gathers per sample read all 5 vertices, spread to the lanes by byte permutations.
pub(super) const CUBES: u8 = 2;

/// Adds the `keep` lanes' look-ups to the `N` rows at `out` (stride `stride`), reading `table`
/// as `MODE` says. Returns false, having added nothing, if a lane's last vertex lies beyond
/// `g.pos_limit`. `UNIT` and `DFC` are those of the row loop calling it, only so that every
/// loop has its own copy with one call site, which the compiler then inlines (a shared copy
/// is called out of line, its vectors passed through memory).
///
/// # Safety
/// AVX-512 F/BW/VBMI are available. `table` is the buffer `g` addresses: for [`WORDS`] and
/// [`PAIRS`], every position up to `pos_limit` has 4 bytes readable from it; for [`CUBES`]
/// (`N == 1`), the cube layout, 8 bytes readable at `8 p` for every position `p <=
/// pos_limit`. `out.add(j * stride)` is valid for 16 i32 reads and writes, `j < N`.
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
pub(super) unsafe fn chunk<const N: usize, const MODE: u8, const UNIT: bool, const DFC: bool>(
    table: *const i8,
    g: &Geo16,
    v: [__m512i; 4],
    out: *mut i32,
    stride: usize,
    keep: __mmask16,
) -> bool {
    let zero = _mm512_setzero_si512();
    let frac = _mm512_set1_epi32(0xff_0000);
    // Key low halves: the step to the next vertex (strides), or for cubes the corner bit it
    // sets (8, 4, 2, 1: coordinate 0 moves to the next cube). Both are distinct and
    // decreasing with the coordinate, so the sort order is the documented one.
    let codes = [8, 4, 2, 1].map(|c| _mm512_set1_epi32(c));
    let mut base = g.origin;
    let mut keys = [zero; 4];
    for t in 0..4 {
        // Per-lane shifts: a mixed DFC chunk's lanes split their values two ways (and on
        // this level they cost what shifts by one count do).
        let node = _mm512_srlv_epi32(v[t], g.bits);
        let f = _mm512_and_si512(_mm512_sllv_epi32(v[t], g.up), frac);
        base = _mm512_add_epi32(base, _mm512_mullo_epi32(node, g.strides[t]));
        let low = if MODE == CUBES {
            codes[t]
        } else {
            g.strides[t]
        };
        keys[t] = _mm512_or_si512(f, low);
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
    let fs = [0, 1, 2, 3].map(|r| _mm512_srli_epi32::<16>(keys[r]));
    let w = [
        _mm512_sub_epi32(_mm512_set1_epi32(ONE), fs[0]),
        _mm512_sub_epi32(fs[0], fs[1]),
        _mm512_sub_epi32(fs[1], fs[2]),
        _mm512_sub_epi32(fs[2], fs[3]),
        fs[3],
    ];
    let low = _mm512_set1_epi32(0xffff);
    let steps = keys.map(|k| _mm512_and_si512(k, low));
    let sums: [__m512i; N] = if MODE == CUBES {
        // SAFETY: the caller's contract (cube layout, `N == 1`).
        let s = unsafe { cubes(table, g.strides[0], base, steps, &w) };
        [s; N]
    } else {
        // SAFETY: the caller's contract (4 bytes at every position up to `pos_limit`).
        unsafe { words::<N, MODE>(table, base, steps, &w) }
    };
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

/// [`WORDS`] and [`PAIRS`]: the sums of outputs `0..N` of each lane, vertex positions
/// `base`, `base + steps[0]`, …, weights `w`.
///
/// # Safety
/// AVX-512 F/BW are available, and every lane's positions (the last is the largest) have 4
/// bytes readable from `table`.
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
unsafe fn words<const N: usize, const MODE: u8>(
    table: *const i8,
    base: __m512i,
    steps: [__m512i; 4],
    w: &[__m512i; 5],
) -> [__m512i; N] {
    let table = table.cast::<i32>();
    let mut pos = [base; 5];
    for r in 1..5 {
        pos[r] = _mm512_add_epi32(pos[r - 1], steps[r - 1]);
    }
    let mut sums = [_mm512_setzero_si512(); N];
    // Output `j` of a vertex: byte `j + N h` of the word read, weighted by `w`.
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
    if MODE == PAIRS {
        // With `t[r]` the lanes whose step `r` is the one-row step, vertex `r + 1` is read
        // with vertex `r`, and the later vertices move one word down.
        let pair = _mm512_set1_epi32(N as i32);
        let t = steps.map(|s| _mm512_cmpeq_epi32_mask(s, pair));
        let later = [0, t[0], t[0] | t[1], t[0] | t[1] | t[2]];
        // Two outputs: after the first read, whose weight can be 256, every read's two
        // weights fit a byte (one step is the one-row step, so a read holds vertices `r` and
        // `r + 1`, weights summing to at most `f_0 <= 255`, or one vertex), so `maddubs`
        // weighs the word's 4 bytes (outputs 0 and 1 of two vertices, reordered to pair each
        // output's) into one 16-bit sum per output without saturating, and the three reads'
        // sums add up exactly in 16 bits (|sum| <= 255 * 128).
        let order = _mm512_set4_epi32(0x0f0d_0e0c, 0x0b09_0a08, 0x0705_0604, 0x0301_0200);
        let mut both = _mm512_setzero_si512();
        for r in 0..4 {
            let c = _mm512_mask_blend_epi32(later[r], pos[r], pos[r + 1]);
            // SAFETY: `pos[r] <= c <= pos[4]`: 4 bytes readable (the caller's contract).
            let word = unsafe { _mm512_i32gather_epi32::<1>(c, table) };
            let wa = _mm512_mask_blend_epi32(later[r], w[r], w[r + 1]);
            let wb = _mm512_maskz_mov_epi32(t[r], w[r + 1]);
            if N == 2 && r > 0 {
                let pair = _mm512_or_si512(wa, _mm512_slli_epi32::<8>(wb));
                let weights = _mm512_or_si512(pair, _mm512_slli_epi32::<16>(pair));
                let values = _mm512_shuffle_epi8(word, order);
                both = _mm512_add_epi16(both, _mm512_maddubs_epi16(weights, values));
            } else {
                add(word, wa, 0);
                add(word, wb, 1);
            }
        }
        if N == 2 {
            let split = [
                _mm512_srai_epi32::<16>(_mm512_slli_epi32::<16>(both)),
                _mm512_srai_epi32::<16>(both),
            ];
            for (s, v) in sums.iter_mut().zip(split) {
                *s = _mm512_add_epi32(*s, v);
            }
        }
    } else {
        for (p, &w) in pos.into_iter().zip(w) {
            // SAFETY: 4 bytes readable at every position (the caller's contract).
            let word = unsafe { _mm512_i32gather_epi32::<1>(p, table) };
            add(word, w, 0);
        }
    }
    sums
}

/// [`CUBES`]: the sum of each lane's one output. The cube at `base` holds the vertices before
/// the step in coordinate 0, the cube at `base + s0` those after it; vertex `r`'s corner is
/// the sum `c_r` of the corner bits of the steps before it (`c_0 = 0`, `c_4 = 15`): bit 3
/// says which cube, bits 0-2 which byte.
///
/// # Safety
/// AVX-512 F/BW/VBMI are available, and `table` has 8 bytes readable at `8 p` for `p = base`
/// and `p = base + s0` of every lane.
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
unsafe fn cubes(
    table: *const i8,
    s0: __m512i,
    base: __m512i,
    steps: [__m512i; 4],
    w: &[__m512i; 5],
) -> __m512i {
    let table = table.cast::<i64>();
    // Two 8-lane gathers per cube: the qwords of lanes 0-7, then 8-15.
    let read = |p: __m512i| {
        // SAFETY: the caller's contract.
        unsafe {
            [
                _mm512_i32gather_epi64::<8>(_mm512_castsi512_si256(p), table),
                _mm512_i32gather_epi64::<8>(_mm512_extracti64x4_epi64::<1>(p), table),
            ]
        }
    };
    let cube = [read(base), read(_mm512_add_epi32(base, s0))];
    // Byte 3 of lane `l` picks byte `8 l + corner` of the cube's 128 bytes (two registers);
    // the value then sits in the lane's top byte, which an arithmetic shift sign-extends.
    let lanes = _mm512_slli_epi32::<27>(_mm512_setr_epi32(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    ));
    let value = |c: &[__m512i; 2], corner: __m512i| {
        let index = _mm512_add_epi32(lanes, _mm512_slli_epi32::<24>(corner));
        _mm512_srai_epi32::<24>(_mm512_permutex2var_epi8(c[0], index, c[1]))
    };
    let seven = _mm512_set1_epi32(7);
    let eight = _mm512_set1_epi32(8);
    let mut sum = _mm512_add_epi32(
        _mm512_mullo_epi32(w[0], value(&cube[0], _mm512_setzero_si512())),
        _mm512_mullo_epi32(w[4], value(&cube[1], seven)),
    );
    let mut corner = steps[0];
    for r in 1..4 {
        let bits = _mm512_and_si512(corner, seven);
        let second = _mm512_test_epi32_mask(corner, eight);
        let t = _mm512_mask_blend_epi32(second, value(&cube[0], bits), value(&cube[1], bits));
        sum = _mm512_add_epi32(sum, _mm512_mullo_epi32(w[r], t));
        corner = _mm512_add_epi32(corner, steps[r]);
    }
    sum
}
