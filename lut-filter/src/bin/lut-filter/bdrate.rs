//! `lut-filter bdrate`: BD-rate of a test against an anchor from encoder logs or CSV points.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use lut_filter::bdrate::{self, Comparison, Method, RdSample};

/// Options of `lut-filter bdrate`.
#[derive(Debug, clap::Args)]
pub struct BdrateArgs {
    /// The anchor: a CSV of RD points (sequence,qp,kbps,psnr_y,psnr_u,psnr_v[,class]), a folder
    /// of encoder logs named `<sequence>_qp<QP>.log` (VTM or VVenC), or such log files.
    #[arg(long, required = true, num_args = 1.., value_name = "CSV|DIR|LOG")]
    anchor: Vec<PathBuf>,
    /// The test, in the same forms as the anchor.
    #[arg(long, required = true, num_args = 1.., value_name = "CSV|DIR|LOG")]
    test: Vec<PathBuf>,
    /// Curve model: pchip (JVET CTC), akima, or cubic (VCEG-M33).
    #[arg(long, default_value = "pchip")]
    method: Method,
    /// Only these QPs (comma-separated); default: every QP present.
    #[arg(long, value_delimiter = ',')]
    qps: Vec<i32>,
    /// Also write the per-sequence, class and overall BD-rates as CSV.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Also write the comparison as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// Runs the command; returns the table for stdout.
pub fn run(args: BdrateArgs) -> Result<String> {
    let keep = |v: Vec<RdSample>| -> Vec<RdSample> {
        v.into_iter()
            .filter(|s| args.qps.is_empty() || args.qps.contains(&s.qp))
            .collect()
    };
    let anchor = keep(read_points(&args.anchor).context("reading the anchor")?);
    let test = keep(read_points(&args.test).context("reading the test")?);
    let cmp = bdrate::compare(&anchor, &test, args.method).context("computing BD-rates")?;
    if let Some(p) = &args.csv {
        lut_filter::io::write_atomic(p, cmp.to_csv().as_bytes())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &args.json {
        lut_filter::io::write_atomic(p, serde_json::to_string_pretty(&cmp)?.as_bytes())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(table(&cmp))
}

/// Reads RD points from CSV files, log folders and log files.
fn read_points(paths: &[PathBuf]) -> Result<Vec<RdSample>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut logs: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading the folder {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|e| e == "log"))
                .collect();
            logs.sort();
            if logs.is_empty() {
                bail!("{}: no .log file in this folder", p.display());
            }
            for f in logs {
                out.push(read_log(&f)?);
            }
        } else if p.extension().is_some_and(|e| e == "log") {
            out.push(read_log(p)?);
        } else {
            out.extend(
                bdrate::read_points_csv(p).with_context(|| format!("reading {}", p.display()))?,
            );
        }
    }
    Ok(out)
}

/// One RD point from a log named `<sequence>_qp<QP>.log`.
fn read_log(path: &Path) -> Result<RdSample> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let (sequence, qp) = stem
        .rsplit_once("_qp")
        .and_then(|(s, q)| Some((s, q.parse::<i32>().ok()?)))
        .filter(|(s, _)| !s.is_empty())
        .with_context(|| {
            format!(
                "{}: cannot tell sequence and QP from the name (expected <sequence>_qp<QP>.log)",
                path.display()
            )
        })?;
    let log =
        bdrate::read_encoder_log(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(RdSample::from_summary(sequence, None, qp, &log.summary))
}

/// The comparison as a Markdown table.
fn table(c: &Comparison) -> String {
    let mut s = format!(
        "BD-rate ({}; negative = bit saving at equal PSNR)\n\n| sequence | class | Y | U | V | YUV (6:1:1) |\n|---|---|---|---|---|---|\n",
        c.method
    );
    for q in &c.sequences {
        let warn = if q.small_overlap.is_empty() {
            String::new()
        } else {
            format!(" (small PSNR overlap: {:?})", q.small_overlap)
        };
        s.push_str(&format!(
            "| {}{warn} | {} | {:+.2} % | {:+.2} % | {:+.2} % | {:+.2} % |\n",
            q.sequence,
            q.class.as_deref().unwrap_or("-"),
            q.y,
            q.u,
            q.v,
            q.yuv
        ));
    }
    for a in c.classes.iter().chain([&c.overall]) {
        s.push_str(&format!(
            "| **{}** ({} seq.) | | {:+.2} % | {:+.2} % | {:+.2} % | {:+.2} % |\n",
            a.name, a.sequences, a.y, a.u, a.v, a.yuv
        ));
    }
    s
}
