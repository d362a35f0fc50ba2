//! Per-sequence BD-rates of a test against an anchor, with class and overall averages.
//!
//! For every sequence the Y, U and V BD-rates are computed from the per-component PSNRs, and
//! the "YUV" BD-rate from `PSNR_yuv = (6 Y + U + V) / 8` per point (DESIGN §4; the encoder's
//! own `YUV-PSNR` is not used). Class and overall averages are arithmetic means of the
//! per-sequence values (as the JVET spreadsheet).

use serde::{Deserialize, Serialize};

use super::bd::{BdError, Curve, Method, RdPoint, bd_rate};
use super::points::RdSample;

/// A PSNR the BD-rate is computed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PsnrComponent {
    /// Luma.
    Y,
    /// Cb.
    U,
    /// Cr.
    V,
    /// `(6 Y + U + V) / 8`.
    Yuv,
}

impl PsnrComponent {
    /// Y, U, V, YUV.
    pub const ALL: [PsnrComponent; 4] = [Self::Y, Self::U, Self::V, Self::Yuv];

    /// This component's PSNR of a sample.
    pub fn psnr(self, s: &RdSample) -> f64 {
        match self {
            Self::Y => s.psnr_y,
            Self::U => s.psnr_u,
            Self::V => s.psnr_v,
            Self::Yuv => s.psnr_yuv(),
        }
    }
}

/// Why a comparison failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CompareError {
    /// No anchor samples at all.
    #[error("the anchor has no RD points")]
    Empty,
    /// A sequence of the anchor has no test points, or the other way round.
    #[error("sequence '{sequence}' has {curve} points only")]
    Unpaired {
        /// The sequence.
        sequence: String,
        /// The side that has it.
        curve: Curve,
    },
    /// The same QP appears twice for a sequence on one side.
    #[error("sequence '{sequence}' has QP {qp} twice in the {curve} points")]
    DuplicateQp {
        /// The sequence.
        sequence: String,
        /// The side.
        curve: Curve,
        /// The QP.
        qp: i32,
    },
    /// Samples of one sequence name different classes.
    #[error("sequence '{sequence}' is given both class '{first}' and class '{second}'")]
    ClassMismatch {
        /// The sequence.
        sequence: String,
        /// One class.
        first: String,
        /// The other.
        second: String,
    },
    /// A BD-rate could not be computed.
    #[error("sequence '{sequence}', {component:?}: {source}")]
    Bd {
        /// The sequence.
        sequence: String,
        /// The component.
        component: PsnrComponent,
        /// The cause.
        source: BdError,
    },
}

/// BD-rates (percent) of one sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceBd {
    /// Sequence name.
    pub sequence: String,
    /// Its class, if any sample gave one.
    pub class: Option<String>,
    /// Number of anchor points used.
    pub anchor_points: usize,
    /// Number of test points used.
    pub test_points: usize,
    /// Luma BD-rate in percent.
    pub y: f64,
    /// Cb BD-rate in percent.
    pub u: f64,
    /// Cr BD-rate in percent.
    pub v: f64,
    /// BD-rate on `(6 Y + U + V) / 8`, in percent.
    pub yuv: f64,
    /// Components whose PSNR ranges overlap by less than
    /// [`SMALL_OVERLAP_THRESHOLD`](super::SMALL_OVERLAP_THRESHOLD) (read those with care).
    pub small_overlap: Vec<PsnrComponent>,
}

/// Arithmetic means of per-sequence BD-rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BdAverage {
    /// The class name, or `"overall"`.
    pub name: String,
    /// Number of sequences averaged.
    pub sequences: usize,
    /// Mean luma BD-rate in percent.
    pub y: f64,
    /// Mean Cb BD-rate in percent.
    pub u: f64,
    /// Mean Cr BD-rate in percent.
    pub v: f64,
    /// Mean YUV BD-rate in percent.
    pub yuv: f64,
}

impl BdAverage {
    fn of<'a>(name: &str, rows: impl Iterator<Item = &'a SequenceBd>) -> Self {
        let mut a = BdAverage {
            name: name.to_owned(),
            sequences: 0,
            y: 0.0,
            u: 0.0,
            v: 0.0,
            yuv: 0.0,
        };
        for r in rows {
            a.sequences += 1;
            a.y += r.y;
            a.u += r.u;
            a.v += r.v;
            a.yuv += r.yuv;
        }
        let n = a.sequences.max(1) as f64;
        a.y /= n;
        a.u /= n;
        a.v /= n;
        a.yuv /= n;
        a
    }
}

