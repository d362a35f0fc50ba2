//! The benchmark's CTU on/off emulation: what an encoder would keep of the filter.
//!
//! Per picture and component, [`lut_filter::ctu`] chooses off / all on / per-CTU flags by
//! `J = D + lambda * bits` against the original (DESIGN §3, the ALF and NNVC pattern; CTUs of
//! 128 luma / 64 chroma samples in 4:2:0). The picture it keeps is measured, and the flags it
//! would code are added to the rate, each counted as `flag_bits` bits (1 by default: an
//! uncoded flag; CABAC would spend less on skewed flags).
//!
//! With several QP offsets ([`CtuSwitch::qp_offsets`]) the encoder also chooses which model
//! filters: the one selected at `slice QP + offset`, per picture or per CTU, the index coded
//! ([`lut_filter::ctu::decide_among`]).
//!
//! With [`CtuSwitch::residual_scale`] the encoder may also scale a component's correction by a
//! factor `k / 16` fitted by least squares on the CTUs it keeps, and keeps it where `J` says
//! the factor pays for its bits ([`lut_filter::ctu::fit_scale`]).

use lut_filter::ctu::{
    CandidateDecision, CtuResidualStats, SCALE_CODE_BITS, SCALE_ONE, ctu_residual_stats, ctu_ssd,
    decide_among, fit_scale, scale_residual, vtm_lambda,
};
use serde::{Deserialize, Serialize};

use crate::corpus::Picture10;
use crate::corpus::picture::BIT_DEPTH;

/// Parameters of the emulation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CtuSwitch {
    /// Luma CTU size (chroma: half, 4:2:0).
    pub ctu: usize,
    /// Factor of VTM's lambda `factor * 2^(slice_qp / 3)` at 10 bit (about 0.57 for intra
    /// pictures; VTM uses larger factors for B pictures of higher temporal layers).
    pub lambda_factor: f64,
    /// Bits counted per flag.
    pub flag_bits: f64,
    /// Candidate filters: the models selected at `slice QP + offset` (the first is the
    /// always-on filter's, normally 0). One offset: the plain on/off decision.
    pub qp_offsets: Vec<i32>,
    /// Whether the encoder may scale each filtered component's correction by a coded factor
    /// (`lut_filter::ctu::scale_residual`): one flag per filtered component, and
    /// [`SCALE_CODE_BITS`] bits for the factor when it is not 1.
    #[serde(default)]
    pub residual_scale: bool,
}

impl Default for CtuSwitch {
    fn default() -> Self {
        Self {
            ctu: 128,
            lambda_factor: 0.57,
            flag_bits: 1.0,
            qp_offsets: vec![0],
            residual_scale: false,
        }
    }
}

/// What the emulation kept of one picture.
#[derive(Clone, Debug)]
pub struct Switched {
    /// The picture: reconstruction, with the filtered samples of the CTUs kept on.
    pub picture: Picture10,
    /// Flags coded (all components), in flags.
    pub flags: f64,
    /// Bits of the residual factors coded (all components).
    pub scale_bits: f64,
    /// Fraction of CTUs filtered, per component.
    pub on: [f64; 3],
    /// Residual factor code per component ([`SCALE_ONE`]: unscaled).
    pub scale: [u8; 3],
}

