//! The portable row kernels: the per-sample interpolation of [`crate::interp`] over rows.
//! They define what the SIMD kernels must produce (bit for bit) and run on every CPU.

use std::ops::Range;

use crate::interp::{PreparedTable, trilinear};
use crate::reference::{requantise, residual};

use super::{RESIDUAL_LIMIT, RowTaps};

/// Adds sample `x`'s weighted rows to `acc[j * stride + x]` for `j < K`.
#[inline(always)]
fn add_k<const K: usize>(
    t: &[i8],
    rows: [usize; 5],
    w: [i32; 5],
    acc: &mut [i32],
    stride: usize,
    x: usize,
) {
    let mut s = [0i32; K];
    for i in 0..5 {
        let row = &t[rows[i] * K..rows[i] * K + K];
        for j in 0..K {
            s[j] += w[i] * i32::from(row[j]);
        }
    }
    for (j, v) in s.into_iter().enumerate() {
        acc[j * stride + x] += v;
    }
}

/// [`super::spatial_row`] on the samples `xs` of the row.
#[inline]
pub(super) fn spatial_row(
    table: &PreparedTable<'_>,
    taps: &RowTaps<'_>,
    fb: u32,
    xs: Range<usize>,
    k: usize,
    acc: &mut [i32],
    stride: usize,
) {
    macro_rules! run {
        ($k:literal) => {
            for x in xs {
                let (part, rows, w) = table.locate(taps.values(x), fb);
                add_k::<$k>(table.part(part), rows, w, acc, stride, x);
            }
        };
    }
    match k {
        1 => run!(1),
        2 => run!(2),
        3 => run!(3),
        4 => run!(4),
        5 => run!(5),
        6 => run!(6),
        7 => run!(7),
        _ => run!(8),
    }
}

/// [`super::requantise_row`].
pub(super) fn requantise_row(raw: &[i32], terms: u32, out: &mut [u16]) {
    for (o, &r) in out.iter_mut().zip(raw) {
        *o = requantise(i64::from(r), terms) as u16;
    }
}

/// [`super::residual_row`].
pub(super) fn residual_row(
    sums: &[i32],
    scale: i32,
    scale_shift: u8,
    bit_depth: u8,
    out: &mut [i32],
) {
    let lim = i64::from(RESIDUAL_LIMIT);
    for (o, &s) in out.iter_mut().zip(sums) {
        *o = residual(i64::from(s), scale, scale_shift, bit_depth).clamp(-lim, lim) as i32;
    }
}

/// [`super::trilinear_row`].
pub(super) fn trilinear_row(
    table: &[i8],
    k: usize,
    inputs: [(&[u16], u32); 3],
    n: usize,
    acc: &mut [i32],
    stride: usize,
) {
    trilinear_row_at(table, k, inputs, 0..n, acc, stride);
}

/// [`super::trilinear_row`] on the samples `xs` of the row.
pub(super) fn trilinear_row_at(
    table: &[i8],
    k: usize,
    inputs: [(&[u16], u32); 3],
    xs: Range<usize>,
    acc: &mut [i32],
    stride: usize,
) {
    let fb = inputs.map(|(_, fb)| fb);
    let mut one = [0i32; 8];
    for x in xs {
        one[..k].fill(0);
        let v = inputs.map(|(d, _)| u32::from(d[x]));
        trilinear(table, k, v, fb, &mut one[..k]);
        for (j, &o) in one[..k].iter().enumerate() {
            acc[j * stride + x] += o;
        }
    }
}

/// [`super::Kernels::clamp_row`].
pub(super) fn clamp_row(src: &[u16], signed: bool, max: u16, dst: &mut [u16]) {
    for (d, &v) in dst.iter_mut().zip(src) {
        *d = sample(v, signed).clamp(0, i32::from(max)) as u16;
    }
}

/// [`super::Kernels::add_residual_row`].
pub(super) fn add_residual_row(
    src: &[u16],
    signed: bool,
    residual: &[i32],
    max: u16,
    dst: &mut [u16],
) {
    let max = i32::from(max);
    for ((d, &v), &r) in dst.iter_mut().zip(src).zip(residual) {
        *d = (sample(v, signed).clamp(0, max) + r).clamp(0, max) as u16;
    }
}

/// A 16-bit sample's value: `v` as u16, or as i16 where `signed`.
#[inline(always)]
fn sample(v: u16, signed: bool) -> i32 {
    if signed {
        i32::from(v as i16)
    } else {
        i32::from(v)
    }
}
