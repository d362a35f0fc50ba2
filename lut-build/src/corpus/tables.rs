//! `manifest.tsv` and `vvc/encodes.tsv`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::error::{CorpusError, Result};

/// Train / validation split (whole clips).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    /// Training clips.
    Train,
    /// Validation clips.
    Val,
}

/// Coding configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Config {
    /// All intra.
    Ai,
    /// Random access.
    Ra,
}

impl Split {
    /// Both splits.
    pub const ALL: [Split; 2] = [Split::Train, Split::Val];

    /// The name used in the tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
        }
    }
}

impl Config {
    /// Both configurations.
    pub const ALL: [Config; 2] = [Config::Ai, Config::Ra];

    /// The name used in the tables and directory names.
    pub fn as_str(self) -> &'static str {
        match self {
            Config::Ai => "ai",
            Config::Ra => "ra",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "train" => Ok(Split::Train),
            "val" => Ok(Split::Val),
            _ => Err(format!("unknown split {s:?} (train, val)")),
        }
    }
}

impl FromStr for Config {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ai" => Ok(Config::Ai),
            "ra" => Ok(Config::Ra),
            _ => Err(format!("unknown config {s:?} (ai, ra)")),
        }
    }
}

/// One row of `manifest.tsv`: an original clip.
#[derive(Clone, Debug, PartialEq)]
pub struct Clip {
    /// Clip name (`orig/<name>.y4m`).
    pub name: String,
    /// Split.
    pub split: Split,
    /// Luma width.
    pub width: usize,
    /// Luma height.
    pub height: usize,
    /// Bit depth of the original (8 or 10).
    pub bit_depth: u32,
    /// Number of frames.
    pub frames: usize,
    /// Frame rate.
    pub fps: f64,
    /// Where it comes from.
    pub source: String,
    /// Licence.
    pub licence: String,
    /// SHA-256 of the Y4M file (hex).
    pub sha256: String,
}

/// One row of `vvc/encodes.tsv`: a bitstream.
#[derive(Clone, Debug, PartialEq)]
pub struct Encode {
    /// Clip name.
    pub name: String,
    /// Split.
    pub split: Split,
    /// Configuration.
    pub config: Config,
    /// Nominal QP (the encoder's `QP` parameter, in the file name).
    pub qp: u32,
    /// VVenC preset.
    pub preset: String,
    /// Number of frames.
    pub frames: usize,
    /// Bitstream size in bytes.
    pub bytes: u64,
    /// Bitrate in kbps (from the log).
    pub kbps: f64,
    /// Sequence PSNR Y, Cb, Cr from the encoder log (10 bit, peak 1020, mean of per-frame PSNRs).
    pub psnr: [f64; 3],
    /// Smallest and largest slice QP in the log.
    pub slice_qp_range: (i32, i32),
    /// Absolute path of the bitstream (`<data>/vvc/<config>/<name>_qp<qp>.266`).
    pub bitstream: PathBuf,
    /// SHA-256 of the bitstream (hex): the cache key.
    pub sha256: String,
}

impl Encode {
    /// The encoder log beside the bitstream (`.266` replaced by `.log`).
    pub fn log_path(&self) -> PathBuf {
        self.bitstream.with_extension("log")
    }

    /// A short label, e.g. `foreman ai qp32`.
    pub fn label(&self) -> String {
        format!("{} {} qp{}", self.name, self.config, self.qp)
    }
}

/// A parsed TSV file: header column positions and data rows.
pub(crate) struct Tsv<'a> {
    path: &'a Path,
    pub(crate) columns: HashMap<&'a str, usize>,
    pub(crate) rows: Vec<(usize, Vec<&'a str>)>,
}

