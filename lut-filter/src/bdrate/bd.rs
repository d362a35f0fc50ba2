//! BD-rate and BD-PSNR of one pair of rate-distortion curves.
//!
//! The computation is the one of the `bjontegaard` Python package 1.3 (and, for
//! [`Method::Pchip`], of the JVET common-test-conditions spreadsheet):
//!
//! 1. each curve is sorted by rate and validated (see [`BdError`]);
//! 2. BD-rate models `log10(rate)` as a function of PSNR, BD-PSNR models PSNR as a function of
//!    `log10(rate)`, with the chosen [`Method`];
//! 3. both models are integrated *exactly* (piece by piece, from their polynomial coefficients)
//!    over the overlap `[max(lo_a, lo_t), min(hi_a, hi_t)]` of the two abscissa ranges;
//! 4. the mean difference (test minus anchor) over the overlap is the BD-PSNR in dB, and
//!    `(10^mean - 1) * 100` is the BD-rate in percent (negative: the test saves rate).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::interp::{PiecewiseCubic, Polynomial};

/// The minimum number of points per curve (the JVET method uses four QPs).
pub const MIN_POINTS: usize = 4;

/// An overlap narrower than this fraction of the narrower of the two curves' ranges (on the
/// integration axis: PSNR for BD-rate, `log10(rate)` for BD-PSNR) sets
/// [`BdResult::small_overlap`]. The value is still computed, but it extrapolates little and
/// averages over a short interval, so it should be read with care.
pub const SMALL_OVERLAP_THRESHOLD: f64 = 0.5;

/// How a curve is modelled between its points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Piecewise cubic Hermite interpolation with Fritsch-Carlson slopes (SciPy
    /// `PchipInterpolator`); the JVET common-test-conditions method and the default.
    #[default]
    Pchip,
    /// Akima interpolation (SciPy `Akima1DInterpolator`, as the `bjontegaard` package uses).
    Akima,
    /// Least-squares cubic polynomial over all points (VCEG-M33, the original Bjøntegaard).
    Cubic,
}

impl Method {
    /// All methods, in the order PCHIP, Akima, cubic.
    pub const ALL: [Method; 3] = [Method::Pchip, Method::Akima, Method::Cubic];

    /// The lower-case name (`pchip`, `akima`, `cubic`), as accepted by [`Method::from_str`].
    pub fn name(self) -> &'static str {
        match self {
            Method::Pchip => "pchip",
            Method::Akima => "akima",
            Method::Cubic => "cubic",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = BdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| BdError::UnknownMethod(s.to_owned()))
    }
}

/// One rate-distortion point: a rate (any positive unit, the same for both curves) and a PSNR
/// in dB.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RdPoint {
    /// Rate, e.g. kbps. Must be finite and positive.
    pub rate: f64,
    /// PSNR in dB. Must be finite.
    pub psnr: f64,
}

impl RdPoint {
    /// A point from a rate and a PSNR.
    pub fn new(rate: f64, psnr: f64) -> Self {
        Self { rate, psnr }
    }
}

/// Pairs `rates[i]` with `psnrs[i]`; errors when the lengths differ.
pub fn rd_points(rates: &[f64], psnrs: &[f64]) -> Result<Vec<RdPoint>, BdError> {
    if rates.len() != psnrs.len() {
        return Err(BdError::LengthMismatch {
            rates: rates.len(),
            psnrs: psnrs.len(),
        });
    }
    Ok(rates
        .iter()
        .zip(psnrs)
        .map(|(&r, &p)| RdPoint::new(r, p))
        .collect())
}

/// Which of the two curves an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Curve {
    /// The reference curve.
    Anchor,
    /// The curve under test.
    Test,
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Curve::Anchor => "anchor",
            Curve::Test => "test",
        })
    }
}

