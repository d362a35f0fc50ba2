//! Bjøntegaard-delta rate and PSNR (DESIGN §4), and the RD inputs they are computed from.
//!
//! * [`bd_rate`] / [`bd_psnr`]: one anchor curve against one test curve, with PCHIP (the JVET
//!   common-test-conditions method, default), Akima or the cubic fit of VCEG-M33 ([`Method`]).
//!   Values agree with the `bjontegaard` Python package 1.3 (SciPy interpolants, exact
//!   integration over the overlap) to about 1e-10.
//! * [`parse_encoder_log`]: VTM / VVenC encoder logs (summary and per-picture lines).
//! * [`parse_points_csv`]: a `sequence,qp,kbps,psnr_y,psnr_u,psnr_v` CSV of RD points.
//! * [`compare`]: per-sequence Y, U, V and YUV (`(6Y+U+V)/8`) BD-rates with class and overall
//!   averages, as serde-serialisable structs.
//!
//! ```
//! use lut_filter::bdrate::{compare, parse_points_csv, Method};
//! let anchor = parse_points_csv(
//!     "sequence,qp,kbps,psnr_y,psnr_u,psnr_v\n\
//!      s,22,4000,40,44,45\ns,27,2000,37.5,42,43\ns,32,1000,35,40,41\ns,37,500,32.5,38,39\n",
//! )?;
//! let test: Vec<_> = anchor.iter().cloned().map(|mut p| { p.kbps *= 0.97; p }).collect();
//! let report = compare(&anchor, &test, Method::Pchip)?;
//! assert!((report.overall.y + 3.0).abs() < 1e-9);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bd;
mod compare;
mod interp;
mod logs;
mod points;

pub use bd::{
    BdError, BdResult, Curve, MIN_POINTS, Method, RdPoint, SMALL_OVERLAP_THRESHOLD, bd_psnr,
    bd_rate, rd_points,
};
pub use compare::{BdAverage, CompareError, Comparison, PsnrComponent, SequenceBd, compare};
pub use logs::{
    EncoderLog, LogSummary, PictureStats, SliceType, SummaryScope, parse_encoder_log,
    read_encoder_log,
};
pub use points::{ParseError, RdSample, parse_points_csv, read_points_csv, write_points_csv};
