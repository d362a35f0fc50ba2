//! Encoder helpers: per-CTU distortion and the CTU on/off decision by rate-distortion cost.
//!
//! The pattern of ALF and of JVET's NN loop filter: filter the whole picture, keep per CTU
//! whichever of off/on has the lower SSD against the original, then compare "off", "all on" and
//! "CTU adaptive" by `J = D + lambda * R`.

use lut_filter::{Sample, ctu};

use crate::filter::{CheckedPlane, check_plane, positive};
use crate::status::{Failure, FfiResult, guard, lutf_status};
use crate::types::{lutf_ctu_decision, lutf_ctu_mode, lutf_plane};
use lutf_status::*;

fn ctu_count(width: usize, height: usize, ctu: usize) -> FfiResult<usize> {
    width
        .div_ceil(ctu)
        .checked_mul(height.div_ceil(ctu))
        .filter(|&n| i32::try_from(n).is_ok())
        .ok_or_else(|| Failure::new(LUTF_ERR_SIZE, "too many CTUs"))
}

/// Writes to `*count` the number of CTUs of `ctu_size x ctu_size` samples (partial CTUs at the
/// right and bottom edges count) covering a `width x height` plane: the length of the arrays of
/// the CTU helpers. For chroma planes pass the chroma CTU size (64 for 128 luma in 4:2:0).
///
/// # Safety
/// `count` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_ctu_count(
    width: i32,
    height: i32,
    ctu_size: i32,
    count: *mut i32,
) -> lutf_status {
    guard(|| {
        // SAFETY: a non-NULL count is writable (caller guarantee).
        let count = unsafe { count.as_mut() }
            .ok_or_else(|| Failure::new(LUTF_ERR_NULL_POINTER, "count is NULL"))?;
        let n = ctu_count(
            positive("width", width)?,
            positive("height", height)?,
            ctu_size_arg(ctu_size)?,
        )?;
        *count = n as i32;
        Ok(LUTF_OK)
    })
}

fn ctu_size_arg(ctu_size: i32) -> FfiResult<usize> {
    usize::try_from(ctu_size)
        .ok()
        .filter(|&s| s > 0)
        .ok_or_else(|| {
            Failure::new(
                LUTF_ERR_INVALID_ARGUMENT,
                format!("ctu_size is {ctu_size}, must be > 0"),
            )
        })
}

/// Per-CTU SSD of `rec` and `filtered` against `org` (three planes of one layout).
///
/// # Safety
/// The plane guarantees of `lutf_ctu_ssd_i16`.
unsafe fn ssd<T: Sample>(
    org: *const lutf_plane,
    rec: *const lutf_plane,
    filtered: *const lutf_plane,
    ctu_size: i32,
    n_ctus: i32,
) -> FfiResult<(Vec<u64>, Vec<u64>)> {
    // SAFETY: forwarded caller guarantees.
    let ([o, r, f], ctu) = unsafe { ctu_planes::<T>(org, rec, filtered, ctu_size, n_ctus) }?;
    Ok(ctu::ctu_ssd(&o, &r, &f, ctu))
}

