//! Error maps of the benchmark report: for every sequence and configuration, the pictures of its
//! most and least improved frame (largest and smallest luma PSNR gain of the always-on filter
//! over all its RD points), rendered by [`lut_filter::look`]: per 16x16 block the change of
//! squared error against the original, green where the filter helps, red where it hurts.

use std::path::{Path, PathBuf};

use lut_filter::look::{self, Options};
use serde::Serialize;

use super::Report;
use crate::evaluate::{Evaluator, PointSource};
use crate::pipeline::filter_picture;

/// One rendered frame.
#[derive(Clone, Debug, Serialize)]
pub struct FrameMap {
    /// Configuration.
    pub config: String,
    /// Sequence.
    pub sequence: String,
    /// `best` or `worst`.
    pub which: String,
    /// Nominal QP of the RD point.
    pub qp: u32,
    /// Frame index.
    pub frame: usize,
    /// Luma PSNR gain of the frame (dB).
    pub delta_y: f64,
    /// The error map (relative to the report folder).
    pub error_map: PathBuf,
    /// Original | reconstruction | filtered with a zoom (relative to the report folder).
    pub side_by_side: PathBuf,
}

/// Renders the best and worst frame of every sequence into `dir/maps/`; returns what was
/// written. `points` are the report's points (matched to its rows by config, sequence and QP).
///
/// # Errors
/// A point that cannot be loaded again, or a picture that cannot be rendered or written.
pub fn write_frame_maps(
    report: &Report,
    evaluator: &Evaluator<'_>,
    points: &[PointSource],
    container: &lut_filter::Container,
    dir: &Path,
) -> anyhow::Result<Vec<FrameMap>> {
    let mut out = Vec::new();
    for cfg in super::configs(&report.rows) {
        for seq in super::sequences(&report.rows, &cfg) {
            // (row, frame, gain) over every frame of every point of the sequence.
            let mut frames: Vec<(usize, usize, f64)> = Vec::new();
            for (i, r) in report.rows.iter().enumerate() {
                if r.config == cfg && r.sequence == seq {
                    for (f, (t, a)) in r
                        .frame_psnr_test
                        .iter()
                        .zip(&r.frame_psnr_anchor)
                        .enumerate()
                    {
                        frames.push((i, f, t[0] - a[0]));
                    }
                }
            }
            let best = frames.iter().copied().max_by(|a, b| a.2.total_cmp(&b.2));
            let worst = frames.iter().copied().min_by(|a, b| a.2.total_cmp(&b.2));
            for (which, pick) in [("best", best), ("worst", worst)] {
                let Some((row, frame, gain)) = pick else {
                    continue;
                };
                let r = &report.rows[row];
                let point = points
                    .iter()
                    .find(|p| {
                        p.sequence() == r.sequence && p.config() == r.config && p.qp() == r.qp
                    })
                    .ok_or_else(|| {
                        anyhow::anyhow!("no point for {} {} qp{}", r.sequence, r.config, r.qp)
                    })?;
                let pairs = evaluator.frames(point)?;
                let f = pairs
                    .get(frame)
                    .ok_or_else(|| anyhow::anyhow!("{}: no frame {frame}", point.label()))?;
                let filtered = filter_picture(container, &f.reconstruction, f.slice_qp, f.kind);
                let options = Options {
                    block: 16,
                    downscale: if f.original.width > 1000 { 2 } else { 1 },
                    title: Some(format!(
                        "{seq} {cfg} QP{} frame {frame} ({which}: dY {gain:+.3} dB)",
                        r.qp
                    )),
                    ..Options::default()
                };
                let pics = look::render(
                    &f.original.view()?,
                    &f.reconstruction.view()?,
                    &filtered.view()?,
                    &options,
                )?;
                let stem = format!("{cfg}_{seq}_{which}");
                let rel_map = Path::new("maps").join(format!("{stem}_error_map.png"));
                let rel_sbs = Path::new("maps").join(format!("{stem}_side_by_side.png"));
                std::fs::create_dir_all(dir.join("maps"))?;
                for (rel, img) in [(&rel_map, &pics.error_map), (&rel_sbs, &pics.side_by_side)] {
                    lut_filter::io::write_atomic(&dir.join(rel), &look::encode_png(img)?)?;
                }
                out.push(FrameMap {
                    config: cfg.clone(),
                    sequence: seq.clone(),
                    which: which.into(),
                    qp: r.qp,
                    frame,
                    delta_y: gain,
                    error_map: rel_map,
                    side_by_side: rel_sbs,
                });
            }
        }
    }
    Ok(out)
}

/// A Markdown section with, per configuration and sequence, the RD plot and the two maps.
pub fn markdown(maps: &[FrameMap], plots: bool) -> String {
    let mut s = String::from("\n## Pictures\n\n");
    if plots {
        s.push_str("RD curves: ");
        let mut cfgs: Vec<&str> = maps.iter().map(|m| m.config.as_str()).collect();
        cfgs.dedup();
        for c in cfgs {
            s.push_str(&format!("[{c}](rd_{c}.png) "));
        }
        s.push('\n');
    }
    s.push_str(
        "\nPer sequence, the frame the filter improved most and least (luma). Error maps: per \
         16x16 block, green = squared error down, red = up; side-by-side: original | \
         reconstruction | filtered, with a zoom where the filter changed most.\n\n\
         | cfg | sequence | best frame | worst frame |\n|---|---|---|---|\n",
    );
    let mut i = 0;
    while i < maps.len() {
        let m = &maps[i];
        let cell = |m: &FrameMap| {
            format!(
                "QP{} #{} dY {:+.3} dB: [map]({}) [pictures]({})",
                m.qp,
                m.frame,
                m.delta_y,
                m.error_map.display(),
                m.side_by_side.display()
            )
        };
        let worst = maps
            .get(i + 1)
            .filter(|w| w.sequence == m.sequence && w.config == m.config);
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            m.config,
            m.sequence,
            cell(m),
            worst.map_or(String::new(), cell)
        ));
        i += if worst.is_some() { 2 } else { 1 };
    }
    s
}
