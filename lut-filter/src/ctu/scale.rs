//! Residual scaling: the encoder may scale the filter's correction of one picture component,
//! `filtered - rec`, by `k / 16` (`k` in 0..=31; 16 leaves it unchanged), the factor that best
//! fits the original on the CTUs it keeps, and code `k` (NNVC's residual scaling, JVET-AC).
//!
//! A table model is fitted to a whole training set; on one picture its correction may be too
//! strong or too weak. The decoder applies the coded factor with [`scale_residual`], in integer
//! arithmetic:
//!
//! `out = clip(rec + ((k * (filtered - rec) + 8) >> 4), 0, 2^bit_depth - 1)`
//!
//! (`>>` an arithmetic shift), so `k = 16` gives `filtered` exactly. The encoder measures
//! per-CTU correlations with [`ctu_residual_stats`] and fits `k` by least squares over the CTUs
//! its on/off decision keeps ([`fit_scale`]); `docs/vtm-integration.md` §6b shows the loop.

use super::{CtuError, ctu_count, for_each_ctu_segment};
use crate::picture::{Plane, PlaneMut, Sample};

/// Fraction bits of the factor: `s = k / 2^SCALE_SHIFT`.
pub const SCALE_SHIFT: u32 = 4;
/// The factor that leaves the correction unchanged (1.0).
pub const SCALE_ONE: u8 = 1 << SCALE_SHIFT;
/// Largest factor code (31 / 16 = 1.9375); codes fit in 5 bits.
pub const SCALE_MAX: u8 = 31;
/// Bits an encoder spends on a component's factor when it is coded: 5 for `k`. The benchmark
/// also spends one flag per filtered component saying whether a factor follows.
pub const SCALE_CODE_BITS: f64 = 5.0;

/// Per-CTU correlation of the filter's correction with the reconstruction error, in CTU
/// raster order: the sufficient statistics of the least-squares factor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CtuResidualStats {
    /// `sum (org - rec) * (filtered - rec)` per CTU.
    pub dot: Vec<i64>,
    /// `sum (filtered - rec)^2` per CTU.
    pub energy: Vec<u64>,
}

/// Per-CTU statistics of one component's planes (`ctu` on this plane's grid).
///
/// # Errors
/// [`CtuError::PlaneSizes`] if the planes differ in size; [`CtuError::BadParameter`] if `ctu`
/// is 0.
pub fn ctu_residual_stats<T: Sample>(
    org: &Plane<'_, T>,
    rec: &Plane<'_, T>,
    filtered: &Plane<'_, T>,
    ctu: usize,
) -> Result<CtuResidualStats, CtuError> {
    let (w, h) = (org.width(), org.height());
    same_size((w, h), &[(rec.width(), rec.height())])?;
    same_size((w, h), &[(filtered.width(), filtered.height())])?;
    if ctu == 0 {
        return Err(CtuError::BadParameter {
            name: "ctu",
            value: 0.0,
        });
    }
    let n = ctu_count(w, h, ctu);
    let mut stats = CtuResidualStats {
        dot: vec![0; n],
        energy: vec![0; n],
    };
    for_each_ctu_segment(org, rec, filtered, ctu, |i, co, cr, cf| {
        let (mut dot, mut energy) = (0i64, 0u64);
        for ((&o, &r), &f) in co.iter().zip(cr).zip(cf) {
            let d = i64::from(f.to_i32() - r.to_i32());
            dot += d * i64::from(o.to_i32() - r.to_i32());
            energy += (d * d) as u64;
        }
        stats.dot[i] += dot;
        stats.energy[i] += energy;
    });
    Ok(stats)
}

