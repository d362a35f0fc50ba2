//! The CTU decision among several candidate filters (`lutf_ctu_decide_among`).

use lut_filter::ctu;

use crate::filter::positive;
use crate::rdo::{read_in, write_out};
use crate::status::{Failure, guard, lutf_status};
use lutf_status::*;

/// Picture-level choice of `lutf_ctu_decide_among` (`lutf_ctu_candidate_decision.mode`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lutf_candidate_mode {
    /// Filter nothing in this picture/slice (1 flag).
    LUTF_CANDIDATES_OFF = 0,
    /// Every CTU filtered by candidate `candidate` (2 flags + the index).
    LUTF_CANDIDATES_ALL_ON = 1,
    /// Candidate `candidate` for the CTUs whose choice is not 0 (2 flags, 3 with several
    /// candidates, + the index + one flag per CTU).
    LUTF_CANDIDATES_CTU_ADAPTIVE = 2,
    /// Each CTU off or filtered by its own candidate (3 flags + per CTU one flag, plus the
    /// index where on). Only with several candidates.
    LUTF_CANDIDATES_PER_CTU = 3,
}

/// Result of `lutf_ctu_decide_among`.
///
/// Costs are `J = D + lambda * flag_bits * flags`, `index_bits = ceil(log2(n_candidates))`
/// flags per coded index; with one candidate the decision equals `lutf_ctu_decide`'s.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct lutf_ctu_candidate_decision {
    /// SSD of the chosen mode.
    pub distortion: u64,
    /// Its rate-distortion cost.
    pub cost: f64,
    /// Flags it codes (picture-level flags, CTU flags and indexes).
    pub flags_coded: f64,
    /// One of `lutf_candidate_mode` (ties prefer off, all on, adaptive, per CTU, then the
    /// lower candidate).
    pub mode: i32,
    /// The candidate of "all on" and "CTU adaptive"; -1 for "off" and "per CTU".
    pub candidate: i32,
    /// Number of CTUs filtered (choice not 0).
    pub ctus_on: i32,
}

