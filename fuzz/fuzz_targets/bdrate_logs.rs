//! Arbitrary text through the BD-rate input parsers: VTM/VVenC encoder logs and the RD-points
//! CSV. Neither may panic; points that parse must survive `write_points_csv` and parse back
//! equal, and `compare` on them must return a result or a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lut_filter::bdrate::{
    Method, RdSample, compare, parse_encoder_log, parse_points_csv, write_points_csv,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match parse_encoder_log(&text) {
        Ok(log) => {
            // (Debug text: logs may hold "nan", which is never equal to itself.)
            let first = format!("{:?}", log.summary);
            assert!(log.summaries.iter().any(|s| format!("{s:?}") == first));
            // Four RD points from the summary (rates halving, PSNR falling): BD-rate must give a
            // number or a typed error (logs may say nan or inf) without panicking.
            let anchor: Vec<RdSample> = (0..4)
                .map(|k| {
                    let mut s = RdSample::from_summary("s", None, 22 + 5 * k, &log.summary);
                    s.kbps /= f64::from(1 << k);
                    s.psnr_y -= f64::from(k);
                    s.psnr_u -= f64::from(k);
                    s.psnr_v -= f64::from(k);
                    s
                })
                .collect();
            let _ = anchor[0].psnr_yuv();
            if let Err(e) = compare(&anchor, &anchor, Method::Pchip) {
                assert!(!e.to_string().is_empty());
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    match parse_points_csv(&text) {
        Ok(points) => {
            let written = write_points_csv(&points);
            let back = parse_points_csv(&written)
                .unwrap_or_else(|e| panic!("written CSV does not parse: {e}\n{written}"));
            assert_eq!(
                back, points,
                "CSV round trip changed the points:\n{written}"
            );
            if !points.is_empty() && points.len() <= 64 {
                for method in [Method::Pchip, Method::Akima, Method::Cubic] {
                    if let Err(e) = compare(&points, &points, method) {
                        assert!(!e.to_string().is_empty());
                    }
                }
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