/// Checks three plane descriptors of one size (original, reconstruction, filtered), the CTU
/// size and the CTU count, and views the planes.
///
/// # Safety
/// The plane guarantees of `lutf_ctu_ssd_i16`; the views must not outlive the call.
pub(crate) unsafe fn ctu_planes<'a, T: Sample>(
    org: *const lutf_plane,
    rec: *const lutf_plane,
    filtered: *const lutf_plane,
    ctu_size: i32,
    n_ctus: i32,
) -> FfiResult<([lut_filter::Plane<'a, T>; 3], usize)> {
    let mut checked: Vec<CheckedPlane<T>> = Vec::with_capacity(3);
    for (p, name) in [
        (org, "original"),
        (rec, "reconstruction"),
        (filtered, "filtered"),
    ] {
        // SAFETY: a non-NULL plane descriptor is readable (caller guarantee); copied.
        let p = *unsafe { p.as_ref() }
            .ok_or_else(|| Failure::new(LUTF_ERR_NULL_POINTER, format!("{name} plane is NULL")))?;
        let w = positive(&format!("{name} width"), p.width)?;
        let h = positive(&format!("{name} height"), p.height)?;
        checked.push(check_plane::<T>(name, p.data, p.stride, w, h)?);
    }
    let (w, h) = (checked[0].width, checked[0].height);
    if checked[1..].iter().any(|p| (p.width, p.height) != (w, h)) {
        return Err(Failure::new(
            LUTF_ERR_SIZE,
            format!(
                "planes differ in size: original {w}x{h}, reconstruction {}x{}, filtered {}x{}",
                checked[1].width, checked[1].height, checked[2].width, checked[2].height
            ),
        ));
    }
    let ctu = ctu_size_arg(ctu_size)?;
    let n = ctu_count(w, h, ctu)?;
    if usize::try_from(n_ctus).ok() != Some(n) {
        return Err(Failure::new(
            LUTF_ERR_SIZE,
            format!("n_ctus is {n_ctus}, a {w}x{h} plane has {n} CTUs of {ctu}x{ctu}"),
        ));
    }
    let view = |p: &CheckedPlane<T>| {
        // SAFETY: each plane was checked (non-NULL, aligned, size in bounds) and addresses
        // `len` readable samples not written during the call (caller guarantee); the views
        // live no longer than the call.
        let s = unsafe { p.slice() };
        lut_filter::Plane::new(s, p.stride, w, h)
            .map_err(|e| Failure::new(LUTF_ERR_SIZE, e.to_string()))
    };
    Ok((
        [view(&checked[0])?, view(&checked[1])?, view(&checked[2])?],
        ctu,
    ))
}

/// Copies `n` elements of a caller array into a vector, element by element with unaligned
/// reads (no reference to caller memory is created, so no alignment is required).
///
/// # Safety
/// `src` must address `n` readable elements.
pub(crate) unsafe fn read_in<T: Copy>(src: *const T, n: usize) -> Vec<T> {
    (0..n)
        // SAFETY: src addresses n readable elements (caller guarantee), so `src + i` for
        // i < n is in bounds; the read is unaligned, so no alignment is assumed.
        .map(|i| unsafe { src.add(i).read_unaligned() })
        .collect()
}

/// Copies `values` to a caller array of `values.len()` elements, byte-wise (no reference to
/// caller memory is created, so no alignment or aliasing requirement beyond writability).
///
/// # Safety
/// `dst` must be NULL (then nothing is written) or address `values.len()` writable elements.
pub(crate) unsafe fn write_out<T: Copy>(dst: *mut T, values: &[T]) {
    if !dst.is_null() {
        // SAFETY: dst addresses values.len() writable elements (caller guarantee); `values` is
        // our own memory, so the ranges cannot overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(
                values.as_ptr().cast::<u8>(),
                dst.cast::<u8>(),
                std::mem::size_of_val(values),
            )
        };
    }
}

/// The decision from per-CTU SSDs (`lut_filter::ctu::decide`); returns the flags to apply and
/// the summary.
fn decide(
    off: &[u64],
    on: &[u64],
    lambda: f64,
    flag_bits: f64,
) -> FfiResult<(Vec<u8>, lutf_ctu_decision)> {
    let d = ctu::decide(off, on, lambda, flag_bits)
        .map_err(|e| Failure::new(LUTF_ERR_INVALID_ARGUMENT, e.to_string()))?;
    let mode = match d.mode {
        ctu::CtuMode::Off => lutf_ctu_mode::LUTF_MODE_OFF,
        ctu::CtuMode::AllOn => lutf_ctu_mode::LUTF_MODE_ALL_ON,
        ctu::CtuMode::Adaptive => lutf_ctu_mode::LUTF_MODE_CTU_ADAPTIVE,
    };
    let summary = lutf_ctu_decision {
        distortion: d.distortion,
        cost: d.cost,
        mode: mode as i32,
        ctus_on: d.ctus_on() as i32,
    };
    Ok((d.flags, summary))
}

/// Per-CTU sum of squared errors against `org` of the reconstruction without (`ssd_off`) and
/// with (`ssd_on`) the filter, for one component. `org`, `rec` and `filtered` are planes of the
/// same width and height (strides may differ); `ctu_size` is on this plane's grid; the arrays
/// hold `n_ctus` values (see `lutf_ctu_count`) in CTU raster order. Sum these arrays over
/// components before `lutf_ctu_decide` for one flag per CTU covering Y, Cb and Cr.
///
/// # Safety
/// Each plane descriptor must be NULL or readable, its samples as in `lutf_picture` (`int16_t`
/// here). `ssd_off` and `ssd_on` must be NULL (not wanted) or address `n_ctus` writable values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_ctu_ssd_i16(
    org: *const lutf_plane,
    rec: *const lutf_plane,
    filtered: *const lutf_plane,
    ctu_size: i32,
    n_ctus: i32,
    ssd_off: *mut u64,
    ssd_on: *mut u64,
) -> lutf_status {
    // SAFETY: forwarded caller guarantees.
    guard(|| unsafe { ssd_entry::<i16>(org, rec, filtered, ctu_size, n_ctus, ssd_off, ssd_on) })
}