/// The CTU decision among `n_candidates` filters of one component (or of the components
/// summed): `ssd_candidates[k]` holds the per-CTU SSDs of the picture filtered by candidate
/// `k`, e.g. the model `lutf_filter_*` selects at `slice_qp + offset_k` (JVET's NN filters let
/// the encoder pick such a QP offset per slice or per CTU). The cheapest of off, all on or CTU
/// adaptive with one candidate, and per-CTU candidates, is chosen by
/// `J = D + lambda * flag_bits * flags`. `choice[i]` receives 0 (CTU `i` unfiltered) or `k + 1`
/// (filtered by candidate `k`) under the chosen mode. One candidate gives exactly
/// `lutf_ctu_decide`'s decision. Added in API 1.1.
///
/// # Safety
/// `ssd_off` must be NULL or address `n_ctus` readable values; `ssd_candidates` NULL or address
/// `n_candidates` pointers, each NULL or addressing `n_ctus` readable values; `choice` NULL or
/// `n_ctus` writable bytes; `decision` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_ctu_decide_among(
    ssd_off: *const u64,
    ssd_candidates: *const *const u64,
    n_candidates: i32,
    n_ctus: i32,
    lambda: f64,
    flag_bits: f64,
    choice: *mut u8,
    decision: *mut lutf_ctu_candidate_decision,
) -> lutf_status {
    guard(|| {
        if ssd_off.is_null() || ssd_candidates.is_null() || choice.is_null() || decision.is_null() {
            return Err(Failure::new(
                LUTF_ERR_NULL_POINTER,
                "ssd_off, ssd_candidates, choice and decision must not be NULL",
            ));
        }
        let n = positive("n_ctus", n_ctus)?;
        if !(1..=255).contains(&n_candidates) {
            return Err(Failure::new(
                LUTF_ERR_INVALID_ARGUMENT,
                format!("n_candidates is {n_candidates}, must be 1 to 255"),
            ));
        }
        let k = n_candidates as usize;
        // SAFETY: ssd_candidates addresses k readable pointers (caller guarantee).
        let pointers = unsafe { read_in(ssd_candidates, k) };
        if pointers.iter().any(|p| p.is_null()) {
            return Err(Failure::new(
                LUTF_ERR_NULL_POINTER,
                "every ssd_candidates[k] must not be NULL",
            ));
        }
        // SAFETY: ssd_off and every ssd_candidates[k] (checked non-NULL) address n readable
        // values (caller guarantee).
        let (off, on) = unsafe {
            let on: Vec<Vec<u64>> = pointers.iter().map(|&p| read_in(p, n)).collect();
            (read_in(ssd_off, n), on)
        };
        let refs: Vec<&[u64]> = on.iter().map(Vec::as_slice).collect();
        let d = ctu::decide_among(&off, &refs, lambda, flag_bits)
            .map_err(|e| Failure::new(LUTF_ERR_INVALID_ARGUMENT, e.to_string()))?;
        let (mode, candidate) = match d.mode {
            ctu::CandidateMode::Off => (lutf_candidate_mode::LUTF_CANDIDATES_OFF, -1),
            ctu::CandidateMode::AllOn(k) => (lutf_candidate_mode::LUTF_CANDIDATES_ALL_ON, k as i32),
            ctu::CandidateMode::Adaptive(k) => {
                (lutf_candidate_mode::LUTF_CANDIDATES_CTU_ADAPTIVE, k as i32)
            }
            ctu::CandidateMode::PerCtu => (lutf_candidate_mode::LUTF_CANDIDATES_PER_CTU, -1),
        };
        let summary = lutf_ctu_candidate_decision {
            distortion: d.distortion,
            cost: d.cost,
            flags_coded: d.flags_coded,
            mode: mode as i32,
            candidate,
            ctus_on: d.ctus_on() as i32,
        };
        // SAFETY: choice addresses n writable bytes, decision is writable (caller guarantee).
        unsafe {
            write_out(choice, &d.choice);
            write_out(decision, std::slice::from_ref(&summary));
        }
        Ok(LUTF_OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calls `lutf_ctu_decide_among` for 4 CTUs; returns the status, choices and summary.
    ///
    /// # Safety
    /// `off` NULL or 4 readable values; `cands` `k` readable pointers, each NULL or addressing
    /// 4 readable values.
    unsafe fn decide4(
        off: *const u64,
        cands: *const *const u64,
        k: i32,
    ) -> (lutf_status, [u8; 4], lutf_ctu_candidate_decision) {
        let mut choice = [9u8; 4];
        let mut d = lutf_ctu_candidate_decision::default();
        // SAFETY: forwarded caller guarantees; `choice` and `d` are our own.
        let s = unsafe {
            lutf_ctu_decide_among(off, cands, k, 4, 1.0, 1.0, choice.as_mut_ptr(), &mut d)
        };
        (s, choice, d)
    }

    #[test]
    fn decides_among_candidates_and_checks_arguments() {
        let off = [100u64, 100, 100, 100];
        let (a, b) = ([0u64, 0, 900, 900], [900u64, 900, 0, 0]);
        let cands = [a.as_ptr(), b.as_ptr()];
        // SAFETY: every non-NULL pointer addresses the stated number of values (here and in
        // the calls below).
        let (s, choice, d) = unsafe { decide4(off.as_ptr(), cands.as_ptr(), 2) };
        assert_eq!(s, LUTF_OK);
        assert_eq!(choice, [1, 1, 2, 2]);
        assert_eq!(d.mode, lutf_candidate_mode::LUTF_CANDIDATES_PER_CTU as i32);
        assert_eq!((d.candidate, d.ctus_on, d.distortion), (-1, 4, 0));
        // One candidate: all on with it.
        let all = [0u64; 4];
        let one = [all.as_ptr()];
        // SAFETY: as above.
        let (s, choice, d) = unsafe { decide4(off.as_ptr(), one.as_ptr(), 1) };
        assert_eq!((s, d.mode, d.candidate, choice), (LUTF_OK, 1, 0, [1; 4]));
        // Errors: a NULL candidate pointer (refused before any read), no candidate, NULL arrays.
        let bad = [a.as_ptr(), std::ptr::null()];
        // SAFETY: as above.
        let (s, _, _) = unsafe { decide4(off.as_ptr(), bad.as_ptr(), 2) };
        assert_eq!(s, LUTF_ERR_NULL_POINTER);
        // SAFETY: as above.
        let (s, _, _) = unsafe { decide4(off.as_ptr(), cands.as_ptr(), 0) };
        assert_eq!(s, LUTF_ERR_INVALID_ARGUMENT);
        // SAFETY: as above.
        let (s, _, _) = unsafe { decide4(std::ptr::null(), cands.as_ptr(), 2) };
        assert_eq!(s, LUTF_ERR_NULL_POINTER);
    }
}