impl<'a> Tsv<'a> {
    pub(crate) fn parse(path: &'a Path, text: &'a str, required: &[&str]) -> Result<Self> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((_, header)) = lines.next() else {
            return Err(CorpusError::Table {
                path: path.to_owned(),
                line: 1,
                msg: "empty file (no header)".into(),
            });
        };
        let names: Vec<&str> = header.split('\t').map(str::trim).collect();
        let columns: HashMap<&str, usize> =
            names.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        for r in required {
            if !columns.contains_key(r) {
                return Err(CorpusError::Table {
                    path: path.to_owned(),
                    line: 1,
                    msg: format!("missing column {r:?} (header: {header:?})"),
                });
            }
        }
        let mut rows = Vec::new();
        for (line, l) in lines {
            let fields: Vec<&str> = l.split('\t').map(str::trim).collect();
            if fields.len() != names.len() {
                return Err(CorpusError::Table {
                    path: path.to_owned(),
                    line,
                    msg: format!("{} fields, the header has {}", fields.len(), names.len()),
                });
            }
            rows.push((line, fields));
        }
        Ok(Self {
            path,
            columns,
            rows,
        })
    }

    pub(crate) fn err(&self, line: usize, msg: String) -> CorpusError {
        CorpusError::Table {
            path: self.path.to_owned(),
            line,
            msg,
        }
    }

    pub(crate) fn get<'r>(&self, row: &'r [&'a str], col: &str) -> &'a str {
        row[self.columns[col]]
    }

    pub(crate) fn parse_field<T: FromStr>(
        &self,
        line: usize,
        row: &[&'a str],
        col: &str,
    ) -> Result<T>
    where
        T::Err: fmt::Display,
    {
        let s = self.get(row, col);
        s.parse()
            .map_err(|e| self.err(line, format!("column {col}: {s:?}: {e}")))
    }
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| CorpusError::io(path, e))
}

fn check_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Parses `manifest.tsv`.
pub fn read_manifest(path: &Path) -> Result<Vec<Clip>> {
    let text = read_text(path)?;
    parse_manifest(path, &text)
}

/// Parses the text of `manifest.tsv` (`path` is for messages).
pub fn parse_manifest(path: &Path, text: &str) -> Result<Vec<Clip>> {
    const COLS: [&str; 7] = [
        "name",
        "split",
        "width",
        "height",
        "bit_depth",
        "frames",
        "fps",
    ];
    let t = Tsv::parse(path, text, &COLS)?;
    let opt = |row: &[&str], col: &str| {
        t.columns
            .get(col)
            .map(|&i| row[i].to_owned())
            .unwrap_or_default()
    };
    let mut clips: Vec<Clip> = Vec::with_capacity(t.rows.len());
    for (line, row) in &t.rows {
        let line = *line;
        let clip = Clip {
            name: t.get(row, "name").to_owned(),
            split: t.parse_field(line, row, "split")?,
            width: t.parse_field(line, row, "width")?,
            height: t.parse_field(line, row, "height")?,
            bit_depth: t.parse_field(line, row, "bit_depth")?,
            frames: t.parse_field(line, row, "frames")?,
            fps: t.parse_field(line, row, "fps")?,
            source: opt(row, "source"),
            licence: opt(row, "licence"),
            sha256: opt(row, "sha256"),
        };
        if clip.name.is_empty() {
            return Err(t.err(line, "empty name".into()));
        }
        if clip.width == 0
            || clip.height == 0
            || !clip.width.is_multiple_of(2)
            || !clip.height.is_multiple_of(2)
        {
            return Err(t.err(
                line,
                format!(
                    "bad size {}x{} (4:2:0 needs even sizes)",
                    clip.width, clip.height
                ),
            ));
        }
        if !matches!(clip.bit_depth, 8 | 10) {
            return Err(t.err(line, format!("bit depth {} (8 or 10)", clip.bit_depth)));
        }
        if clip.frames == 0 {
            return Err(t.err(line, "zero frames".into()));
        }
        if clips.iter().any(|c| c.name == clip.name) {
            return Err(t.err(line, format!("duplicate clip {:?}", clip.name)));
        }
        clips.push(clip);
    }
    Ok(clips)
}

/// Parses `vvc/encodes.tsv`; bitstream paths are made absolute under `vvc_dir`.
pub fn read_encodes(path: &Path, vvc_dir: &Path) -> Result<Vec<Encode>> {
    let text = read_text(path)?;
    parse_encodes(path, &text, vvc_dir)
}

