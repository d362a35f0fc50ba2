//! One chunk of the AVX2 4-simplex kernel: 8 samples, one per 32-bit lane (constants and row
//! loop: [`super::simplex`]).

use std::arch::x86_64::*;

use crate::tables::ONE;

use super::simplex::{Band, Geo, Kernel};

/// Chunk sources: all lanes from table `a` (regular, or DFC fine), all from `b` (DFC coarse),
/// or mixed.
pub(super) const SRC_A: u8 = 0;
pub(super) const SRC_B: u8 = 1;
pub(super) const SRC_MIXED: u8 = 2;

/// Loads the four tap values of samples `x0..x0 + 8` (`at`: the taps of sample 0): 8 u16 per
/// tap (`UNIT`), or 16 of which the even ones (step 2).
///
/// # Safety
/// AVX2 is available, and every tap has `step * (x0 + 8)` u16 readable from `at[t]`.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn load_taps<const UNIT: bool>(at: &[*const u16; 4], x0: usize) -> [__m256i; 4] {
    at.map(|p| {
        if UNIT {
            // SAFETY: 8 u16 of the map (the caller's contract).
            _mm256_cvtepu16_epi32(unsafe { _mm_loadu_si128(p.add(x0).cast()) })
        } else {
            // SAFETY: 16 u16 of the map (the caller's contract); the low half of each 32-bit
            // lane is an even element.
            let w = unsafe { _mm256_loadu_si256(p.add(2 * x0).cast()) };
            _mm256_and_si256(w, _mm256_set1_epi32(0xffff))
        }
    })
}

/// DFC band test: lanes where `-lim < v[t] - v[0] <= lim` for every diagonal coordinate.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn band(v: &[__m256i; 4], b: &Band) -> __m256i {
    let c = _mm256_sub_epi32(b.offset, v[0]);
    let u = [0, 1, 2].map(|t| _mm256_and_si256(_mm256_add_epi32(v[t + 1], c), b.mask[t]));
    let m = _mm256_max_epu32(_mm256_max_epu32(u[0], u[1]), u[2]);
    _mm256_cmpeq_epi32(_mm256_min_epu32(m, b.width), m)
}

/// Whether `x <= lim` (unsigned) in every lane.
#[inline]
#[target_feature(enable = "avx2")]
fn all_le(x: __m256i, lim: __m256i) -> bool {
    _mm256_movemask_epi8(_mm256_cmpeq_epi32(_mm256_max_epu32(x, lim), lim)) == -1
}