impl CtuSwitch {
    /// Decides per component which CTUs of which candidate (`filtered[k]`, filtered with the
    /// model of `slice_qp + qp_offsets[k]`) to keep over `recon`, and with
    /// [`CtuSwitch::residual_scale`] by which factor to scale their correction.
    ///
    /// # Panics
    /// If the pictures differ in size (they come from the same reconstruction) or `filtered`
    /// is empty.
    pub fn apply(
        &self,
        original: &Picture10,
        recon: &Picture10,
        filtered: &[&Picture10],
        slice_qp: i32,
    ) -> Switched {
        let lambda = vtm_lambda(slice_qp, self.lambda_factor);
        let mut picture = recon.clone();
        let (mut flags, mut scale_bits) = (0.0, 0.0);
        let mut on = [0.0; 3];
        let mut scale = [SCALE_ONE; 3];
        for (c, scale) in scale.iter_mut().enumerate() {
            let (w, h) = recon.plane_size(c);
            let ctu = if c == 0 { self.ctu } else { self.ctu / 2 }.max(1);
            let plain: Vec<&[u16]> = filtered.iter().map(|f| f.plane(c)).collect();
            let plain_ssds = self.ssds(original, recon, c, ctu, &plain);
            let mut best = self.decide(&plain_ssds, lambda);
            let mut best_extra = (0.0, 0.0);
            let mut scaled: Vec<Vec<u16>> = Vec::new();
            if self.residual_scale {
                // Whether a factor is coded: one flag for every component that is filtered.
                best_extra.0 = if best.ctus_on() > 0 { 1.0 } else { 0.0 };
                let (r, o) = (view(recon, c), view(original, c));
                let stats: Vec<CtuResidualStats> = plain
                    .iter()
                    .map(|f| {
                        let f = lut_filter::Plane::new(f, w, w, h).expect("a consistent picture");
                        ctu_residual_stats(&o, &r, &f, ctu).expect("planes of one picture")
                    })
                    .collect();
                // Least-squares factors fitted on two sets of CTUs, each refined twice: the
                // CTUs the decision keeps (right for "all on"), and those where the (scaled)
                // correction helps (right for CTU flags). The cheapest decision wins.
                let weight = lambda * self.flag_bits;
                let extra = (1.0, SCALE_CODE_BITS);
                let helped = helped_ctus(&plain_ssds);
                let kept = if best.ctus_on() > 0 {
                    best.choice.clone()
                } else {
                    helped.clone()
                };
                for (start, by_decision) in [(kept, true), (helped, false)] {
                    let mut choice = start;
                    let mut k = SCALE_ONE;
                    for _ in 0..3 {
                        let next = fit_scale(&stats, &choice).expect("one choice per CTU");
                        if next == k {
                            break;
                        }
                        k = next;
                        let trial: Vec<Vec<u16>> = plain
                            .iter()
                            .map(|f| {
                                let mut g = f.to_vec();
                                let mut m = lut_filter::PlaneMut::new(&mut g, w, w, h)
                                    .expect("a consistent picture");
                                scale_residual(&r, &mut m, k, BIT_DEPTH as u8)
                                    .expect("a factor code and a bit depth in range");
                                g
                            })
                            .collect();
                        let refs: Vec<&[u16]> = trial.iter().map(Vec::as_slice).collect();
                        let ssds = self.ssds(original, recon, c, ctu, &refs);
                        let d = self.decide(&ssds, lambda);
                        choice = if by_decision {
                            d.choice.clone()
                        } else {
                            helped_ctus(&ssds)
                        };
                        if d.ctus_on() > 0
                            && d.cost + weight * extra.0 + lambda * extra.1
                                < best.cost + weight * best_extra.0 + lambda * best_extra.1
                        {
                            best = d;
                            best_extra = extra;
                            scaled = trial;
                            *scale = k;
                        }
                    }
                }
            }
            flags += best.flags_coded + best_extra.0;
            scale_bits += best_extra.1;
            on[c] = best.ctus_on() as f64 / best.choice.len().max(1) as f64;
            let cols = w.div_ceil(ctu);
            let dst = picture.plane_mut(c);
            for y in 0..h {
                for (bx, &choice) in best.choice[(y / ctu) * cols..][..cols].iter().enumerate() {
                    if choice != 0 {
                        let k = usize::from(choice) - 1;
                        let src = scaled.get(k).map_or(plain[k], Vec::as_slice);
                        let x0 = bx * ctu;
                        let x1 = (x0 + ctu).min(w);
                        dst[y * w + x0..y * w + x1].copy_from_slice(&src[y * w + x0..y * w + x1]);
                    }
                }
            }
        }
        Switched {
            picture,
            flags,
            scale_bits,
            on,
            scale,
        }
    }

    /// The decision among the candidates whose per-CTU SSDs are `ssds`.
    fn decide(&self, ssds: &CtuSsds, lambda: f64) -> CandidateDecision {
        let on_refs: Vec<&[u64]> = ssds.on.iter().map(Vec::as_slice).collect();
        decide_among(&ssds.off, &on_refs, lambda, self.flag_bits)
            .expect("lambda and flag bits are finite and >= 0, 1 to 255 candidates")
    }

    /// Per-CTU SSD of the reconstruction and of each candidate.
    fn ssds(
        &self,
        original: &Picture10,
        recon: &Picture10,
        c: usize,
        ctu: usize,
        candidates: &[&[u16]],
    ) -> CtuSsds {
        let (w, h) = recon.plane_size(c);
        let (o, r) = (view(original, c), view(recon, c));
        let mut off = Vec::new();
        let on = candidates
            .iter()
            .map(|f| {
                let f = lut_filter::Plane::new(f, w, w, h).expect("a consistent picture");
                let (o_ssd, f_ssd) = ctu_ssd(&o, &r, &f, ctu);
                off = o_ssd;
                f_ssd
            })
            .collect();
        CtuSsds { off, on }
    }
}

