//! RD-curve plots of a benchmark report, as SVG and PNG (`plotters`).
//!
//! One figure per configuration, one row per sequence:
//! * left, the RD curves: luma PSNR against bitrate (log scale), anchor (unfiltered, grey) and
//!   test (filtered, blue), with the sequence's luma BD-rate in the title;
//! * right, what the curves are too close to show: delta-PSNR (filtered - unfiltered) of Y, Cb
//!   and Cr at each point, against the same bitrate axis, with the zero line, and the luma
//!   delta-PSNR of the CTU on/off emulation (at its rate, flags included).
//!
//! Text needs a TrueType font: the first of `$LUT_PLOT_FONT`, DejaVu Sans and Liberation Sans
//! (the usual Linux paths) that exists is loaded once. Without one, no plot is drawn and
//! [`PlotError::NoFont`] says so.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::combinators::{BindKeyPoints, LogCoord, WithKeyPoints};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{Report, sequences};
use crate::evaluate::EvalRow;

/// Pixel size of one panel.
const PANEL: (u32, u32) = (560, 300);
/// Height of the figure's title band.
const TITLE_H: u32 = 40;

/// Why a plot was not written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// No TrueType font found for the text.
    #[error(
        "no TrueType font found for the plots (set LUT_PLOT_FONT to a .ttf file, or install \
         fonts-dejavu-core)"
    )]
    NoFont,
    /// plotters failed.
    #[error("drawing {what}: {msg}")]
    Draw {
        /// The figure.
        what: String,
        /// plotters' message.
        msg: String,
    },
    /// The file could not be written.
    #[error("writing {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Font files tried in order after `$LUT_PLOT_FONT`.
const FONT_CANDIDATES: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