/// The least-squares factor code over the CTUs of `choice` (as in
/// [`CandidateDecision::choice`](super::CandidateDecision::choice) or
/// [`CtuDecision::flags`](super::CtuDecision::flags)): CTU `i` counts with the statistics of
/// candidate `choice[i] - 1`, and not at all where `choice[i]` is 0. Rounded to the nearest
/// code and clamped to 0..=[`SCALE_MAX`]; [`SCALE_ONE`] when no CTU counts or the chosen
/// corrections are all zero.
///
/// # Errors
/// [`CtuError::Lengths`] if a statistics array and `choice` differ in length;
/// [`CtuError::Candidates`] if `choice` names a candidate past `stats`.
pub fn fit_scale(stats: &[CtuResidualStats], choice: &[u8]) -> Result<u8, CtuError> {
    if let Some(s) = stats
        .iter()
        .find(|s| s.dot.len() != choice.len() || s.energy.len() != choice.len())
    {
        return Err(CtuError::Lengths {
            off: choice.len(),
            on: s.dot.len().min(s.energy.len()),
        });
    }
    let (mut dot, mut energy) = (0i128, 0i128);
    for (i, &c) in choice.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let s = stats.get(usize::from(c) - 1).ok_or(CtuError::Candidates {
            count: usize::from(c),
        })?;
        dot += i128::from(s.dot[i]);
        energy += i128::from(s.energy[i]);
    }
    if energy == 0 {
        return Ok(SCALE_ONE);
    }
    if dot <= 0 {
        return Ok(0);
    }
    // round(ONE * dot / energy) in integers: floor((2 * ONE * dot + energy) / (2 * energy)).
    let k = (2 * i128::from(SCALE_ONE) * dot + energy) / (2 * energy);
    Ok(k.min(i128::from(SCALE_MAX)) as u8)
}

/// Scales the correction of `filtered` over `rec` by `k / 16` in place (see the module docs
/// for the exact arithmetic); `bit_depth` bounds the result.
///
/// # Errors
/// [`CtuError::PlaneSizes`] if the planes differ in size; [`CtuError::BadParameter`] if `k`
/// exceeds [`SCALE_MAX`] or `bit_depth` is 0 or too large for the sample type.
pub fn scale_residual<T: Sample>(
    rec: &Plane<'_, T>,
    filtered: &mut PlaneMut<'_, T>,
    k: u8,
    bit_depth: u8,
) -> Result<(), CtuError> {
    same_size(
        (rec.width(), rec.height()),
        &[(filtered.width(), filtered.height())],
    )?;
    if k > SCALE_MAX {
        return Err(CtuError::BadParameter {
            name: "k",
            value: f64::from(k),
        });
    }
    if bit_depth == 0 || bit_depth > T::MAX_BIT_DEPTH {
        return Err(CtuError::BadParameter {
            name: "bit_depth",
            value: f64::from(bit_depth),
        });
    }
    if k == SCALE_ONE {
        return Ok(());
    }
    let max = (1i32 << bit_depth) - 1;
    let (k, half) = (i32::from(k), 1i32 << (SCALE_SHIFT - 1));
    for y in 0..rec.height() {
        let r = rec.row(y);
        for (f, &r) in filtered.row_mut(y).iter_mut().zip(r) {
            let r = r.to_i32();
            let d = f.to_i32() - r;
            *f = T::from_i32((r + ((k * d + half) >> SCALE_SHIFT)).clamp(0, max));
        }
    }
    Ok(())
}

