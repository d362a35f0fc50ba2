//! Residual scaling (API 1.2): the encoder scales a component's correction by a coded factor
//! `k / 16` (`lut_filter::ctu::scale_residual`); the decoder applies the same factor.

use lut_filter::{PlaneMut, Sample, ctu};

use crate::filter::{check_plane, positive};
use crate::rdo::{ctu_planes, read_in, write_out};
use crate::status::{Failure, FfiResult, guard, lutf_status};
use crate::types::lutf_plane;
use lutf_status::*;

/// Fraction bits of the residual factor: the factor is `k / (1 << LUTF_SCALE_SHIFT)`.
pub const LUTF_SCALE_SHIFT: i32 = 4;
/// The factor code that leaves the correction unchanged (1.0).
pub const LUTF_SCALE_ONE: i32 = 16;
/// The largest factor code (31 / 16); codes 0..31 fit in 5 bits.
pub const LUTF_SCALE_MAX: i32 = 31;

/// Per-CTU statistics of the least-squares residual factor for one component:
/// `dot[i] = sum (org - rec) * (filtered - rec)` and `energy[i] = sum (filtered - rec)^2` over
/// CTU `i`. Planes and CTU arrays as in `lutf_ctu_ssd_i16`. Added in API 1.2.
///
/// # Safety
/// As `lutf_ctu_ssd_i16`; `dot` and `energy` must be NULL (not wanted) or address `n_ctus`
/// writable values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_ctu_residual_stats_i16(
    org: *const lutf_plane,
    rec: *const lutf_plane,
    filtered: *const lutf_plane,
    ctu_size: i32,
    n_ctus: i32,
    dot: *mut i64,
    energy: *mut u64,
) -> lutf_status {
    // SAFETY: forwarded caller guarantees.
    guard(|| unsafe { stats_entry::<i16>(org, rec, filtered, ctu_size, n_ctus, dot, energy) })
}

/// `lutf_ctu_residual_stats_i16` for `uint16_t` samples.
///
/// # Safety
/// As `lutf_ctu_residual_stats_i16`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_ctu_residual_stats_u16(
    org: *const lutf_plane,
    rec: *const lutf_plane,
    filtered: *const lutf_plane,
    ctu_size: i32,
    n_ctus: i32,
    dot: *mut i64,
    energy: *mut u64,
) -> lutf_status {
    // SAFETY: forwarded caller guarantees.
    guard(|| unsafe { stats_entry::<u16>(org, rec, filtered, ctu_size, n_ctus, dot, energy) })
}

/// `lutf_ctu_residual_stats_i16` for `uint8_t` samples.
///
/// # Safety
/// As `lutf_ctu_residual_stats_i16`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_ctu_residual_stats_u8(
    org: *const lutf_plane,
    rec: *const lutf_plane,
    filtered: *const lutf_plane,
    ctu_size: i32,
    n_ctus: i32,
    dot: *mut i64,
    energy: *mut u64,
) -> lutf_status {
    // SAFETY: forwarded caller guarantees.
    guard(|| unsafe { stats_entry::<u8>(org, rec, filtered, ctu_size, n_ctus, dot, energy) })
}

/// # Safety
/// As `lutf_ctu_residual_stats_i16`.
unsafe fn stats_entry<T: Sample>(
    org: *const lutf_plane,
    rec: *const lutf_plane,
    filtered: *const lutf_plane,
    ctu_size: i32,
    n_ctus: i32,
    dot: *mut i64,
    energy: *mut u64,
) -> FfiResult {
    // SAFETY: forwarded caller guarantees; the views are dropped before returning.
    let ([o, r, f], ctu) = unsafe { ctu_planes::<T>(org, rec, filtered, ctu_size, n_ctus) }?;
    let stats = ctu::ctu_residual_stats(&o, &r, &f, ctu)
        .map_err(|e| Failure::new(LUTF_ERR_SIZE, e.to_string()))?;
    // SAFETY: non-NULL arrays address n_ctus == stats.dot.len() writable values (caller
    // guarantee).
    unsafe {
        write_out(dot, &stats.dot);
        write_out(energy, &stats.energy);
    }
    Ok(LUTF_OK)
}