/// Why a Bjøntegaard delta could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BdError {
    /// A curve has fewer than [`MIN_POINTS`] points.
    #[error("{curve} curve has {found} points; at least {MIN_POINTS} are needed")]
    TooFewPoints {
        /// The curve.
        curve: Curve,
        /// Its number of points.
        found: usize,
    },
    /// Rate and PSNR lists of different lengths.
    #[error("{rates} rates but {psnrs} PSNR values")]
    LengthMismatch {
        /// Number of rates.
        rates: usize,
        /// Number of PSNR values.
        psnrs: usize,
    },
    /// A rate or PSNR is NaN or infinite.
    #[error("{curve} curve point {index} is not finite (rate {rate}, PSNR {psnr})")]
    NonFinite {
        /// The curve.
        curve: Curve,
        /// Index of the point as given.
        index: usize,
        /// Its rate.
        rate: f64,
        /// Its PSNR.
        psnr: f64,
    },
    /// A rate is zero or negative (its logarithm is undefined).
    #[error("{curve} curve point {index} has a non-positive rate {rate}")]
    NonPositiveRate {
        /// The curve.
        curve: Curve,
        /// Index of the point as given.
        index: usize,
        /// The rate.
        rate: f64,
    },
    /// The same (rate, PSNR) point appears twice.
    #[error("{curve} curve has the point (rate {rate}, PSNR {psnr} dB) twice")]
    DuplicatePoint {
        /// The curve.
        curve: Curve,
        /// The rate.
        rate: f64,
        /// The PSNR.
        psnr: f64,
    },
    /// After sorting by rate, PSNR does not strictly increase.
    #[error(
        "{curve} curve is not monotone: rate {rate_low} has PSNR {psnr_low} dB but the higher \
         or equal rate {rate_high} has PSNR {psnr_high} dB (PSNR must increase with rate)"
    )]
    NonMonotone {
        /// The curve.
        curve: Curve,
        /// The lower rate.
        rate_low: f64,
        /// Its PSNR.
        psnr_low: f64,
        /// The higher (or equal) rate.
        rate_high: f64,
        /// Its PSNR (not above `psnr_low`).
        psnr_high: f64,
    },
    /// The two curves' ranges on the integration axis do not overlap (or only touch).
    #[error(
        "no overlap on the {axis} axis: anchor covers [{anchor_low}, {anchor_high}], test \
         covers [{test_low}, {test_high}]"
    )]
    NoOverlap {
        /// `"PSNR"` for BD-rate, `"log10(rate)"` for BD-PSNR.
        axis: &'static str,
        /// Anchor minimum.
        anchor_low: f64,
        /// Anchor maximum.
        anchor_high: f64,
        /// Test minimum.
        test_low: f64,
        /// Test maximum.
        test_high: f64,
    },
    /// The cubic least-squares system is singular or the result is not finite.
    #[error("{curve} curve: the cubic fit is degenerate or the result is not finite")]
    Degenerate {
        /// The curve.
        curve: Curve,
    },
    /// [`Method::from_str`] got an unknown name.
    #[error("unknown interpolation method '{0}' (expected pchip, akima or cubic)")]
    UnknownMethod(String),
}

/// A Bjøntegaard delta and how much the curves overlapped.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BdResult {
    /// BD-rate in percent (negative: the test needs less rate) or BD-PSNR in dB (positive:
    /// the test has higher quality).
    pub value: f64,
    /// The interpolation used.
    pub method: Method,
    /// Lower end of the integration interval (dB for BD-rate, `log10(rate)` for BD-PSNR).
    pub overlap_low: f64,
    /// Upper end of the integration interval.
    pub overlap_high: f64,
    /// Overlap width over the narrower curve's range, in (0, 1].
    pub overlap_fraction: f64,
    /// `overlap_fraction < SMALL_OVERLAP_THRESHOLD`: treat the value with care.
    pub small_overlap: bool,
}

/// BD-rate in percent: the average rate difference of `test` against `anchor` at equal PSNR.
///
/// ```
/// use lut_filter::bdrate::{bd_rate, Method, RdPoint};
/// let a: Vec<RdPoint> = [(1000.0, 34.0), (1800.0, 36.5), (3300.0, 39.0), (6000.0, 41.5)]
///     .iter().map(|&(r, p)| RdPoint::new(r, p)).collect();
/// let t: Vec<RdPoint> = a.iter().map(|p| RdPoint::new(p.rate * 0.9, p.psnr)).collect();
/// let bd = bd_rate(&a, &t, Method::Pchip)?;
/// assert!((bd.value + 10.0).abs() < 1e-9);
/// # Ok::<(), lut_filter::bdrate::BdError>(())
/// ```
pub fn bd_rate(anchor: &[RdPoint], test: &[RdPoint], method: Method) -> Result<BdResult, BdError> {
    let a = Prepared::new(anchor, Curve::Anchor)?;
    let t = Prepared::new(test, Curve::Test)?;
    let mut r = delta(
        (&a.psnr, &a.log_rate),
        (&t.psnr, &t.log_rate),
        method,
        "PSNR",
    )?;
    r.value = (10f64.powf(r.value) - 1.0) * 100.0;
    if !r.value.is_finite() {
        return Err(BdError::Degenerate { curve: Curve::Test });
    }
    Ok(r)
}

/// BD-PSNR in dB: the average PSNR difference of `test` against `anchor` at equal rate.
pub fn bd_psnr(anchor: &[RdPoint], test: &[RdPoint], method: Method) -> Result<BdResult, BdError> {
    let a = Prepared::new(anchor, Curve::Anchor)?;
    let t = Prepared::new(test, Curve::Test)?;
    delta(
        (&a.log_rate, &a.psnr),
        (&t.log_rate, &t.psnr),
        method,
        "log10(rate)",
    )
}

