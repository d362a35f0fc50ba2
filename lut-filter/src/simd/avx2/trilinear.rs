//! The AVX2 trilinear row kernel (channel nodes): 8 samples per step.
//!
//! Per lane: node and 8-bit fraction of each of the three inputs, the 8 corner weights
//! `wx * wy * wz` (at most 2^24), one 32-bit gather per corner and group of 4 outputs, and the
//! sum of weight times value in 32 bits: every partial sum lies in `[-128 * 2^24, 127 * 2^24]`,
//! so the sum equals the portable 64-bit one exactly, as does `(s + 2^15) >> 16`. Chunks whose
//! last corner row could not be gathered (the table's last row: a 32-bit read would pass its
//! end) are computed by the portable code.

use std::arch::x86_64::*;

use crate::tables::{CHANNEL_ROWS, NODES, ONE};

use super::super::portable;

/// Corner row offsets from the base row: `(bx * 17 + by) * 17 + bz`, corner `c = bx bz by`
/// in binary (`bx = c >> 2`, `by = (c >> 1) & 1`, `bz = c & 1`).
const CORNERS: [usize; 8] = {
    let mut c = [0; 8];
    let mut i = 0;
    while i < 8 {
        c[i] = ((i >> 2) * NODES + ((i >> 1) & 1)) * NODES + (i & 1);
        i += 1;
    }
    c
};

/// See [`super::super::trilinear_row`].
///
/// # Safety
/// AVX2 is available, and `acc` holds `(k - 1) * stride + n` values (`stride >= n`), each
/// input at least `n`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn trilinear_row(
    table: &[i8],
    k: usize,
    inputs: [(&[u16], u32); 3],
    n: usize,
    acc: &mut [i32],
    stride: usize,
) {
    let groups = k.div_ceil(4);
    let limit = table.len().checked_sub(4 * groups).map(|l| l as i64);
    let ok = n >= 8
        && table.len() <= CHANNEL_ROWS * 8
        && inputs
            .iter()
            .all(|(d, fb)| d.len() >= n && (1..=8).contains(fb));
    let Some(limit) = limit.filter(|_| ok) else {
        portable::trilinear_row(table, k, inputs, n, acc, stride);
        return;
    };
    let limit = _mm256_set1_epi32(limit as i32);
    let ptr = table.as_ptr().cast::<i32>();
    let kv = _mm256_set1_epi32(k as i32);
    let strides = [NODES * NODES, NODES, 1].map(|s| _mm256_set1_epi32(s as i32));
    let shift = inputs.map(|(_, fb)| _mm_cvtsi32_si128(fb as i32));
    let up = inputs.map(|(_, fb)| _mm_cvtsi32_si128(8 - fb as i32));
    let mask = inputs.map(|(_, fb)| _mm256_set1_epi32((1 << fb) - 1));
    let one = _mm256_set1_epi32(ONE);
    let mut x = 0;
    while x < n {
        let x0 = if x + 8 <= n { x } else { n - 8 };
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let keep = _mm256_cmpgt_epi32(lane, _mm256_set1_epi32((x - x0) as i32 - 1));
        let mut base = _mm256_setzero_si256();
        let mut w = [[_mm256_setzero_si256(); 2]; 3];
        for i in 0..3 {
            let d = &inputs[i].0[x0..x0 + 8];
            // SAFETY: `d` holds the 8 u16 read.
            let v = _mm256_cvtepu16_epi32(unsafe { _mm_loadu_si128(d.as_ptr().cast()) });
            let node = _mm256_srl_epi32(v, shift[i]);
            base = _mm256_add_epi32(base, _mm256_mullo_epi32(node, strides[i]));
            let f = _mm256_sll_epi32(_mm256_and_si256(v, mask[i]), up[i]);
            w[i] = [_mm256_sub_epi32(one, f), f];
        }
        // Byte offsets of the corner rows; the last corner's is the largest.
        let offs = CORNERS
            .map(|c| _mm256_mullo_epi32(_mm256_add_epi32(base, _mm256_set1_epi32(c as i32)), kv));
        let last = offs[7];
        let fits = _mm256_cmpeq_epi32(_mm256_max_epu32(last, limit), limit);
        if _mm256_movemask_epi8(fits) != -1 {
            portable::trilinear_row_at(table, k, inputs, x..x0 + 8, acc, stride);
            x = x0 + 8;
            continue;
        }
        let wxy = [0, 1, 2, 3].map(|c| _mm256_mullo_epi32(w[0][c >> 1], w[1][c & 1]));
        let wc: [__m256i; 8] = std::array::from_fn(|c| {
            _mm256_mullo_epi32(wxy[((c >> 2) << 1) | ((c >> 1) & 1)], w[2][c & 1])
        });
        for g in 0..groups {
            let words = offs.map(|o| {
                let o = _mm256_add_epi32(o, _mm256_set1_epi32(4 * g as i32));
                // SAFETY: every lane's corner offsets are at most the last corner's, which is
                // at most `len - 4 * groups` (checked above), so `o + 4 <= len`.
                unsafe { _mm256_i32gather_epi32::<1>(ptr, o) }
            });
            for j in 0..(k - 4 * g).min(4) {
                let sh = _mm_cvtsi32_si128(24 - 8 * j as i32);
                let mut s = _mm256_set1_epi32(1 << 15);
                for (word, wcc) in words.iter().zip(&wc) {
                    let t = _mm256_srai_epi32::<24>(_mm256_sll_epi32(*word, sh));
                    s = _mm256_add_epi32(s, _mm256_mullo_epi32(*wcc, t));
                }
                let s = _mm256_and_si256(_mm256_srai_epi32::<16>(s), keep);
                let a = &mut acc[(4 * g + j) * stride + x0..][..8];
                // SAFETY: `a` holds the 8 i32 read and written.
                unsafe {
                    let p = a.as_mut_ptr().cast::<__m256i>();
                    _mm256_storeu_si256(p, _mm256_add_epi32(_mm256_loadu_si256(p), s));
                }
            }
        }
        x = x0 + 8;
    }
}