/// The least-squares factor code over the CTUs whose `mask[i]` is not 0 (e.g. the flags of
/// `lutf_ctu_decide`): `round(16 * sum dot / sum energy)`, clamped to 0..`LUTF_SCALE_MAX`;
/// `LUTF_SCALE_ONE` when no CTU counts or their energy is 0. With several candidate filters
/// (`lutf_ctu_decide_among`), pass per CTU the statistics of the candidate that CTU uses.
/// Added in API 1.2.
///
/// # Safety
/// `dot`, `energy` and `mask` must address `n_ctus` readable values; `k` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_fit_scale(
    dot: *const i64,
    energy: *const u64,
    mask: *const u8,
    n_ctus: i32,
    k: *mut i32,
) -> lutf_status {
    guard(|| {
        if dot.is_null() || energy.is_null() || mask.is_null() || k.is_null() {
            return Err(Failure::new(
                LUTF_ERR_NULL_POINTER,
                "dot, energy, mask and k must not be NULL",
            ));
        }
        let n = positive("n_ctus", n_ctus)?;
        // SAFETY: the arrays address n_ctus readable values (caller guarantee).
        let stats = unsafe {
            ctu::CtuResidualStats {
                dot: read_in(dot, n),
                energy: read_in(energy, n),
            }
        };
        // SAFETY: as above.
        let choice: Vec<u8> = unsafe { read_in(mask, n) }
            .into_iter()
            .map(|m| u8::from(m != 0))
            .collect();
        let code = ctu::fit_scale(std::slice::from_ref(&stats), &choice)
            .map_err(|e| Failure::new(LUTF_ERR_INTERNAL, e.to_string()))?;
        // SAFETY: k is non-NULL (checked) and writable (caller guarantee); unaligned write.
        unsafe { k.write_unaligned(i32::from(code)) };
        Ok(LUTF_OK)
    })
}

/// Scales the filter's correction in place: every sample of `filtered` (a plane of `rec`'s size
/// at `filtered_stride`, holding `lutf_filter_*`'s output) becomes
/// `clip(rec + ((k * (filtered - rec) + 8) >> 4), 0, (1 << bit_depth) - 1)`, with `>>` an
/// arithmetic shift; `k = LUTF_SCALE_ONE` leaves it unchanged. Encoder and decoder call it with
/// the coded `k` before applying CTU flags. `filtered` must not overlap `rec`
/// (`LUTF_ERR_ALIASING`). Added in API 1.2.
///
/// # Safety
/// `rec` must be NULL or a readable plane descriptor as in `lutf_picture` (`int16_t` samples);
/// `filtered` must address `filtered_stride * (height - 1) + width` writable samples that no
/// one else accesses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_scale_residual_i16(
    rec: *const lutf_plane,
    filtered: *mut i16,
    filtered_stride: isize,
    k: i32,
    bit_depth: i32,
) -> lutf_status {
    // SAFETY: forwarded caller guarantees.
    guard(|| unsafe { scale_entry(rec, filtered, filtered_stride, k, bit_depth) })
}

/// `lutf_scale_residual_i16` for `uint16_t` samples.
///
/// # Safety
/// As `lutf_scale_residual_i16`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_scale_residual_u16(
    rec: *const lutf_plane,
    filtered: *mut u16,
    filtered_stride: isize,
    k: i32,
    bit_depth: i32,
) -> lutf_status {
    // SAFETY: forwarded caller guarantees.
    guard(|| unsafe { scale_entry(rec, filtered, filtered_stride, k, bit_depth) })
}

/// `lutf_scale_residual_i16` for `uint8_t` samples.
///
/// # Safety
/// As `lutf_scale_residual_i16`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_scale_residual_u8(
    rec: *const lutf_plane,
    filtered: *mut u8,
    filtered_stride: isize,
    k: i32,
    bit_depth: i32,
) -> lutf_status {
    // SAFETY: forwarded caller guarantees.
    guard(|| unsafe { scale_entry(rec, filtered, filtered_stride, k, bit_depth) })
}