/// A validated curve, sorted by rate (hence also by PSNR).
struct Prepared {
    log_rate: Vec<f64>,
    psnr: Vec<f64>,
}

impl Prepared {
    fn new(points: &[RdPoint], curve: Curve) -> Result<Self, BdError> {
        if points.len() < MIN_POINTS {
            return Err(BdError::TooFewPoints {
                curve,
                found: points.len(),
            });
        }
        for (index, p) in points.iter().enumerate() {
            if !p.rate.is_finite() || !p.psnr.is_finite() {
                return Err(BdError::NonFinite {
                    curve,
                    index,
                    rate: p.rate,
                    psnr: p.psnr,
                });
            }
            if p.rate <= 0.0 {
                return Err(BdError::NonPositiveRate {
                    curve,
                    index,
                    rate: p.rate,
                });
            }
        }
        let mut sorted = points.to_vec();
        sorted.sort_by(|x, y| x.rate.total_cmp(&y.rate).then(x.psnr.total_cmp(&y.psnr)));
        for w in sorted.windows(2) {
            let (lo, hi) = (w[0], w[1]);
            if lo == hi {
                return Err(BdError::DuplicatePoint {
                    curve,
                    rate: lo.rate,
                    psnr: lo.psnr,
                });
            }
            // Equal rates are caught too: log10 would not be strictly increasing.
            if hi.psnr <= lo.psnr || hi.rate.log10() <= lo.rate.log10() {
                return Err(BdError::NonMonotone {
                    curve,
                    rate_low: lo.rate,
                    psnr_low: lo.psnr,
                    rate_high: hi.rate,
                    psnr_high: hi.psnr,
                });
            }
        }
        Ok(Self {
            log_rate: sorted.iter().map(|p| p.rate.log10()).collect(),
            psnr: sorted.iter().map(|p| p.psnr).collect(),
        })
    }
}

