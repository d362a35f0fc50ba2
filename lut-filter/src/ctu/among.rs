//! The CTU decision among several candidate filters of one picture component.
//!
//! JVET's NN loop filters let the encoder pick, per slice or per CTU, which of a few parameter
//! sets (e.g. the QP input shifted by -5, 0 or +5) filters a block, and signal the index. With
//! LUT models the candidates are the container's models for neighbouring QP ranges: the caller
//! filters the picture once per candidate (e.g. `lutf_filter_*` with `slice_qp + offset`) and
//! this function chooses, from per-CTU SSDs, the mode with the lowest `J = D + lambda * bits`:
//!
//! | mode | flags coded |
//! |---|---|
//! | off | 1 |
//! | all on, candidate `k` | 2 + `index_bits` |
//! | adaptive: candidate `k`, one on/off flag per CTU | 2 (3 with several candidates) + `index_bits` + `N` |
//! | per CTU (several candidates only): each CTU off or one candidate | 3 + per CTU 1 (off) or 1 + `index_bits` |
//!
//! `index_bits = ceil(log2 K)` for `K` candidates. With one candidate the decision is exactly
//! [`super::decide`]'s.

use super::CtuError;

/// Picture-level choice among candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateMode {
    /// Filter nothing.
    Off,
    /// Every CTU filtered by candidate `k`.
    AllOn(usize),
    /// Candidate `k` for the CTUs whose flag is on.
    Adaptive(usize),
    /// Each CTU off or filtered by a candidate of its own.
    PerCtu,
}

/// The outcome of [`decide_among`].
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateDecision {
    /// Per CTU (raster order): 0 = unfiltered, `k + 1` = filtered by candidate `k`.
    pub choice: Vec<u8>,
    /// The chosen mode (ties prefer off, then all on, adaptive, per CTU; then lower `k`).
    pub mode: CandidateMode,
    /// SSD of the chosen mode.
    pub distortion: u64,
    /// `J` of the chosen mode.
    pub cost: f64,
    /// Flags the chosen mode codes, in flags (index bits included).
    pub flags_coded: f64,
}

impl CandidateDecision {
    /// CTUs filtered by any candidate.
    pub fn ctus_on(&self) -> usize {
        self.choice.iter().filter(|&&c| c != 0).count()
    }
}