/// A whole comparison: per sequence, per class and overall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The interpolation used.
    pub method: Method,
    /// Per sequence, in the anchor's order of first appearance.
    pub sequences: Vec<SequenceBd>,
    /// Per class (sequences without a class are in none), in order of first appearance.
    pub classes: Vec<BdAverage>,
    /// Over all sequences.
    pub overall: BdAverage,
}

impl Comparison {
    /// A CSV table `kind,name,class,y,u,v,yuv` (kind `sequence`, `class` or `overall`; BD-rates
    /// in percent with 6 decimals).
    pub fn to_csv(&self) -> String {
        let mut out = String::from("kind,name,class,y,u,v,yuv\n");
        let row = |out: &mut String, kind: &str, name: &str, class: &str, v: [f64; 4]| {
            out.push_str(&format!(
                "{kind},{name},{class},{:.6},{:.6},{:.6},{:.6}\n",
                v[0], v[1], v[2], v[3]
            ));
        };
        for s in &self.sequences {
            let class = s.class.as_deref().unwrap_or("");
            row(
                &mut out,
                "sequence",
                &s.sequence,
                class,
                [s.y, s.u, s.v, s.yuv],
            );
        }
        for a in self.classes.iter().chain([&self.overall]) {
            let kind = if std::ptr::eq(a, &self.overall) {
                "overall"
            } else {
                "class"
            };
            row(&mut out, kind, &a.name, "", [a.y, a.u, a.v, a.yuv]);
        }
        out
    }
}

/// Per-sequence Y/U/V/YUV BD-rates of `test` against `anchor`, with class and overall means.
///
/// Samples are grouped by [`RdSample::sequence`]; both sides must have the same sequences,
/// each with at least four distinct QPs (they need not be the same QPs on both sides). The
/// class of a sequence is the one its samples give (they must agree).
pub fn compare(
    anchor: &[RdSample],
    test: &[RdSample],
    method: Method,
) -> Result<Comparison, CompareError> {
    if anchor.is_empty() {
        return Err(CompareError::Empty);
    }
    let a_groups = group(anchor, Curve::Anchor)?;
    let t_groups = group(test, Curve::Test)?;
    if let Some((name, _)) = t_groups
        .iter()
        .find(|(n, _)| !a_groups.iter().any(|(m, _)| m == n))
    {
        return Err(CompareError::Unpaired {
            sequence: name.to_string(),
            curve: Curve::Test,
        });
    }
    let mut sequences = Vec::with_capacity(a_groups.len());
    for (name, a) in &a_groups {
        let Some((_, t)) = t_groups.iter().find(|(n, _)| n == name) else {
            return Err(CompareError::Unpaired {
                sequence: name.to_string(),
                curve: Curve::Anchor,
            });
        };
        let mut class: Option<&str> = None;
        for c in a.iter().chain(t.iter()).filter_map(|s| s.class.as_deref()) {
            match class {
                Some(first) if first != c => {
                    return Err(CompareError::ClassMismatch {
                        sequence: name.to_string(),
                        first: first.to_owned(),
                        second: c.to_owned(),
                    });
                }
                _ => class = Some(c),
            }
        }
        let mut values = [0.0; 4];
        let mut small_overlap = Vec::new();
        for (slot, component) in values.iter_mut().zip(PsnrComponent::ALL) {
            let curve = |s: &[&RdSample]| -> Vec<RdPoint> {
                s.iter()
                    .map(|p| RdPoint::new(p.kbps, component.psnr(p)))
                    .collect()
            };
            let r = bd_rate(&curve(a), &curve(t), method).map_err(|source| CompareError::Bd {
                sequence: name.to_string(),
                component,
                source,
            })?;
            *slot = r.value;
            if r.small_overlap {
                small_overlap.push(component);
            }
        }
        sequences.push(SequenceBd {
            sequence: name.to_string(),
            class: class.map(str::to_owned),
            anchor_points: a.len(),
            test_points: t.len(),
            y: values[0],
            u: values[1],
            v: values[2],
            yuv: values[3],
            small_overlap,
        });
    }
    let mut class_names: Vec<&str> = Vec::new();
    for c in sequences.iter().filter_map(|s| s.class.as_deref()) {
        if !class_names.contains(&c) {
            class_names.push(c);
        }
    }
    let classes = class_names
        .iter()
        .map(|c| {
            BdAverage::of(
                c,
                sequences.iter().filter(|s| s.class.as_deref() == Some(*c)),
            )
        })
        .collect();
    let overall = BdAverage::of("overall", sequences.iter());
    Ok(Comparison {
        method,
        sequences,
        classes,
        overall,
    })
}

