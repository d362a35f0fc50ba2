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

use lut_filter::ctu::{ctu_ssd, decide_among, vtm_lambda};
use serde::{Deserialize, Serialize};

use crate::corpus::Picture10;

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
}

impl Default for CtuSwitch {
    fn default() -> Self {
        Self {
            ctu: 128,
            lambda_factor: 0.57,
            flag_bits: 1.0,
            qp_offsets: vec![0],
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
    /// Fraction of CTUs filtered, per component.
    pub on: [f64; 3],
}

impl CtuSwitch {
    /// Decides per component which CTUs of which candidate (`filtered[k]`, filtered with the
    /// model of `slice_qp + qp_offsets[k]`) to keep over `recon`.
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
        let mut flags = 0.0;
        let mut on = [0.0; 3];
        #[allow(clippy::needless_range_loop)] // `c` names a plane of several pictures
        for c in 0..3 {
            let (w, h) = recon.plane_size(c);
            let ctu = if c == 0 { self.ctu } else { self.ctu / 2 }.max(1);
            let [o, r] = [original, recon].map(|p| p.plane_view(c).expect("a consistent picture"));
            let mut off_ssd = Vec::new();
            let on_ssd: Vec<Vec<u64>> = filtered
                .iter()
                .map(|f| {
                    let f = f.plane_view(c).expect("a consistent picture");
                    let (off, on) = ctu_ssd(&o, &r, &f, ctu);
                    off_ssd = off;
                    on
                })
                .collect();
            let on_refs: Vec<&[u64]> = on_ssd.iter().map(Vec::as_slice).collect();
            let d = decide_among(&off_ssd, &on_refs, lambda, self.flag_bits)
                .expect("lambda and flag bits are finite and >= 0, 1 to 255 candidates");
            flags += d.flags_coded;
            on[c] = d.ctus_on() as f64 / d.choice.len().max(1) as f64;
            let cols = w.div_ceil(ctu);
            let dst = picture.plane_mut(c);
            for y in 0..h {
                for (bx, &choice) in d.choice[(y / ctu) * cols..][..cols].iter().enumerate() {
                    if choice != 0 {
                        let src = filtered[usize::from(choice) - 1].plane(c);
                        let x0 = bx * ctu;
                        let x1 = (x0 + ctu).min(w);
                        dst[y * w + x0..y * w + x1].copy_from_slice(&src[y * w + x0..y * w + x1]);
                    }
                }
            }
        }
        Switched { picture, flags, on }
    }
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
}
