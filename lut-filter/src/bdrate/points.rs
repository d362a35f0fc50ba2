//! Rate-distortion samples of encoded sequences, and the CSV format that stores them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::logs::LogSummary;

/// Why an RD input (CSV or encoder log) could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The CSV has no header line.
    #[error("CSV has no header line")]
    MissingHeader,
    /// A required CSV column is absent from the header.
    #[error("CSV header lacks the column '{0}' (need sequence,qp,kbps,psnr_y,psnr_u,psnr_v)")]
    MissingColumn(&'static str),
    /// A line could not be parsed.
    #[error("line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// An encoder log has no `Total Frames | Bitrate ...` summary with an `a` (all frames) row.
    #[error("no 'Total Frames | Bitrate Y-PSNR U-PSNR V-PSNR' summary found in the log")]
    NoSummary,
}

impl ParseError {
    /// A [`ParseError::Line`] from a 0-based line index.
    pub(crate) fn line(index: usize, reason: impl Into<String>) -> Self {
        ParseError::Line {
            line: index + 1,
            reason: reason.into(),
        }
    }
}

/// One encoding of one sequence at one QP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RdSample {
    /// Sequence name.
    pub sequence: String,
    /// Sequence class (e.g. `"B"`), used for class averages; `None` when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// The QP the sequence was encoded with.
    pub qp: i32,
    /// Bitrate in kbps.
    pub kbps: f64,
    /// Luma PSNR in dB.
    pub psnr_y: f64,
    /// Cb PSNR in dB.
    pub psnr_u: f64,
    /// Cr PSNR in dB.
    pub psnr_v: f64,
}

impl RdSample {
    /// A sample from an encoder log's summary (its `YUV-PSNR` is not used, see
    /// [`RdSample::psnr_yuv`]).
    pub fn from_summary(
        sequence: impl Into<String>,
        class: Option<String>,
        qp: i32,
        summary: &LogSummary,
    ) -> Self {
        Self {
            sequence: sequence.into(),
            class,
            qp,
            kbps: summary.kbps,
            psnr_y: summary.psnr_y,
            psnr_u: summary.psnr_u,
            psnr_v: summary.psnr_v,
        }
    }

    /// The JVET combined PSNR `(6 Y + U + V) / 8` (DESIGN §4; not VTM's `YUV-PSNR`).
    pub fn psnr_yuv(&self) -> f64 {
        (6.0 * self.psnr_y + self.psnr_u + self.psnr_v) / 8.0
    }
}

/// Parses RD points from CSV text.
///
/// # CSV format
///
/// ```text
/// # anything after '#' at the start of a line is a comment; blank lines are skipped
/// sequence,qp,kbps,psnr_y,psnr_u,psnr_v
/// BasketballDrill,22,5234.1,40.12,44.3,44.9
/// BasketballDrill,27,2480.6,37.80,42.1,42.7
/// ```
///
/// * The first non-comment line is the header. Columns are found by name (case-insensitive,
///   surrounding spaces trimmed), in any order; `sequence`, `qp`, `kbps`, `psnr_y`, `psnr_u`
///   and `psnr_v` are required, an optional `class` column (e.g. `B`, `C`) feeds the class
///   averages of [`compare`](super::compare()), and any other column is ignored.
/// * Fields are separated by commas and trimmed; there is no quoting (names must not contain
///   commas). Numbers are decimal (`qp` an integer).
/// * PSNR in dB as the encoder reports it (DESIGN §4), rate in kbps.
pub fn parse_points_csv(text: &str) -> Result<Vec<RdSample>, ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let (_, header) = lines.next().ok_or(ParseError::MissingHeader)?;
    let names: Vec<String> = header
        .trim_start_matches('\u{feff}')
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &'static str| {
        names
            .iter()
            .position(|n| n == name)
            .ok_or(ParseError::MissingColumn(name))
    };
    let [seq, qp, kbps, y, u, v] = [
        col("sequence")?,
        col("qp")?,
        col("kbps")?,
        col("psnr_y")?,
        col("psnr_u")?,
        col("psnr_v")?,
    ];
    let class = names.iter().position(|n| n == "class");
    let mut out = Vec::new();
    for (index, line) in lines {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() < names.len() {
            return Err(ParseError::line(
                index,
                format!("{} fields, the header has {}", fields.len(), names.len()),
            ));
        }
        let number = |c: usize, what: &str| -> Result<f64, ParseError> {
            fields[c]
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    ParseError::line(
                        index,
                        format!("{what} '{}' is not a finite number", fields[c]),
                    )
                })
        };
        if fields[seq].is_empty() {
            return Err(ParseError::line(index, "empty sequence name"));
        }
        out.push(RdSample {
            sequence: fields[seq].to_owned(),
            class: class
                .map(|c| fields[c].to_owned())
                .filter(|c| !c.is_empty()),
            qp: fields[qp].parse().map_err(|_| {
                ParseError::line(index, format!("qp '{}' is not an integer", fields[qp]))
            })?,
            kbps: number(kbps, "kbps")?,
            psnr_y: number(y, "psnr_y")?,
            psnr_u: number(u, "psnr_u")?,
            psnr_v: number(v, "psnr_v")?,
        });
    }
    Ok(out)
}