/// One chunk: adds `keep` lanes of the look-ups to the `N` rows at `out` (stride `stride`).
/// Returns false, having added nothing, if a lane's rows lie outside what may be gathered.
///
/// # Safety
/// AVX2 is available; `out.add(j * stride)` is valid for 8 i32 reads and writes, `j < N`.
#[inline]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn chunk<const N: usize, const SRC: u8, const INDEX: bool>(
    kern: &Kernel<'_>,
    g: &Geo,
    v: [__m256i; 4],
    fine: __m256i,
    out: *mut i32,
    stride: usize,
    keep: __m256i,
) -> bool {
    let zero = _mm256_setzero_si256();
    let frac = _mm256_set1_epi32(0xff_0000);
    let mut base = g.origin;
    let mut keys = [zero; 4];
    for t in 0..4 {
        let (node, f) = if SRC == SRC_MIXED {
            (
                _mm256_srlv_epi32(v[t], g.bits),
                _mm256_sllv_epi32(v[t], g.up),
            )
        } else {
            (
                _mm256_srl_epi32(v[t], g.bits_count),
                _mm256_sll_epi32(v[t], g.up_count),
            )
        };
        base = _mm256_add_epi32(base, _mm256_mullo_epi32(node, g.strides[t]));
        keys[t] = _mm256_or_si256(_mm256_and_si256(f, frac), g.strides[t]);
    }
    // Positions grow along the path (positive strides, no overflow: `GeoSpec::geo`), so the
    // last vertex's bounds them all.
    if !all_le(_mm256_add_epi32(base, g.span), g.pos_limit) {
        return false;
    }
    for (a, b) in [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)] {
        let (hi, lo) = (
            _mm256_max_epi32(keys[a], keys[b]),
            _mm256_min_epi32(keys[a], keys[b]),
        );
        keys[a] = hi;
        keys[b] = lo;
    }
    // Vertex positions (all first: the gathers then issue back to back) and weights.
    let low = _mm256_set1_epi32(0xffff);
    let mut pos = [base; 5];
    for r in 1..5 {
        pos[r] = _mm256_add_epi32(pos[r - 1], _mm256_and_si256(keys[r - 1], low));
    }
    let fs = [0, 1, 2, 3].map(|r| _mm256_srli_epi32::<16>(keys[r]));
    let w = [
        _mm256_sub_epi32(_mm256_set1_epi32(ONE), fs[0]),
        _mm256_sub_epi32(fs[0], fs[1]),
        _mm256_sub_epi32(fs[1], fs[2]),
        _mm256_sub_epi32(fs[2], fs[3]),
        fs[3],
    ];
    let offs = if INDEX {
        let index = kern.index.expect("index path").as_ptr();
        let mut offs = pos;
        for (o, &p) in offs.iter_mut().zip(&pos) {
            // SAFETY: fine lanes have `0 <= p <= pos_limit = index.len() - 1` (checked on the
            // last vertex above); other lanes are masked off and not read.
            let rows = unsafe {
                if SRC == SRC_MIXED {
                    _mm256_mask_i32gather_epi32::<4>(p, index, p, fine)
                } else {
                    _mm256_i32gather_epi32::<4>(index, p)
                }
            };
            if !all_le(rows, g.row_limit) {
                return false;
            }
            let bytes = _mm256_add_epi32(
                _mm256_mullo_epi32(rows, _mm256_set1_epi32(kern.k)),
                _mm256_set1_epi32(kern.first),
            );
            *o = if SRC == SRC_MIXED {
                _mm256_blendv_epi8(p, bytes, fine)
            } else {
                bytes
            };
        }
        offs
    } else {
        pos
    };
    // SAFETY: each lane's offset leaves at least 4 bytes in its table (`pos_limit`, or
    // `row_limit` on the index path: `Kernel::new`).
    let words = offs.map(|o| unsafe { gather::<SRC>(kern, o, fine) });
    let mut sums = [zero; N];
    for (word, wr) in words.iter().zip(&w) {
        for (j, s) in sums.iter_mut().enumerate() {
            // Byte j of the word, sign-extended.
            let t = match j {
                0 => _mm256_srai_epi32::<24>(_mm256_slli_epi32::<24>(*word)),
                1 => _mm256_srai_epi32::<24>(_mm256_slli_epi32::<16>(*word)),
                2 => _mm256_srai_epi32::<24>(_mm256_slli_epi32::<8>(*word)),
                _ => _mm256_srai_epi32::<24>(*word),
            };
            *s = _mm256_add_epi32(*s, _mm256_mullo_epi32(*wr, t));
        }
    }
    for (j, s) in sums.into_iter().enumerate() {
        // SAFETY: the caller's contract on `out`.
        unsafe {
            let p = out.add(j * stride).cast::<__m256i>();
            let sum = _mm256_add_epi32(_mm256_loadu_si256(p), _mm256_and_si256(s, keep));
            _mm256_storeu_si256(p, sum);
        }
    }
    true
}

/// The 4 bytes at byte offset `off` of each lane's table.
///
/// # Safety
/// AVX2 is available, and each lane's `off + 4` is at most the length of the table it reads
/// (`a`, `b`, or per `fine` for a mixed chunk).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn gather<const SRC: u8>(kern: &Kernel<'_>, off: __m256i, fine: __m256i) -> __m256i {
    let (a, b) = (kern.a.as_ptr().cast::<i32>(), kern.b.as_ptr().cast::<i32>());
    // SAFETY: by the caller's contract each lane's 4 bytes at `off` lie inside its table;
    // masked-off lanes are not read.
    unsafe {
        match SRC {
            SRC_MIXED if std::ptr::eq(a, b) => _mm256_i32gather_epi32::<1>(a, off),
            SRC_A => _mm256_i32gather_epi32::<1>(a, off),
            SRC_B => _mm256_i32gather_epi32::<1>(b, off),
            _ => {
                let zero = _mm256_setzero_si256();
                let from_a = _mm256_mask_i32gather_epi32::<1>(zero, a, off, fine);
                let coarse = _mm256_xor_si256(fine, _mm256_set1_epi32(-1));
                _mm256_mask_i32gather_epi32::<1>(from_a, b, off, coarse)
            }
        }
    }
}