/// `lutf_ctu_ssd_i16` for `uint16_t` samples.
///
/// # Safety
/// As `lutf_ctu_ssd_i16`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_ctu_ssd_u16(
    org: *const lutf_plane,
    rec: *const lutf_plane,
    filtered: *const lutf_plane,
    ctu_size: i32,
    n_ctus: i32,
    ssd_off: *mut u64,
    ssd_on: *mut u64,
) -> lutf_status {
    // SAFETY: forwarded caller guarantees.
    guard(|| unsafe { ssd_entry::<u16>(org, rec, filtered, ctu_size, n_ctus, ssd_off, ssd_on) })
}

/// `lutf_ctu_ssd_i16` for `uint8_t` samples.
///
/// # Safety
/// As `lutf_ctu_ssd_i16`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_ctu_ssd_u8(
    org: *const lutf_plane,
    rec: *const lutf_plane,
    filtered: *const lutf_plane,
    ctu_size: i32,
    n_ctus: i32,
    ssd_off: *mut u64,
    ssd_on: *mut u64,
) -> lutf_status {
    // SAFETY: forwarded caller guarantees.
    guard(|| unsafe { ssd_entry::<u8>(org, rec, filtered, ctu_size, n_ctus, ssd_off, ssd_on) })
}

/// # Safety
/// As `lutf_ctu_ssd_i16`.
unsafe fn ssd_entry<T: Sample>(
    org: *const lutf_plane,
    rec: *const lutf_plane,
    filtered: *const lutf_plane,
    ctu_size: i32,
    n_ctus: i32,
    ssd_off: *mut u64,
    ssd_on: *mut u64,
) -> FfiResult {
    // SAFETY: forwarded caller guarantees.
    let (off, on) = unsafe { ssd::<T>(org, rec, filtered, ctu_size, n_ctus) }?;
    // SAFETY: non-NULL arrays address n_ctus == off.len() writable values (caller guarantee).
    unsafe {
        write_out(ssd_off, &off);
        write_out(ssd_on, &on);
    }
    Ok(LUTF_OK)
}

/// The CTU on/off decision from per-CTU SSDs (of one component, or summed over components):
/// a CTU is on where `ssd_on < ssd_off`; the picture-level mode is the cheapest of off, all
/// on and CTU adaptive by `J = D + lambda * flag_bits * flags` (see `lutf_ctu_decision`).
/// `flags[i]` receives the flag to apply to CTU `i` under the chosen mode (all 0 for off, all
/// 1 for all on). `lambda` is the encoder's lambda for SSD (VTM: the slice's luma lambda);
/// `flag_bits` the estimated cost of one flag in bits (1.0 without a better estimate).
///
/// # Safety
/// `ssd_off` and `ssd_on` must be NULL or address `n_ctus` readable values; `flags` NULL or
/// `n_ctus` writable bytes; `decision` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_ctu_decide(
    ssd_off: *const u64,
    ssd_on: *const u64,
    n_ctus: i32,
    lambda: f64,
    flag_bits: f64,
    flags: *mut u8,
    decision: *mut lutf_ctu_decision,
) -> lutf_status {
    guard(|| {
        if ssd_off.is_null() || ssd_on.is_null() || flags.is_null() || decision.is_null() {
            return Err(Failure::new(
                LUTF_ERR_NULL_POINTER,
                "ssd_off, ssd_on, flags and decision must not be NULL",
            ));
        }
        let n = positive("n_ctus", n_ctus)?;
        // SAFETY: ssd_off and ssd_on address n readable values (caller guarantee).
        let (off, on) = unsafe { (read_in(ssd_off, n), read_in(ssd_on, n)) };
        let (f, d) = decide(&off, &on, lambda, flag_bits)?;
        // SAFETY: flags addresses n writable bytes, decision is writable (caller guarantee).
        unsafe {
            write_out(flags, &f);
            write_out(decision, std::slice::from_ref(&d));
        }
        Ok(LUTF_OK)
    })
}

/// The whole encoder helper for one component: `lutf_ctu_ssd_*` followed by `lutf_ctu_decide`.
/// `ssd_off`/`ssd_on` may be NULL when not wanted; `flags` (n_ctus bytes) and `decision` are
/// required.
///
/// # Safety
/// As `lutf_ctu_ssd_i16` and `lutf_ctu_decide`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_ctu_rdo_i16(
    org: *const lutf_plane,
    rec: *const lutf_plane,
    filtered: *const lutf_plane,
    ctu_size: i32,
    lambda: f64,
    flag_bits: f64,
    n_ctus: i32,
    flags: *mut u8,
    ssd_off: *mut u64,
    ssd_on: *mut u64,
    decision: *mut lutf_ctu_decision,
) -> lutf_status {
    guard(|| {
        // SAFETY: forwarded caller guarantees.
        unsafe {
            rdo::<i16>(
                org, rec, filtered, ctu_size, lambda, flag_bits, n_ctus, flags, ssd_off, ssd_on,
                decision,
            )
        }
    })
}