/// Reads and parses a CSV file of points (see [`parse_points_csv`]).
pub fn read_points_csv(path: impl AsRef<Path>) -> Result<Vec<RdSample>, ParseError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| ParseError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_points_csv(&text)
}

/// Writes samples in the CSV format of [`parse_points_csv`] (with a `class` column when any
/// sample has a class). The QP comes first, so no data line can start with `#` (a comment).
pub fn write_points_csv(samples: &[RdSample]) -> String {
    let with_class = samples.iter().any(|s| s.class.is_some());
    let mut out = String::from("qp,sequence,");
    if with_class {
        out.push_str("class,");
    }
    out.push_str("kbps,psnr_y,psnr_u,psnr_v\n");
    for s in samples {
        out.push_str(&format!("{},{},", s.qp, s.sequence));
        if with_class {
            out.push_str(s.class.as_deref().unwrap_or(""));
            out.push(',');
        }
        out.push_str(&format!(
            "{},{},{},{}\n",
            s.kbps, s.psnr_y, s.psnr_u, s.psnr_v
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_reordered_columns_comments_and_extras() {
        let text = "# made by hand\n\nqp, Sequence ,kbps,psnr_y,psnr_u,psnr_v,encoder_time,class\n\
                    22,Foo,1000.5,40.1,44,45.5,12.0,C\n  # mid comment\n27,Foo,500,38,42,43,9,\n";
        let s = parse_points_csv(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].sequence, "Foo");
        assert_eq!(s[0].class.as_deref(), Some("C"));
        assert_eq!(s[1].class, None);
        assert_eq!((s[0].qp, s[0].kbps, s[0].psnr_v), (22, 1000.5, 45.5));
        assert!((s[0].psnr_yuv() - (6.0 * 40.1 + 44.0 + 45.5) / 8.0).abs() < 1e-12);
        let back = parse_points_csv(&write_points_csv(&s)).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn reports_errors_with_line_numbers() {
        assert!(matches!(
            parse_points_csv("# only\n"),
            Err(ParseError::MissingHeader)
        ));
        assert!(matches!(
            parse_points_csv("sequence,qp,kbps,psnr_y,psnr_u\n"),
            Err(ParseError::MissingColumn("psnr_v"))
        ));
        let h = "sequence,qp,kbps,psnr_y,psnr_u,psnr_v\n";
        let e = parse_points_csv(&format!("{h}a,22,x,1,2,3\n")).unwrap_err();
        assert!(matches!(e, ParseError::Line { line: 2, .. }), "{e}");
        let e = parse_points_csv(&format!("{h}a,22.5,1,1,2,3\n")).unwrap_err();
        assert!(e.to_string().contains("qp"));
        let e = parse_points_csv(&format!("{h}a,22,1,1\n")).unwrap_err();
        assert!(e.to_string().contains("fields"));
        let e = parse_points_csv(&format!("{h}a,22,1,nan,2,3\n")).unwrap_err();
        assert!(e.to_string().contains("psnr_y"));
        let e = parse_points_csv(&format!("{h},22,1,1,2,3\n")).unwrap_err();
        assert!(e.to_string().contains("sequence"));
    }
}