/// # Safety
/// As `lutf_scale_residual_i16`.
unsafe fn scale_entry<T: Sample>(
    rec: *const lutf_plane,
    filtered: *mut T,
    filtered_stride: isize,
    k: i32,
    bit_depth: i32,
) -> FfiResult {
    // SAFETY: a non-NULL plane descriptor is readable (caller guarantee); copied.
    let p = *unsafe { rec.as_ref() }
        .ok_or_else(|| Failure::new(LUTF_ERR_NULL_POINTER, "reconstruction plane is NULL"))?;
    let w = positive("reconstruction width", p.width)?;
    let h = positive("reconstruction height", p.height)?;
    let r = check_plane::<T>("reconstruction", p.data, p.stride, w, h)?;
    let out = check_plane::<T>(
        "filtered",
        filtered.cast_const().cast(),
        filtered_stride,
        w,
        h,
    )?;
    let (a, b) = (r.bytes(), out.bytes());
    if a.start < b.end && b.start < a.end {
        return Err(Failure::new(
            LUTF_ERR_ALIASING,
            "the filtered plane overlaps the reconstruction; scale a copy",
        ));
    }
    let k = u8::try_from(k)
        .ok()
        .filter(|&k| k <= ctu::SCALE_MAX)
        .ok_or_else(|| {
            Failure::new(
                LUTF_ERR_INVALID_ARGUMENT,
                format!("k is {k}, must be 0..={}", ctu::SCALE_MAX),
            )
        })?;
    let depth = u8::try_from(bit_depth)
        .ok()
        .filter(|&d| (1..=T::MAX_BIT_DEPTH).contains(&d))
        .ok_or_else(|| {
            Failure::new(
                LUTF_ERR_BIT_DEPTH,
                format!(
                    "bit_depth is {bit_depth}, must be 1..={} for this sample type",
                    T::MAX_BIT_DEPTH
                ),
            )
        })?;
    // SAFETY: `r` was checked (non-NULL, aligned, size in bounds) and is readable and not
    // written during the call (caller guarantee).
    let rec = lut_filter::Plane::new(unsafe { r.slice() }, r.stride, w, h)?;
    // SAFETY: `out` was checked (non-NULL, aligned, `out.len` samples in bounds); the caller
    // guarantees they are writable and accessed by no one else during the call; they do not
    // overlap `rec` (checked).
    let dst = unsafe { std::slice::from_raw_parts_mut(out.ptr.cast_mut(), out.len) };
    let mut dst = PlaneMut::new(dst, out.stride, w, h)?;
    ctu::scale_residual(&rec, &mut dst, k, depth)
        .map_err(|e| Failure::new(LUTF_ERR_INVALID_ARGUMENT, e.to_string()))?;
    Ok(LUTF_OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::c_void;

    fn plane<T>(v: &[T], stride: isize, w: i32, h: i32) -> lutf_plane {
        lutf_plane {
            data: v.as_ptr().cast::<c_void>(),
            stride,
            width: w,
            height: h,
        }
    }

    #[test]
    fn constants_are_the_library_s() {
        assert_eq!(LUTF_SCALE_SHIFT, ctu::SCALE_SHIFT as i32);
        assert_eq!(LUTF_SCALE_ONE, i32::from(ctu::SCALE_ONE));
        assert_eq!(LUTF_SCALE_MAX, i32::from(ctu::SCALE_MAX));
    }

    #[test]
    fn scales_fits_and_reports_as_the_library() {
        // 8x4 plane, CTUs of 4: the correction is twice the error on the left CTU only.
        let (w, h) = (8usize, 4usize);
        let rec = vec![100i16; w * h];
        let org: Vec<i16> = (0..w * h)
            .map(|i| if i % w < 4 { 100 + (i % 3) as i16 } else { 100 })
            .collect();
        let filt: Vec<i16> = (0..w * h)
            .map(|i| {
                if i % w < 4 {
                    100 + 2 * (i % 3) as i16
                } else {
                    90
                }
            })
            .collect();
        let (o, r, f) = (
            plane(&org, 8, 8, 4),
            plane(&rec, 8, 8, 4),
            plane(&filt, 8, 8, 4),
        );
        let (mut dot, mut energy) = ([0i64; 2], [0u64; 2]);
        // SAFETY: valid planes and arrays of n_ctus = 2.
        let s = unsafe {
            lutf_ctu_residual_stats_i16(&o, &r, &f, 4, 2, dot.as_mut_ptr(), energy.as_mut_ptr())
        };
        assert_eq!(s, LUTF_OK);
        assert_eq!(energy[1], 16 * 100);
        let mut k = -1;
        // SAFETY: arrays of 2 values, k writable.
        let s =
            unsafe { lutf_fit_scale(dot.as_ptr(), energy.as_ptr(), [1, 0].as_ptr(), 2, &mut k) };
        assert_eq!((s, k), (LUTF_OK, 8));
        let mut out = filt.clone();
        // SAFETY: `out` is an 8x4 plane at stride 8, separate from `rec`.
        let s = unsafe { lutf_scale_residual_i16(&r, out.as_mut_ptr(), 8, k, 10) };
        assert_eq!(s, LUTF_OK);
        assert_eq!(out[..4], org[..4]);
        assert_eq!(out[4], 95);
        // Bad arguments are reported, nothing panics.
        // SAFETY: as above; the calls fail on their checks.
        unsafe {
            assert_eq!(
                lutf_scale_residual_i16(&r, out.as_mut_ptr(), 8, 32, 10),
                LUTF_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                lutf_scale_residual_i16(&r, out.as_mut_ptr(), 8, 16, 13),
                LUTF_ERR_BIT_DEPTH
            );
            assert_eq!(
                lutf_scale_residual_i16(&r, rec.as_ptr().cast_mut(), 8, 16, 10),
                LUTF_ERR_ALIASING
            );
            assert_eq!(
                lutf_fit_scale(dot.as_ptr(), energy.as_ptr(), std::ptr::null(), 2, &mut k),
                LUTF_ERR_NULL_POINTER
            );
            assert_eq!(
                lutf_ctu_residual_stats_i16(
                    &o,
                    &r,
                    &f,
                    4,
                    3,
                    dot.as_mut_ptr(),
                    energy.as_mut_ptr()
                ),
                LUTF_ERR_SIZE
            );
        }
    }
}