/// Parses the text of `vvc/encodes.tsv` (`path` is for messages).
pub fn parse_encodes(path: &Path, text: &str, vvc_dir: &Path) -> Result<Vec<Encode>> {
    const COLS: [&str; 14] = [
        "name",
        "split",
        "config",
        "qp",
        "preset",
        "frames",
        "bytes",
        "kbps",
        "psnr_y",
        "psnr_u",
        "psnr_v",
        "slice_qp_range",
        "bitstream",
        "sha256",
    ];
    let t = Tsv::parse(path, text, &COLS)?;
    let mut encodes: Vec<Encode> = Vec::with_capacity(t.rows.len());
    for (line, row) in &t.rows {
        let line = *line;
        let range = t.get(row, "slice_qp_range");
        let slice_qp_range = range
            .split_once('-')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .filter(|(a, b)| a <= b)
            .ok_or_else(|| t.err(line, format!("slice_qp_range {range:?} is not MIN-MAX")))?;
        let rel = t.get(row, "bitstream");
        if rel.is_empty() || Path::new(rel).is_absolute() {
            return Err(t.err(line, format!("bitstream path {rel:?} must be relative")));
        }
        let sha256 = t.get(row, "sha256").to_ascii_lowercase();
        if !check_sha256(&sha256) {
            return Err(t.err(line, format!("sha256 {sha256:?} is not 64 hex digits")));
        }
        let e = Encode {
            name: t.get(row, "name").to_owned(),
            split: t.parse_field(line, row, "split")?,
            config: t.parse_field(line, row, "config")?,
            qp: t.parse_field(line, row, "qp")?,
            preset: t.get(row, "preset").to_owned(),
            frames: t.parse_field(line, row, "frames")?,
            bytes: t.parse_field(line, row, "bytes")?,
            kbps: t.parse_field(line, row, "kbps")?,
            psnr: [
                t.parse_field(line, row, "psnr_y")?,
                t.parse_field(line, row, "psnr_u")?,
                t.parse_field(line, row, "psnr_v")?,
            ],
            slice_qp_range,
            bitstream: vvc_dir.join(rel),
            sha256,
        };
        if e.frames == 0 {
            return Err(t.err(line, "zero frames".into()));
        }
        if encodes
            .iter()
            .any(|o| o.name == e.name && o.config == e.config && o.qp == e.qp)
        {
            return Err(t.err(line, format!("duplicate encode {}", e.label())));
        }
        encodes.push(e);
    }
    Ok(encodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let p = Path::new("encodes.tsv");
        let head = "name\tsplit\tconfig\tqp\tpreset\tframes\tbytes\tkbps\tpsnr_y\tpsnr_u\tpsnr_v\tslice_qp_range\tbitstream\tsha256\n";
        let sha = "ab".repeat(32);
        let ok = format!(
            "{head}x\tval\tra\t37\tmedium\t10\t100\t1.5\t30.1\t40.2\t41.3\t32-47\tra/x_qp37.266\t{sha}\n"
        );
        let e = parse_encodes(p, &ok, Path::new("/d/vvc")).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].config, Config::Ra);
        assert_eq!(e[0].slice_qp_range, (32, 47));
        assert_eq!(e[0].bitstream, Path::new("/d/vvc/ra/x_qp37.266"));
        assert_eq!(e[0].log_path(), Path::new("/d/vvc/ra/x_qp37.log"));
        let bad = ok.replace("32-47", "47");
        let err = parse_encodes(p, &bad, Path::new("/d")).unwrap_err();
        assert!(err.to_string().contains("encodes.tsv:2:"), "{err}");
        let bad = ok.replace("\tra\t", "\tld\t");
        assert!(parse_encodes(p, &bad, Path::new("/d")).is_err());
        let bad = ok.replace("sha256", "hash");
        assert!(
            parse_encodes(p, &bad, Path::new("/d"))
                .unwrap_err()
                .to_string()
                .contains("missing column")
        );
        assert!(parse_encodes(p, "", Path::new("/d")).is_err());
    }
}