/// Mean of `test(x) - anchor(x)` over the overlap of the abscissa ranges; `x` strictly
/// increasing in both curves.
fn delta(
    (xa, ya): (&[f64], &[f64]),
    (xt, yt): (&[f64], &[f64]),
    method: Method,
    axis: &'static str,
) -> Result<BdResult, BdError> {
    let (a_lo, a_hi) = (xa[0], xa[xa.len() - 1]);
    let (t_lo, t_hi) = (xt[0], xt[xt.len() - 1]);
    let lo = a_lo.max(t_lo);
    let hi = a_hi.min(t_hi);
    if hi <= lo {
        return Err(BdError::NoOverlap {
            axis,
            anchor_low: a_lo,
            anchor_high: a_hi,
            test_low: t_lo,
            test_high: t_hi,
        });
    }
    let integral = |x: &[f64], y: &[f64], curve: Curve| -> Result<f64, BdError> {
        let v = match method {
            Method::Pchip => PiecewiseCubic::pchip(x, y).integrate(lo, hi),
            Method::Akima => PiecewiseCubic::akima(x, y).integrate(lo, hi),
            Method::Cubic => Polynomial::fit_cubic(x, y)
                .ok_or(BdError::Degenerate { curve })?
                .integrate(lo, hi),
        };
        if v.is_finite() {
            Ok(v)
        } else {
            Err(BdError::Degenerate { curve })
        }
    };
    let ia = integral(xa, ya, Curve::Anchor)?;
    let it = integral(xt, yt, Curve::Test)?;
    let value = (it - ia) / (hi - lo);
    let overlap_fraction = ((hi - lo) / (a_hi - a_lo).min(t_hi - t_lo)).min(1.0);
    Ok(BdResult {
        value,
        method,
        overlap_low: lo,
        overlap_high: hi,
        overlap_fraction,
        small_overlap: overlap_fraction < SMALL_OVERLAP_THRESHOLD,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(points: &[(f64, f64)]) -> Vec<RdPoint> {
        points.iter().map(|&(r, p)| RdPoint::new(r, p)).collect()
    }

    const ANCHOR: [(f64, f64); 4] = [
        (1000.0, 34.0),
        (1800.0, 36.5),
        (3300.0, 39.0),
        (6000.0, 41.5),
    ];

    #[test]
    fn identical_curves_give_zero() {
        let a = curve(&ANCHOR);
        for m in Method::ALL {
            assert!(bd_rate(&a, &a, m).unwrap().value.abs() < 1e-12);
            assert!(bd_psnr(&a, &a, m).unwrap().value.abs() < 1e-12);
        }
    }

    #[test]
    fn scaled_rate_and_shifted_psnr() {
        let a = curve(&ANCHOR);
        let t: Vec<RdPoint> = a
            .iter()
            .map(|p| RdPoint::new(p.rate * 1.1, p.psnr))
            .collect();
        let s: Vec<RdPoint> = a
            .iter()
            .map(|p| RdPoint::new(p.rate, p.psnr + 0.25))
            .collect();
        for m in Method::ALL {
            assert!(
                (bd_rate(&a, &t, m).unwrap().value - 10.0).abs() < 1e-9,
                "{m}"
            );
            assert!(
                (bd_psnr(&a, &s, m).unwrap().value - 0.25).abs() < 1e-9,
                "{m}"
            );
        }
    }

    #[test]
    fn order_of_points_does_not_matter() {
        let a = curve(&ANCHOR);
        let mut r = a.clone();
        r.reverse();
        r.swap(0, 2);
        let t: Vec<RdPoint> = a
            .iter()
            .map(|p| RdPoint::new(p.rate * 0.93, p.psnr + 0.1))
            .collect();
        for m in Method::ALL {
            assert_eq!(bd_rate(&a, &t, m).unwrap(), bd_rate(&r, &t, m).unwrap());
        }
    }

    #[test]
    fn rejects_bad_curves() {
        let a = curve(&ANCHOR);
        let m = Method::Pchip;
        let short = &a[..3];
        assert!(matches!(
            bd_rate(short, &a, m),
            Err(BdError::TooFewPoints {
                curve: Curve::Anchor,
                found: 3
            })
        ));
        let mut nan = a.clone();
        nan[1].psnr = f64::NAN;
        assert!(matches!(
            bd_rate(&a, &nan, m),
            Err(BdError::NonFinite {
                curve: Curve::Test,
                index: 1,
                ..
            })
        ));
        let mut inf = a.clone();
        inf[3].rate = f64::INFINITY;
        assert!(matches!(
            bd_psnr(&inf, &a, m),
            Err(BdError::NonFinite { .. })
        ));
        let mut zero = a.clone();
        zero[0].rate = 0.0;
        assert!(matches!(
            bd_rate(&zero, &a, m),
            Err(BdError::NonPositiveRate { index: 0, .. })
        ));
        let mut dup = a.clone();
        dup.push(a[2]);
        assert!(matches!(
            bd_rate(&dup, &a, m),
            Err(BdError::DuplicatePoint { .. })
        ));
        let mut flat = a.clone();
        flat[2].psnr = flat[1].psnr;
        assert!(matches!(
            bd_rate(&flat, &a, m),
            Err(BdError::NonMonotone { .. })
        ));
        let mut same_rate = a.clone();
        same_rate[2].rate = same_rate[1].rate;
        assert!(matches!(
            bd_rate(&same_rate, &a, m),
            Err(BdError::NonMonotone { .. })
        ));
        let far: Vec<RdPoint> = a
            .iter()
            .map(|p| RdPoint::new(p.rate, p.psnr + 20.0))
            .collect();
        assert!(matches!(
            bd_rate(&a, &far, m),
            Err(BdError::NoOverlap { axis: "PSNR", .. })
        ));
        let far: Vec<RdPoint> = a
            .iter()
            .map(|p| RdPoint::new(p.rate * 100.0, p.psnr))
            .collect();
        assert!(matches!(
            bd_psnr(&a, &far, m),
            Err(BdError::NoOverlap { .. })
        ));
        assert!(matches!(
            rd_points(&[1.0], &[]),
            Err(BdError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn small_overlap_is_flagged() {
        let a = curve(&ANCHOR);
        let t: Vec<RdPoint> = a
            .iter()
            .map(|p| RdPoint::new(p.rate, p.psnr + 5.0))
            .collect();
        let r = bd_rate(&a, &t, Method::Akima).unwrap();
        assert!(r.small_overlap);
        assert!((r.overlap_fraction - 2.5 / 7.5).abs() < 1e-12);
        assert_eq!((r.overlap_low, r.overlap_high), (39.0, 41.5));
        let r = bd_rate(&a, &a, Method::Akima).unwrap();
        assert!(!r.small_overlap && r.overlap_fraction == 1.0);
    }

    #[test]
    fn method_names_round_trip() {
        for m in Method::ALL {
            assert_eq!(m.to_string().parse::<Method>().unwrap(), m);
        }
        assert_eq!(" PCHIP ".parse::<Method>().unwrap(), Method::Pchip);
        assert!("spline".parse::<Method>().is_err());
        assert_eq!(serde_json::to_string(&Method::Akima).unwrap(), "\"akima\"");
    }
}