/// Per-CTU SSDs of one component: the reconstruction's and each candidate's.
struct CtuSsds {
    off: Vec<u64>,
    on: Vec<Vec<u64>>,
}

/// Per CTU, the candidate with the lowest SSD where it beats the reconstruction (1-based, as
/// [`CandidateDecision::choice`]), else 0.
fn helped_ctus(ssds: &CtuSsds) -> Vec<u8> {
    (0..ssds.off.len())
        .map(|i| {
            let (k, best) = ssds
                .on
                .iter()
                .enumerate()
                .map(|(k, s)| (k, s[i]))
                .min_by_key(|&(_, s)| s)
                .expect("at least one candidate");
            if best < ssds.off[i] { (k + 1) as u8 } else { 0 }
        })
        .collect()
}

fn view(p: &Picture10, c: usize) -> lut_filter::Plane<'_, u16> {
    p.plane_view(c).expect("a consistent picture")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_filtered_ctus_only_where_they_help() {
        // 256x128 luma: two luma CTUs; the filter fixes the left one and damages the right one.
        let orig = Picture10::zeroed(256, 128);
        let mut recon = orig.clone();
        recon.y.iter_mut().for_each(|v| *v = 8);
        let mut filtered = recon.clone();
        for y in 0..128 {
            for x in 0..256 {
                filtered.y[y * 256 + x] = if x < 128 { 0 } else { 20 };
            }
        }
        let s = CtuSwitch::default().apply(&orig, &recon, &[&filtered], 32);
        assert_eq!(s.picture.y[0], 0);
        assert_eq!(s.picture.y[200], 8);
        assert_eq!(s.on, [0.5, 0.0, 0.0]);
        // Luma codes 2 + 2 flags, each chroma plane 1 (off).
        assert_eq!(s.flags, 6.0);
    }

    #[test]
    fn takes_each_ctu_from_the_candidate_that_fixes_it() {
        // Candidate 0 fixes the left luma CTU, candidate 1 the right one.
        let orig = Picture10::zeroed(256, 128);
        let mut recon = orig.clone();
        recon.y.iter_mut().for_each(|v| *v = 8);
        let (mut left, mut right) = (recon.clone(), recon.clone());
        for y in 0..128 {
            for x in 0..256 {
                let i = y * 256 + x;
                (left.y[i], right.y[i]) = if x < 128 { (0, 30) } else { (30, 0) };
            }
        }
        let switch = CtuSwitch {
            qp_offsets: vec![0, 5],
            ..CtuSwitch::default()
        };
        let s = switch.apply(&orig, &recon, &[&left, &right], 32);
        assert!(s.picture.y.iter().all(|&v| v == 0));
        assert_eq!(s.on, [1.0, 0.0, 0.0]);
        // Luma per CTU: 3 + 2 x (1 flag + 1 index bit); each chroma plane 1 (off).
        assert_eq!(s.flags, 7.0 + 2.0);
    }

    #[test]
    fn scales_a_correction_that_overshoots() {
        // The filter's correction is 4/3 of the error: the factor 12/16 repairs it exactly.
        let mut orig = Picture10::zeroed(256, 128);
        orig.y
            .iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = 500 + (i % 7) as u16);
        let mut recon = orig.clone();
        let mut filtered = orig.clone();
        for (i, (r, f)) in recon.y.iter_mut().zip(filtered.y.iter_mut()).enumerate() {
            let m = (i % 5) as u16;
            *r += 3 * m;
            *f -= m;
        }
        let plain = CtuSwitch::default().apply(&orig, &recon, &[&filtered], 32);
        assert_eq!(plain.scale, [SCALE_ONE; 3]);
        assert_eq!(plain.scale_bits, 0.0);
        assert_ne!(plain.picture.y, orig.y);
        let switch = CtuSwitch {
            residual_scale: true,
            ..CtuSwitch::default()
        };
        let s = switch.apply(&orig, &recon, &[&filtered], 32);
        assert_eq!(s.scale, [12, SCALE_ONE, SCALE_ONE]);
        assert_eq!(s.picture.y, orig.y);
        assert_eq!(s.scale_bits, SCALE_CODE_BITS);
        // All on (2 flags) plus the "factor follows" flag; chroma off (1 flag each).
        assert_eq!(s.flags, 3.0 + 2.0);
    }
}