/// Chooses, per picture component, among off and `candidates.len()` filters (at most 255), from
/// per-CTU SSDs of the unfiltered (`off`) and each candidate's picture (see the module docs).
///
/// # Errors
/// A negative or non-finite `lambda` / `flag_bits`, no candidate or more than 255, or arrays of
/// different lengths.
pub fn decide_among(
    off: &[u64],
    candidates: &[&[u64]],
    lambda: f64,
    flag_bits: f64,
) -> Result<CandidateDecision, CtuError> {
    for (name, value) in [("lambda", lambda), ("flag_bits", flag_bits)] {
        if !(value.is_finite() && value >= 0.0) {
            return Err(CtuError::BadParameter { name, value });
        }
    }
    if candidates.is_empty() || candidates.len() > 255 {
        return Err(CtuError::Candidates {
            count: candidates.len(),
        });
    }
    if let Some(c) = candidates.iter().find(|c| c.len() != off.len()) {
        return Err(CtuError::Lengths {
            off: off.len(),
            on: c.len(),
        });
    }
    let k_count = candidates.len();
    let index_bits = f64::from(usize::BITS - (k_count - 1).leading_zeros());
    let several = k_count > 1;
    let n = off.len() as f64;
    let sum = |v: &mut dyn Iterator<Item = u64>| v.fold(0u64, |s, x| s.saturating_add(x));
    let weight = lambda * flag_bits;

    let d_off = sum(&mut off.iter().copied());
    let mut best = CandidateDecision {
        choice: vec![0; off.len()],
        mode: CandidateMode::Off,
        distortion: d_off,
        cost: d_off as f64 + weight,
        flags_coded: 1.0,
    };
    let mut consider = |mode, distortion: u64, flags: f64, choice: &dyn Fn() -> Vec<u8>| {
        let cost = distortion as f64 + weight * flags;
        if cost < best.cost {
            best = CandidateDecision {
                choice: choice(),
                mode,
                distortion,
                cost,
                flags_coded: flags,
            };
        }
    };
    for (k, on) in candidates.iter().enumerate() {
        let tag = (k + 1) as u8;
        let d_on = sum(&mut on.iter().copied());
        consider(CandidateMode::AllOn(k), d_on, 2.0 + index_bits, &|| {
            vec![tag; off.len()]
        });
    }
    let adaptive_flags = if several { 3.0 } else { 2.0 } + index_bits + n;
    for (k, on) in candidates.iter().enumerate() {
        let tag = (k + 1) as u8;
        let d = sum(&mut off.iter().zip(*on).map(|(&a, &b)| a.min(b)));
        consider(CandidateMode::Adaptive(k), d, adaptive_flags, &|| {
            off.iter()
                .zip(*on)
                .map(|(a, b)| if b < a { tag } else { 0 })
                .collect()
        });
    }
    if several {
        // Per CTU: off costs 1 flag, candidate k 1 + index_bits; ties prefer off, then lower k.
        let pick = |i: usize| -> (u8, f64) {
            let mut best = (0u8, off[i] as f64 + weight);
            for (k, on) in candidates.iter().enumerate() {
                let j = on[i] as f64 + weight * (1.0 + index_bits);
                if j < best.1 {
                    best = ((k + 1) as u8, j);
                }
            }
            best
        };
        let choice: Vec<u8> = (0..off.len()).map(|i| pick(i).0).collect();
        let ssd = |i: usize, c: u8| {
            if c == 0 {
                off[i]
            } else {
                candidates[usize::from(c) - 1][i]
            }
        };
        let d = sum(&mut choice.iter().enumerate().map(|(i, &c)| ssd(i, c)));
        let flags = 3.0
            + choice
                .iter()
                .map(|&c| if c == 0 { 1.0 } else { 1.0 + index_bits })
                .sum::<f64>();
        consider(CandidateMode::PerCtu, d, flags, &|| choice.clone());
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::super::{CtuMode, decide};
    use super::*;

    #[test]
    fn one_candidate_decides_as_decide() {
        // Random SSDs: the same mode, flags and cost as the two-way decision.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        for round in 0..500 {
            let n = 1 + next(12) as usize;
            let off: Vec<u64> = (0..n).map(|_| next(1000)).collect();
            let on: Vec<u64> = (0..n).map(|_| next(1000)).collect();
            let lambda = [0.0, 1.0, 30.0, 400.0][round % 4];
            let two = decide(&off, &on, lambda, 1.0).unwrap();
            let among = decide_among(&off, &[&on], lambda, 1.0).unwrap();
            let mode = match among.mode {
                CandidateMode::Off => CtuMode::Off,
                CandidateMode::AllOn(0) => CtuMode::AllOn,
                CandidateMode::Adaptive(0) => CtuMode::Adaptive,
                m => panic!("{m:?} with one candidate"),
            };
            assert_eq!(mode, two.mode, "{off:?} {on:?} {lambda}");
            assert_eq!(among.choice, two.flags);
            assert_eq!(among.flags_coded, two.flags_coded);
            let i = two.mode as usize;
            assert_eq!(among.cost, two.cost[i]);
        }
    }

    #[test]
    fn candidates_per_picture_and_per_ctu() {
        let off = [100, 100, 100, 100];
        // Candidate 1 is best everywhere: all on with it (2 + 1 index bit).
        let d = decide_among(&off, &[&[50, 50, 50, 50], &[10, 10, 10, 10]], 1.0, 1.0).unwrap();
        assert_eq!((d.mode, d.flags_coded), (CandidateMode::AllOn(1), 3.0));
        assert_eq!(d.choice, [2, 2, 2, 2]);
        // Each candidate wins half the CTUs by far: per CTU.
        let d = decide_among(&off, &[&[0, 0, 900, 900], &[900, 900, 0, 0]], 1.0, 1.0).unwrap();
        assert_eq!(d.mode, CandidateMode::PerCtu);
        assert_eq!(d.choice, [1, 1, 2, 2]);
        assert_eq!((d.distortion, d.flags_coded), (0, 3.0 + 4.0 * 2.0));
        // One CTU helped by candidate 0: adaptive with candidate 0 (3 + 1 + 4 flags).
        let d = decide_among(&off, &[&[0, 900, 900, 900], &[900; 4]], 1.0, 1.0).unwrap();
        assert_eq!(
            (d.mode, d.choice.clone()),
            (CandidateMode::Adaptive(0), vec![1, 0, 0, 0])
        );
        assert_eq!(d.flags_coded, 8.0);
        // Three candidates take 2 index bits.
        let d = decide_among(&off, &[&[900; 4], &[900; 4], &[0; 4]], 1.0, 1.0).unwrap();
        assert_eq!((d.mode, d.flags_coded), (CandidateMode::AllOn(2), 4.0));
        // Nothing helps: off.
        let d = decide_among(&off, &[&[900; 4], &[100; 4]], 1.0, 1.0).unwrap();
        assert_eq!((d.mode, d.ctus_on()), (CandidateMode::Off, 0));
    }

    #[test]
    fn errors() {
        assert!(decide_among(&[1], &[], 1.0, 1.0).is_err());
        assert!(decide_among(&[1], &[&[1, 2]], 1.0, 1.0).is_err());
        assert!(decide_among(&[1], &[&[1]], -1.0, 1.0).is_err());
        assert!(decide_among(&[1], &[&[1]], 1.0, f64::INFINITY).is_err());
        let many: Vec<&[u64]> = vec![&[1]; 256];
        assert!(decide_among(&[1], &many, 1.0, 1.0).is_err());
    }
}