/// `lutf_ctu_rdo_i16` for `uint16_t` samples.
///
/// # Safety
/// As `lutf_ctu_rdo_i16`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_ctu_rdo_u16(
    org: *const lutf_plane,
    rec: *const lutf_plane,
    filtered: *const lutf_plane,
    ctu_size: i32,
    lambda: f64,
    flag_bits: f64,
    n_ctus: i32,
    flags: *mut u8,
    ssd_off: *mut u64,
    ssd_on: *mut u64,
    decision: *mut lutf_ctu_decision,
) -> lutf_status {
    guard(|| {
        // SAFETY: forwarded caller guarantees.
        unsafe {
            rdo::<u16>(
                org, rec, filtered, ctu_size, lambda, flag_bits, n_ctus, flags, ssd_off, ssd_on,
                decision,
            )
        }
    })
}

/// `lutf_ctu_rdo_i16` for `uint8_t` samples.
///
/// # Safety
/// As `lutf_ctu_rdo_i16`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_ctu_rdo_u8(
    org: *const lutf_plane,
    rec: *const lutf_plane,
    filtered: *const lutf_plane,
    ctu_size: i32,
    lambda: f64,
    flag_bits: f64,
    n_ctus: i32,
    flags: *mut u8,
    ssd_off: *mut u64,
    ssd_on: *mut u64,
    decision: *mut lutf_ctu_decision,
) -> lutf_status {
    guard(|| {
        // SAFETY: forwarded caller guarantees.
        unsafe {
            rdo::<u8>(
                org, rec, filtered, ctu_size, lambda, flag_bits, n_ctus, flags, ssd_off, ssd_on,
                decision,
            )
        }
    })
}

/// # Safety
/// As `lutf_ctu_rdo_i16`.
#[allow(clippy::too_many_arguments)]
unsafe fn rdo<T: Sample>(
    org: *const lutf_plane,
    rec: *const lutf_plane,
    filtered: *const lutf_plane,
    ctu_size: i32,
    lambda: f64,
    flag_bits: f64,
    n_ctus: i32,
    flags: *mut u8,
    ssd_off: *mut u64,
    ssd_on: *mut u64,
    decision: *mut lutf_ctu_decision,
) -> FfiResult {
    if flags.is_null() || decision.is_null() {
        return Err(Failure::new(
            LUTF_ERR_NULL_POINTER,
            "flags and decision must not be NULL",
        ));
    }
    // SAFETY: forwarded caller guarantees.
    let (off, on) = unsafe { ssd::<T>(org, rec, filtered, ctu_size, n_ctus) }?;
    let (f, d) = decide(&off, &on, lambda, flag_bits)?;
    // SAFETY: the arrays address n_ctus == off.len() writable elements, decision one
    // (caller guarantee); NULL ssd arrays are skipped by write_out.
    unsafe {
        write_out(ssd_off, &off);
        write_out(ssd_on, &on);
        write_out(flags, &f);
        write_out(decision, std::slice::from_ref(&d));
    }
    Ok(LUTF_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_picks_the_cheapest_mode() {
        // Filtering helps CTU 0 a lot, hurts CTU 1 a lot: adaptive wins.
        let (f, d) = decide(&[100, 100], &[10, 1000], 1.0, 1.0).unwrap();
        assert_eq!(f, [1, 0]);
        assert_eq!(d.mode, lutf_ctu_mode::LUTF_MODE_CTU_ADAPTIVE as i32);
        assert_eq!(d.distortion, [200, 1010, 110]);
        assert_eq!(d.cost, [201.0, 1012.0, 114.0]);
        assert_eq!(d.ctus_on, 1);
        // Helps everywhere: all on (cheaper than coding CTU flags).
        let (f, d) = decide(&[100, 100], &[10, 10], 1.0, 1.0).unwrap();
        assert_eq!(
            (f, d.mode),
            (vec![1, 1], lutf_ctu_mode::LUTF_MODE_ALL_ON as i32)
        );
        // Helps nowhere, or ties: off.
        let (f, d) = decide(&[100, 100], &[100, 100], 1.0, 1.0).unwrap();
        assert_eq!(
            (f, d.mode),
            (vec![0, 0], lutf_ctu_mode::LUTF_MODE_OFF as i32)
        );
        // A huge lambda makes flags too expensive.
        let (_, d) = decide(&[100, 100], &[10, 1000], 1000.0, 1.0).unwrap();
        assert_eq!(d.mode, lutf_ctu_mode::LUTF_MODE_OFF as i32);
        assert!(decide(&[1], &[1], f64::NAN, 1.0).is_err());
        assert!(decide(&[1], &[1], 1.0, -1.0).is_err());
    }
}
