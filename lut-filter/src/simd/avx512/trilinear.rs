//! The AVX-512 trilinear row kernel (channel nodes of up to 4 outputs): 16 samples per step.
//!
//! A corner row and the row after it (`bz = 0, 1`) are adjacent, so one 8-byte read at the
//! row of each `(bx, by)` pair holds both rows of up to 4 outputs: 4 gathered qwords per
//! sample instead of the AVX2 kernel's 8 dwords. For each output and pair, one byte
//! permutation puts the two rows' values in the lane's 16-bit halves, which `vpmaddwd`
//! weighs by `(256 - f_z, f_z)`; the result is weighted by `w_x w_y` and summed in 32 bits.
//! That is the portable sum `sum w_x w_y (w_z0 v_0 + w_z1 v_1)`, term by term, and no
//! partial sum leaves `[-128 * 2^24, 127 * 2^24]`, so the result is bit-exact. Chunks whose
//! last read would pass the table's end are computed by the portable code; tables of more
//! than 4 outputs and rows shorter than 16 by the AVX2 kernel.

use std::arch::x86_64::*;

use crate::tables::{CHANNEL_ROWS, NODES, ONE};

use super::super::{avx2, portable};

/// Row offsets of the `(bx, by)` pairs from the base row: `bx * 17 * 17 + by * 17`.
const PAIRS: [i32; 4] = {
    let n = NODES as i32;
    [0, n, n * n, n * n + n]
};

/// See [`super::super::trilinear_row`].
///
/// # Safety
/// AVX-512 F/BW/VBMI and AVX2 are available, and `acc` holds `(k - 1) * stride + n` values
/// (`stride >= n`), each input at least `n`.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vbmi")]
pub(super) unsafe fn trilinear_row(
    token: avx2::Token,
    table: &[i8],
    k: usize,
    inputs: [(&[u16], u32); 3],
    n: usize,
    acc: &mut [i32],
    stride: usize,
) {
    let ok = n >= 16
        && k <= 4
        && table.len() <= CHANNEL_ROWS * 8
        && inputs
            .iter()
            .all(|(d, fb)| d.len() >= n && (1..=8).contains(fb));
    // An 8-byte read at byte `o` needs `o + 8 <= len`.
    let limit = table.len().checked_sub(8).filter(|_| ok);
    let Some(limit) = limit else {
        avx2::trilinear_row(token, table, k, inputs, n, acc, stride);
        return;
    };
    let limit = _mm512_set1_epi32(limit as i32);
    let ptr = table.as_ptr();
    let kv = _mm512_set1_epi32(k as i32);
    let strides = [NODES * NODES, NODES, 1].map(|s| _mm512_set1_epi32(s as i32));
    let shift = inputs.map(|(_, fb)| _mm_cvtsi32_si128(fb as i32));
    let up = inputs.map(|(_, fb)| _mm_cvtsi32_si128(8 - fb as i32));
    let mask = inputs.map(|(_, fb)| _mm512_set1_epi32((1 << fb) - 1));
    let one = _mm512_set1_epi32(ONE);
    // Byte 1 of lane `l` picks byte `j` of its qword (bz = 0), byte 3 byte `k + j` (bz = 1),
    // from the 128 bytes of two registers of 8 qwords; an arithmetic shift of each 16-bit
    // half by 8 then sign-extends them.
    let lanes = _mm512_slli_epi32::<3>(_mm512_setr_epi32(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    ));
    let lanes = _mm512_or_si512(
        _mm512_slli_epi32::<8>(lanes),
        _mm512_slli_epi32::<24>(lanes),
    );
    let mut pick = [_mm512_setzero_si512(); 4];
    for (j, p) in pick.iter_mut().enumerate().take(k) {
        let bytes = _mm512_set1_epi32((((k + j) << 24) | (j << 8)) as i32);
        *p = _mm512_add_epi32(lanes, bytes);
    }
    let mut x = 0;
    while x < n {
        let x0 = if x + 16 <= n { x } else { n - 16 };
        let keep: __mmask16 = 0xffff << (x - x0);
        let mut base = _mm512_setzero_si512();
        let mut w = [[_mm512_setzero_si512(); 2]; 3];
        for i in 0..3 {
            let d = &inputs[i].0[x0..x0 + 16];
            // SAFETY: `d` holds the 16 u16 read.
            let v = _mm512_cvtepu16_epi32(unsafe { _mm256_loadu_si256(d.as_ptr().cast()) });
            let node = _mm512_srl_epi32(v, shift[i]);
            base = _mm512_add_epi32(base, _mm512_mullo_epi32(node, strides[i]));
            let f = _mm512_sll_epi32(_mm512_and_si512(v, mask[i]), up[i]);
            w[i] = [_mm512_sub_epi32(one, f), f];
        }
        // Byte offsets of the pairs' first rows; the last pair's is the largest.
        let mut offs = [_mm512_setzero_si512(); 4];
        for (o, &p) in offs.iter_mut().zip(&PAIRS) {
            *o = _mm512_mullo_epi32(_mm512_add_epi32(base, _mm512_set1_epi32(p)), kv);
        }
        if _mm512_cmple_epu32_mask(offs[3], limit) != 0xffff {
            portable::trilinear_row_at(table, k, inputs, x..x0 + 16, acc, stride);
            x = x0 + 16;
            continue;
        }
        // `w_z0 | w_z1 << 16` (both at most 256) and `w_x w_y` (at most 2^16) per pair.
        let wz = _mm512_or_si512(w[2][0], _mm512_slli_epi32::<16>(w[2][1]));
        let mut wxy = [_mm512_setzero_si512(); 4];
        for (p, wp) in wxy.iter_mut().enumerate() {
            *wp = _mm512_mullo_epi32(w[0][p >> 1], w[1][p & 1]);
        }
        let mut rows = [[_mm512_setzero_si512(); 2]; 4];
        for (r, o) in rows.iter_mut().zip(&offs) {
            // SAFETY: every lane's offsets are at most the last pair's, at most `len - 8`
            // (checked above): 8 bytes readable.
            unsafe {
                r[0] = _mm512_i32gather_epi64::<1>(_mm512_castsi512_si256(*o), ptr.cast::<i64>());
                r[1] = _mm512_i32gather_epi64::<1>(
                    _mm512_extracti64x4_epi64::<1>(*o),
                    ptr.cast::<i64>(),
                );
            }
        }
        for (j, p) in pick.iter().enumerate().take(k) {
            let mut s = _mm512_set1_epi32(1 << 15);
            for (r, wp) in rows.iter().zip(&wxy) {
                let v = _mm512_srai_epi16::<8>(_mm512_permutex2var_epi8(r[0], *p, r[1]));
                let inner = _mm512_madd_epi16(v, wz);
                s = _mm512_add_epi32(s, _mm512_mullo_epi32(*wp, inner));
            }
            let s = _mm512_srai_epi32::<16>(s);
            let a = &mut acc[j * stride + x0..][..16];
            // SAFETY: `a` holds the 16 i32 read and written.
            unsafe {
                let q = a.as_mut_ptr();
                let old = _mm512_loadu_si512(q.cast());
                _mm512_storeu_si512(q.cast(), _mm512_mask_add_epi32(old, keep, old, s));
            }
        }
        x = x0 + 16;
    }
}
