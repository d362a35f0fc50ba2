//! AVX-512 row kernels: the 4-simplex look-up of 16 samples at once (one per 32-bit lane of a
//! 512-bit vector), and of 32 (16-bit lanes, [`cube32`]) for 1- and 2-output DFC tables in
//! the cube layout (every table of the shipped models and of the reference architecture). They cover the chunks that dominate real
//! pictures: regular tables, and DFC tables in the engine's position-addressed or cube
//! layouts. DFC tables read through their index and rows of fewer than 16 samples run the
//! AVX2 code, as do the requantisation and residual kernels: this level extends
//! [`super::avx2`] and needs everything it needs. Channel nodes of up to 4 outputs run
//! [`trilinear`] (16 samples per step, one 8-byte read per pair of corner rows).
//!
//! The arithmetic is the AVX2 chunk's integers (sort keys, comparator network, weights,
//! weighted sums), so the results are bit-exact with it and with the portable code
//! (`tests/simd_vs_portable.rs`). How the table is read differs: one 4-byte gather per
//! vertex, two vertices per gathered word (pairs), or two 8-byte cubes per look-up, one
//! gathered and one read by scalar loads (cubes in 16-bit lanes).
//!
//! **Memory safety** is argued as for AVX2: the last vertex's position bounds every lane's
//! reads and is checked (unsigned, against the layout's last readable position) before any
//! read; a chunk with a lane outside is computed by narrower code.

use super::avx2;
use super::{RowTaps, Rows};
use crate::interp::PreparedTable;

mod chunk;
mod cube32;
mod simplex;
mod trilinear;

/// Proof that the CPU runs AVX-512 F, BW and VBMI (Ice Lake, Zen 4 and later) and AVX2:
/// exists only where `is_x86_feature_detected!` held for all four.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token(avx2::Token);

impl Token {
    pub(crate) fn new() -> Option<Token> {
        let wide = is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vbmi");
        avx2::Token::new().filter(|_| wide).map(Token)
    }

    /// The AVX2 kernels this level also uses.
    pub(crate) fn avx2(self) -> avx2::Token {
        self.0
    }
}

/// A table prepared for the AVX-512 spatial row kernel.
pub(crate) struct Spatial<'a>(simplex::Spatial<'a>);

impl<'a> Spatial<'a> {
    /// `None` where this level cannot run the table (the portable code then does).
    pub(crate) fn new(
        _token: Token,
        table: &PreparedTable<'a>,
        fb: u32,
        k: usize,
    ) -> Option<Spatial<'a>> {
        // SAFETY: a `Token` exists only where AVX-512 F/BW/VBMI and AVX2 were detected at run time.
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
        // SAFETY: a `Spatial` exists only where AVX-512 F/BW/VBMI and AVX2 were detected (its
        // `Token`); the accumulator's size was checked by the caller (`check_acc`).
        unsafe { self.0.rows(table, taps, block, acc, stride) }
    }
}

/// See [`super::trilinear_row`].
pub(super) fn trilinear_row(
    token: Token,
    table: &[i8],
    k: usize,
    inputs: [(&[u16], u32); 3],
    n: usize,
    acc: &mut [i32],
    stride: usize,
) {
    // SAFETY: a `Token` exists only where AVX-512 F/BW/VBMI and AVX2 were detected at run
    // time; the sizes were checked by the caller.
    unsafe { trilinear::trilinear_row(token.avx2(), table, k, inputs, n, acc, stride) }
}
