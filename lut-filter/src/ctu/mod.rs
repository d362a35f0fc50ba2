//! The encoder's CTU on/off decision, shared by the C ABI (`lutf_ctu_*`) and the offline
//! benchmark.
//!
//! The pattern of ALF and of JVET's NN loop filter (DESIGN §3): filter the whole picture, keep
//! per CTU whichever of off/on has the lower SSD against the original, then choose among "off",
//! "all on" and "CTU adaptive" by `J = D + lambda * flag_bits * R`, where `R` counts flags:
//! 1 for off, 2 for all on, 2 plus one per CTU for adaptive ([`MODE_FLAGS`]).
//!
//! [`decide_among`] extends the choice to several candidate filters (e.g. the models of
//! neighbouring QP ranges): one per picture, or one per CTU. [`scale_residual`] lets the
//! encoder scale a component's correction by a coded factor ([`fit_scale`]).

use crate::picture::{Plane, Sample};

mod among;
mod scale;
pub use among::{CandidateDecision, CandidateMode, decide_among};
pub use scale::{
    CtuResidualStats, SCALE_CODE_BITS, SCALE_MAX, SCALE_ONE, SCALE_SHIFT, ctu_residual_stats,
    fit_scale, scale_residual,
};

/// Flags counted for each picture-level mode (off, all on, adaptive without its CTU flags).
pub const MODE_FLAGS: [f64; 3] = [1.0, 2.0, 2.0];

/// Picture-level choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CtuMode {
    /// Filter nothing.
    Off,
    /// Filter every CTU (no CTU flags coded).
    AllOn,
    /// Filter the CTUs whose flag is 1 (one flag coded per CTU).
    Adaptive,
}

/// The outcome of [`decide`].
#[derive(Clone, Debug, PartialEq)]
pub struct CtuDecision {
    /// One flag per CTU (raster order): 1 = filtered.
    pub flags: Vec<u8>,
    /// The chosen mode (ties prefer off, then all on).
    pub mode: CtuMode,
    /// SSD of off, all on and adaptive.
    pub distortion: [u64; 3],
    /// `J` of off, all on and adaptive.
    pub cost: [f64; 3],
    /// Flags the chosen mode codes (picture-level flags plus CTU flags), in flags.
    pub flags_coded: f64,
}

impl CtuDecision {
    /// CTUs whose flag is 1.
    pub fn ctus_on(&self) -> usize {
        self.flags.iter().filter(|&&f| f != 0).count()
    }
}

/// Why a decision could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CtuError {
    /// `lambda` or `flag_bits` is negative or not finite.
    #[error("{name} is {value}, must be finite and >= 0")]
    BadParameter {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// The two SSD arrays differ in length.
    #[error("{off} SSDs off, {on} on")]
    Lengths {
        /// Length of `off`.
        off: usize,
        /// Length of `on`.
        on: usize,
    },
    /// Planes that must have the same size differ.
    #[error("planes of {}x{} and {}x{} samples", want.0, want.1, got.0, got.1)]
    PlaneSizes {
        /// Width and height of the first plane.
        want: (usize, usize),
        /// Width and height of the one that differs.
        got: (usize, usize),
    },
    /// [`decide_among`] needs 1 to 255 candidates.
    #[error("{count} candidates, need 1 to 255")]
    Candidates {
        /// Candidates given.
        count: usize,
    },
}

/// Number of `ctu x ctu` blocks covering `width x height` (partial blocks count).
pub fn ctu_count(width: usize, height: usize, ctu: usize) -> usize {
    width.div_ceil(ctu.max(1)) * height.div_ceil(ctu.max(1))
}

/// Per-CTU SSD of `rec` (off) and `filtered` (on) against `org`, in CTU raster order.
///
/// # Panics
/// If the planes differ in size or `ctu` is 0.
pub fn ctu_ssd<T: Sample>(
    org: &Plane<'_, T>,
    rec: &Plane<'_, T>,
    filtered: &Plane<'_, T>,
    ctu: usize,
) -> (Vec<u64>, Vec<u64>) {
    let (w, h) = (org.width(), org.height());
    assert!(ctu > 0, "CTU size 0");
    assert!(
        [rec, filtered]
            .iter()
            .all(|p| (p.width(), p.height()) == (w, h)),
        "planes of different sizes"
    );
    let n = ctu_count(w, h, ctu);
    let (mut off, mut on) = (vec![0u64; n], vec![0u64; n]);
    for_each_ctu_segment(org, rec, filtered, ctu, |i, co, cr, cf| {
        let sq = |a: &[T]| -> u64 {
            co.iter()
                .zip(a)
                .map(|(&x, &y)| {
                    let d = i64::from(x.to_i32() - y.to_i32());
                    (d * d) as u64
                })
                .sum()
        };
        off[i] += sq(cr);
        on[i] += sq(cf);
    });
    (off, on)
}