/// Samples grouped by sequence, in order of first appearance; rejects repeated QPs.
fn group(samples: &[RdSample], curve: Curve) -> Result<Vec<(&str, Vec<&RdSample>)>, CompareError> {
    let mut groups: Vec<(&str, Vec<&RdSample>)> = Vec::new();
    for s in samples {
        let idx = match groups.iter().position(|(n, _)| *n == s.sequence) {
            Some(i) => i,
            None => {
                groups.push((&s.sequence, Vec::new()));
                groups.len() - 1
            }
        };
        let list = &mut groups[idx].1;
        if list.iter().any(|p| p.qp == s.qp) {
            return Err(CompareError::DuplicateQp {
                sequence: s.sequence.clone(),
                curve,
                qp: s.qp,
            });
        }
        list.push(s);
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(name: &str, class: Option<&str>, scale: f64, dy: f64) -> Vec<RdSample> {
        [
            (22, 4000.0, 40.0),
            (27, 2000.0, 37.5),
            (32, 1000.0, 35.0),
            (37, 500.0, 32.5),
        ]
        .iter()
        .map(|&(qp, kbps, y)| RdSample {
            sequence: name.into(),
            class: class.map(Into::into),
            qp,
            kbps: kbps * scale,
            psnr_y: y + dy,
            psnr_u: y + 4.0,
            psnr_v: y + 5.0,
        })
        .collect()
    }

    #[test]
    fn averages_and_components() {
        let anchor = [
            seq("a", Some("B"), 1.0, 0.0),
            seq("b", Some("B"), 1.0, 0.0),
            seq("c", None, 1.0, 0.0),
        ]
        .concat();
        let test = [
            seq("c", None, 0.9, 0.0),
            seq("a", None, 0.95, 0.0),
            seq("b", Some("B"), 0.85, 0.0),
        ]
        .concat();
        let c = compare(&anchor, &test, Method::Pchip).unwrap();
        let names: Vec<&str> = c.sequences.iter().map(|s| s.sequence.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert!((c.sequences[0].y + 5.0).abs() < 1e-9);
        assert!((c.sequences[0].yuv + 5.0).abs() < 1e-9);
        assert_eq!(c.classes.len(), 1);
        assert_eq!(c.classes[0].sequences, 2);
        assert!((c.classes[0].u + 10.0).abs() < 1e-9);
        assert!((c.overall.v + 10.0).abs() < 1e-9);
        let csv = c.to_csv();
        assert!(csv.contains("class,B,,-10.000000"), "{csv}");
        assert!(csv.lines().last().unwrap().starts_with("overall,overall,"));
        let json = serde_json::to_string(&c).unwrap();
        let back: Comparison = serde_json::from_str(&json).unwrap();
        // serde_json's default float parsing may differ in the last bit.
        assert_eq!(back.sequences.len(), 3);
        assert_eq!(back.classes[0].name, "B");
        assert!((back.overall.yuv - c.overall.yuv).abs() < 1e-12);
    }

    #[test]
    fn yuv_uses_the_jvet_weighting() {
        let anchor = seq("a", None, 1.0, 0.0);
        // Only luma improves: the YUV gain is a blend, smaller than the luma one.
        let test = seq("a", None, 1.0, 0.3);
        let c = compare(&anchor, &test, Method::Pchip).unwrap();
        let s = &c.sequences[0];
        assert!(s.y < s.yuv && s.yuv < 0.0 && s.u.abs() < 1e-12);
    }

    #[test]
    fn errors() {
        let a = seq("a", Some("B"), 1.0, 0.0);
        assert_eq!(compare(&[], &a, Method::Akima), Err(CompareError::Empty));
        let e = compare(&a, &seq("x", None, 1.0, 0.0), Method::Akima).unwrap_err();
        assert!(matches!(
            e,
            CompareError::Unpaired {
                curve: Curve::Test,
                ..
            }
        ));
        let e = compare(&a, &[], Method::Akima).unwrap_err();
        assert!(matches!(
            e,
            CompareError::Unpaired {
                curve: Curve::Anchor,
                ..
            }
        ));
        let e = compare(&a, &seq("a", Some("C"), 1.0, 0.0), Method::Akima).unwrap_err();
        assert!(matches!(e, CompareError::ClassMismatch { .. }));
        let dup = [a.clone(), a[..1].to_vec()].concat();
        let e = compare(&a, &dup, Method::Akima).unwrap_err();
        assert!(matches!(e, CompareError::DuplicateQp { qp: 22, .. }));
        let e = compare(&a, &a[..3], Method::Cubic).unwrap_err();
        assert!(matches!(
            e,
            CompareError::Bd {
                component: PsnrComponent::Y,
                source: BdError::TooFewPoints { .. },
                ..
            }
        ));
    }
}