fn same_size(want: (usize, usize), others: &[(usize, usize)]) -> Result<(), CtuError> {
    match others.iter().find(|&&o| o != want) {
        Some(&got) => Err(CtuError::PlaneSizes { want, got }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn unit_factor_leaves_the_filtered_plane_unchanged_and_zero_gives_rec() {
        let mut seed = 7;
        let rec: Vec<u16> = (0..64).map(|_| (lcg(&mut seed) % 1024) as u16).collect();
        let filt: Vec<u16> = (0..64).map(|_| (lcg(&mut seed) % 1024) as u16).collect();
        let r = Plane::new(&rec, 8, 8, 8).unwrap();
        let mut out = filt.clone();
        scale_residual(&r, &mut PlaneMut::new(&mut out, 8, 8, 8).unwrap(), 16, 10).unwrap();
        assert_eq!(out, filt);
        scale_residual(&r, &mut PlaneMut::new(&mut out, 8, 8, 8).unwrap(), 0, 10).unwrap();
        assert_eq!(out, rec);
    }

    #[test]
    fn matches_the_formula_on_random_samples_for_every_sample_type() {
        let mut seed = 11;
        for _ in 0..200 {
            let k = (lcg(&mut seed) % 32) as u8;
            let rec: Vec<i32> = (0..48).map(|_| (lcg(&mut seed) % 256) as i32).collect();
            let filt: Vec<i32> = (0..48).map(|_| (lcg(&mut seed) % 256) as i32).collect();
            let want: Vec<i32> = rec
                .iter()
                .zip(&filt)
                .map(|(&r, &f)| (r + ((i32::from(k) * (f - r) + 8) >> 4)).clamp(0, 255))
                .collect();
            fn run<T: Sample>(rec: &[i32], filt: &[i32], k: u8) -> Vec<i32> {
                let r: Vec<T> = rec.iter().map(|&v| T::from_i32(v)).collect();
                let mut f: Vec<T> = filt.iter().map(|&v| T::from_i32(v)).collect();
                // Stride 12 on a 6x4 plane read from 48 samples: padding is left alone.
                let before = f.clone();
                let rp = Plane::new(&r, 12, 6, 4).unwrap();
                scale_residual(&rp, &mut PlaneMut::new(&mut f, 12, 6, 4).unwrap(), k, 8).unwrap();
                for y in 0..4 {
                    assert_eq!(
                        f[y * 12 + 6..y * 12 + 12]
                            .iter()
                            .map(|v| v.to_i32())
                            .sum::<i32>(),
                        before[y * 12 + 6..y * 12 + 12]
                            .iter()
                            .map(|v| v.to_i32())
                            .sum::<i32>()
                    );
                }
                f.iter().map(|v| v.to_i32()).collect()
            }
            for got in [
                run::<u8>(&rec, &filt, k),
                run::<u16>(&rec, &filt, k),
                run::<i16>(&rec, &filt, k),
            ] {
                for y in 0..4 {
                    assert_eq!(got[y * 12..y * 12 + 6], want[y * 12..y * 12 + 6], "k {k}");
                }
            }
        }
    }

    #[test]
    fn fits_the_factor_that_explains_the_error() {
        // The error is 3/4 of the correction on the left CTU; the right CTU is not counted.
        let (w, h) = (16, 8);
        let rec = vec![500u16; w * h];
        let mut filt = rec.clone();
        let mut org = rec.clone();
        for y in 0..h {
            for x in 0..w {
                let d = ((x + y) % 5) as i32 * 8 - 16;
                filt[y * w + x] = (500 + d) as u16;
                org[y * w + x] = if x < 8 { (500 + d * 3 / 4) as u16 } else { 900 };
            }
        }
        fn p(v: &[u16], w: usize, h: usize) -> Plane<'_, u16> {
            Plane::new(v, w, w, h).unwrap()
        }
        let stats = ctu_residual_stats(&p(&org, w, h), &p(&rec, w, h), &p(&filt, w, h), 8).unwrap();
        assert_eq!(stats.dot.len(), 2);
        assert_eq!(
            fit_scale(std::slice::from_ref(&stats), &[1, 0]).unwrap(),
            12
        );
        assert_eq!(
            fit_scale(std::slice::from_ref(&stats), &[0, 0]).unwrap(),
            SCALE_ONE
        );
        // The second candidate's statistics are used where the choice names it.
        let zero = CtuResidualStats {
            dot: vec![0; 2],
            energy: vec![0; 2],
        };
        assert_eq!(fit_scale(&[zero, stats], &[2, 0]).unwrap(), 12);
    }

    #[test]
    fn rejects_bad_arguments() {
        let a = vec![0u16; 16];
        let mut b = vec![0u16; 16];
        let p = Plane::new(&a, 4, 4, 4).unwrap();
        let mut m = PlaneMut::new(&mut b, 4, 4, 4).unwrap();
        assert!(scale_residual(&p, &mut m, 32, 10).is_err());
        assert!(scale_residual(&p, &mut m, 16, 13).is_err());
        let small = Plane::new(&a[..8], 4, 4, 2).unwrap();
        assert!(scale_residual(&small, &mut m, 16, 10).is_err());
        assert!(ctu_residual_stats(&p, &p, &small, 4).is_err());
        assert!(ctu_residual_stats(&p, &p, &p, 0).is_err());
        let s = ctu_residual_stats(&p, &p, &p, 2).unwrap();
        assert!(fit_scale(std::slice::from_ref(&s), &[1, 1]).is_err());
        assert!(fit_scale(&[s], &[2, 0, 0, 0]).is_err());
    }
}