/// Loads and registers the font once; whether one is available.
pub fn font_available() -> bool {
    static FONT: OnceLock<bool> = OnceLock::new();
    *FONT.get_or_init(|| {
        let env = std::env::var_os("LUT_PLOT_FONT").map(PathBuf::from);
        for path in env
            .into_iter()
            .chain(FONT_CANDIDATES.iter().map(PathBuf::from))
        {
            if let Ok(bytes) = std::fs::read(&path) {
                // Registered fonts live as long as the program: leak the bytes once.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

/// Writes `rd_<config>.svg` and `rd_<config>.png` into `dir` for every configuration of the
/// report; returns the files written.
///
/// # Errors
/// No font, a drawing error or a file that cannot be written.
pub fn write_rd_plots(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    if !font_available() {
        return Err(PlotError::NoFont);
    }
    let mut written = Vec::new();
    for cfg in super::configs(&report.rows) {
        let seqs = sequences(&report.rows, &cfg);
        let size = (2 * PANEL.0, TITLE_H + PANEL.1 * seqs.len() as u32);
        let title = format!(
            "{} — {}: {}",
            cfg.to_uppercase(),
            report.container,
            match (report.bd_rate.get(&cfg), report.bd_rate_switched.get(&cfg)) {
                (Some(Ok(c)), Some(Ok(s))) => format!(
                    "BD-rate Y/U/V {:+.2}/{:+.2}/{:+.2} %; CTU on/off {:+.2}/{:+.2}/{:+.2} %",
                    c.overall.y, c.overall.u, c.overall.v, s.overall.y, s.overall.u, s.overall.v
                ),
                _ => "no BD-rate".into(),
            }
        );
        let what = format!("rd_{cfg}");
        let draw_err = |msg: String| PlotError::Draw {
            what: what.clone(),
            msg,
        };
        let svg_path = dir.join(format!("rd_{cfg}.svg"));
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
            draw_figure(&root, report, &cfg, &seqs, &title).map_err(draw_err)?;
        }
        write(&svg_path, svg.as_bytes())?;
        written.push(svg_path);
        let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
            draw_figure(&root, report, &cfg, &seqs, &title).map_err(draw_err)?;
        }
        let png_path = dir.join(format!("rd_{cfg}.png"));
        write(&png_path, &encode_png(&rgb, size).map_err(draw_err)?)?;
        written.push(png_path);
    }
    Ok(written)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    lut_filter::io::write_atomic(path, bytes).map_err(|e| PlotError::Write {
        path: path.to_owned(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// Encodes 8-bit RGB as PNG.
pub fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Best);
    let mut writer = enc.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

fn draw_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    report: &Report,
    cfg: &str,
    seqs: &[String],
    title: &str,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let body = root.titled(title, ("sans-serif", 20)).map_err(e)?;
    let rows = body.split_evenly((seqs.len().max(1), 2));
    for (i, seq) in seqs.iter().enumerate() {
        let pts: Vec<&EvalRow> = report
            .rows
            .iter()
            .filter(|r| r.config == cfg && &r.sequence == seq)
            .collect();
        let bd = match report.bd_rate.get(cfg) {
            Some(Ok(c)) => c
                .sequences
                .iter()
                .find(|s| &s.sequence == seq)
                .map_or(String::new(), |s| format!(", BD-rate Y {:+.2} %", s.y)),
            _ => String::new(),
        };
        rd_panel(&rows[2 * i], seq, &bd, &pts).map_err(e)?;
        delta_panel(&rows[2 * i + 1], seq, &pts).map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

fn rate_range(pts: &[&EvalRow]) -> std::ops::Range<f64> {
    let lo = pts.iter().map(|r| r.kbps).fold(f64::INFINITY, f64::min);
    let hi = pts.iter().map(|r| r.kbps).fold(0.0, f64::max);
    (lo / 1.25).max(1e-3)..(hi * 1.25).max(lo * 1.6).max(1e-2)
}

/// The log-scale rate axis with ticks at 1-2-5 multiples of powers of ten.
fn rate_axis(pts: &[&EvalRow]) -> RateAxis {
    let r = rate_range(pts);
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(r.start.log10().floor());
    while decade <= r.end {
        for m in [1.0, 2.0, 5.0] {
            let t = m * decade;
            if r.contains(&t) {
                ticks.push(t);
            }
        }
        decade *= 10.0;
    }
    r.log_scale().with_key_points(ticks)
}

/// The x axis of every panel: log-scale kbps with chosen ticks.
type RateAxis = WithKeyPoints<LogCoord<f64>>;

/// A panel's chart.
type PanelChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RateAxis, RangedCoordf64>>;

/// A panel's chart: log-rate x axis, `y` range, caption and mesh.
fn panel<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    pts: &[&EvalRow],
    caption: String,
    y: std::ops::Range<f64>,
    y_desc: &str,
) -> Result<PanelChart<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(34)
        .y_label_area_size(48)
        .build_cartesian_2d(rate_axis(pts), y)?;
    chart
        .configure_mesh()
        .x_desc("kbps (log)")
        .y_desc(y_desc)
        .x_labels(6)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.2}"))
        .light_line_style(WHITE)
        .label_style(("sans-serif", 12))
        .draw()?;
    Ok(chart)
}

fn rd_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    seq: &str,
    bd: &str,
    pts: &[&EvalRow],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let psnr = pts.iter().flat_map(|r| [r.psnr_anchor[0], r.psnr_test[0]]);
    let (lo, hi) = psnr.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let pad = ((hi - lo) * 0.08).max(0.2);
    let mut chart = panel(
        area,
        pts,
        format!("{seq}{bd}"),
        (lo - pad)..(hi + pad),
        "PSNR Y (dB)",
    )?;
    let grey = RGBColor(120, 120, 120);
    let curve = |f: fn(&EvalRow) -> f64| -> Vec<(f64, f64)> {
        pts.iter().map(|r| (r.kbps, f(r))).collect()
    };
    let anchor = curve(|r| r.psnr_anchor[0]);
    let test = curve(|r| r.psnr_test[0]);
    chart
        .draw_series(LineSeries::new(anchor.clone(), grey.stroke_width(2)))?
        .label("unfiltered")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], grey.stroke_width(2)));
    chart.draw_series(anchor.iter().map(|&p| Circle::new(p, 4, grey.filled())))?;
    chart
        .draw_series(LineSeries::new(test.clone(), BLUE.stroke_width(1)))?
        .label("LUT filtered")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLUE));
    chart.draw_series(test.iter().map(|&p| Cross::new(p, 4, BLUE.stroke_width(2))))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 12))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

fn delta_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    seq: &str,
    pts: &[&EvalRow],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let deltas: Vec<[f64; 3]> = pts.iter().map(|r| r.delta()).collect();
    let m = deltas.iter().flatten().fold(0.02f64, |m, d| m.max(d.abs())) * 1.15;
    let mut chart = panel(
        area,
        pts,
        format!("{seq}: delta-PSNR (filtered - unfiltered)"),
        -m..m,
        "dB",
    )?;
    let r = rate_range(pts);
    chart.draw_series(LineSeries::new(
        [(r.start, 0.0), (r.end, 0.0)],
        BLACK.mix(0.5),
    ))?;
    let colours = [(BLACK, "Y"), (BLUE, "Cb"), (RED, "Cr")];
    for (c, (colour, name)) in colours.into_iter().enumerate() {
        let line: Vec<(f64, f64)> = pts
            .iter()
            .zip(&deltas)
            .map(|(r, d)| (r.kbps, d[c]))
            .collect();
        chart
            .draw_series(LineSeries::new(line.clone(), colour.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
        chart.draw_series(line.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
    }
    let green = RGBColor(0, 150, 70);
    let line: Vec<(f64, f64)> = pts
        .iter()
        .map(|r| (r.kbps_switched, r.delta_switched()[0]))
        .collect();
    chart
        .draw_series(LineSeries::new(line.clone(), green.stroke_width(2)))?
        .label("Y, CTU on/off")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], green.stroke_width(2)));
    chart.draw_series(
        line.iter()
            .map(|&p| TriangleMarker::new(p, 4, green.filled())),
    )?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 12))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