/// Calls `f(ctu, org, rec, filtered)` for each row segment of each CTU (`ctu` its raster
/// index; the three slices of equal length), row by row. The planes have one size.
pub(crate) fn for_each_ctu_segment<T: Sample>(
    org: &Plane<'_, T>,
    rec: &Plane<'_, T>,
    filtered: &Plane<'_, T>,
    ctu: usize,
    mut f: impl FnMut(usize, &[T], &[T], &[T]),
) {
    let cols = org.width().div_ceil(ctu);
    for y in 0..org.height() {
        let (ro, rr, rf) = (org.row(y), rec.row(y), filtered.row(y));
        let base = (y / ctu) * cols;
        for (c, ((co, cr), cf)) in ro
            .chunks(ctu)
            .zip(rr.chunks(ctu))
            .zip(rf.chunks(ctu))
            .enumerate()
        {
            f(base + c, co, cr, cf);
        }
    }
}

/// The decision from per-CTU SSDs (see the module docs).
///
/// # Errors
/// A negative or non-finite `lambda` / `flag_bits`, or arrays of different lengths.
pub fn decide(
    off: &[u64],
    on: &[u64],
    lambda: f64,
    flag_bits: f64,
) -> Result<CtuDecision, CtuError> {
    for (name, value) in [("lambda", lambda), ("flag_bits", flag_bits)] {
        if !(value.is_finite() && value >= 0.0) {
            return Err(CtuError::BadParameter { name, value });
        }
    }
    if off.len() != on.len() {
        return Err(CtuError::Lengths {
            off: off.len(),
            on: on.len(),
        });
    }
    let adaptive: Vec<u8> = off.iter().zip(on).map(|(a, b)| u8::from(b < a)).collect();
    let sum = |v: &mut dyn Iterator<Item = u64>| v.fold(0u64, |s, x| s.saturating_add(x));
    let d_off = sum(&mut off.iter().copied());
    let d_on = sum(&mut on.iter().copied());
    let d_ctu = sum(&mut off.iter().zip(on).map(|(&a, &b)| a.min(b)));
    let n = off.len() as f64;
    let distortion = [d_off, d_on, d_ctu];
    let rate = [MODE_FLAGS[0], MODE_FLAGS[1], MODE_FLAGS[2] + n];
    let cost: [f64; 3] =
        std::array::from_fn(|i| distortion[i] as f64 + lambda * flag_bits * rate[i]);
    let mut best = 0;
    for i in 1..3 {
        if cost[i] < cost[best] {
            best = i;
        }
    }
    let (mode, flags) = match best {
        0 => (CtuMode::Off, vec![0u8; off.len()]),
        1 => (CtuMode::AllOn, vec![1u8; off.len()]),
        _ => (CtuMode::Adaptive, adaptive),
    };
    Ok(CtuDecision {
        flags,
        mode,
        distortion,
        cost,
        flags_coded: rate[best],
    })
}

/// VTM's Lagrange multiplier for SSD at 10-bit internal depth, approximately:
/// `factor * 2^((qp - 12 + 12) / 3)` (`6 * (10 - 8) = 12` is the bit-depth QP offset). VTM's
/// factor is about 0.57 for intra pictures and grows with the temporal layer of B pictures; a
/// single factor is an approximation.
pub fn vtm_lambda(slice_qp: i32, factor: f64) -> f64 {
    factor * 2f64.powf(f64::from(slice_qp) / 3.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssd_per_ctu_with_partial_edges() {
        let org = [0u16; 15]; // 5x3
        let rec: Vec<u16> = (0..15).collect();
        let fil = [1u16; 15];
        fn p(d: &[u16]) -> Plane<'_, u16> {
            Plane::new(d, 5, 5, 3).unwrap()
        }
        let (off, on) = ctu_ssd(&p(&org), &p(&rec), &p(&fil), 2);
        assert_eq!(off.len(), 6);
        // CTU 0: samples (0,0),(1,0),(0,1),(1,1) = 0,1,5,6.
        assert_eq!(off[0], 1 + 25 + 36);
        // CTU 2 (x 4, rows 0-1): samples 4 and 9.
        assert_eq!(off[2], 16 + 81);
        // CTU 5 (x 4, row 2): sample 14.
        assert_eq!(off[5], 196);
        assert_eq!(on, [4, 4, 2, 2, 2, 1]);
    }

    #[test]
    fn decision_modes_and_errors() {
        // Filter helps everywhere: all on beats adaptive (fewer flags).
        let d = decide(&[100, 100], &[10, 10], 1.0, 1.0).unwrap();
        assert_eq!(
            (d.mode, d.ctus_on(), d.flags_coded),
            (CtuMode::AllOn, 2, 2.0)
        );
        // Helps in one CTU only.
        let d = decide(&[100, 100], &[10, 500], 1.0, 1.0).unwrap();
        assert_eq!((d.mode, d.flags.clone()), (CtuMode::Adaptive, vec![1, 0]));
        assert_eq!(d.distortion, [200, 510, 110]);
        // Flags too expensive: off.
        let d = decide(&[100, 100], &[10, 500], 1000.0, 1.0).unwrap();
        assert_eq!(d.mode, CtuMode::Off);
        assert!(decide(&[1], &[1], -1.0, 1.0).is_err());
        assert!(decide(&[1], &[1], 1.0, f64::NAN).is_err());
        assert!(decide(&[1], &[1, 2], 1.0, 1.0).is_err());
    }

    #[test]
    fn lambda_grows_by_two_every_three_qp() {
        let r = vtm_lambda(35, 0.57) / vtm_lambda(32, 0.57);
        assert!((r - 2.0).abs() < 1e-12);
    }
}
