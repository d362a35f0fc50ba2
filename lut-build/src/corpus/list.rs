//! Benchmark lists: RD points given as files instead of the corpus tables.
//!
//! A list is a TSV file with a header row. Each data row is one RD point (one sequence coded at
//! one QP in one configuration):
//!
//! | column | required | meaning |
//! |---|---|---|
//! | `sequence` | yes | sequence name (rows with the same name and config form one RD curve) |
//! | `config` | yes | coding configuration label, e.g. `ai`, `ra`, `lb` |
//! | `qp` | yes | nominal QP (used for tables and the BD-rate QP selection) |
//! | `original` | yes | the original, a 4:2:0 Y4M file (8 or 10 bit) |
//! | `reconstruction` | yes | a VVC bitstream (decoded with vvdec, cached), a Y4M file, or a raw 4:2:0 `.yuv` file (size from the original; see `yuv_bit_depth`) |
//! | `class` | no | JVET class (A1, B, ...) for class averages |
//! | `kbps` | no | the rate; otherwise computed from `bitstream` |
//! | `bitstream` | no | the bitstream whose size gives the rate (default: `reconstruction` when it is one) |
//! | `fps` | no | frame rate for the rate (default: the original's Y4M header) |
//! | `log` | no | encoder log (VTM / VVenC picture lines) giving each picture's slice QP; without it every picture uses `qp` to select the model |
//! | `yuv_bit_depth` | no | 8 or 10 (default 10, VTM's output at internal bit depth) for `.yuv` reconstructions |
//!
//! Relative paths are relative to the list file's folder. Empty optional fields mean "absent".
//!
//! [`scan_folder`] builds the same list from a folder of `<config>/<sequence>_qp<QP>.<ext>`
//! files and an `orig/` folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::error::{CorpusError, Result};
use super::picture::Picture10;
use super::tables::Tsv;
use super::{Cache, CacheKey, FramePair, Lookup, attach_slice_qps, decode_bytes, read_y4m};

/// One row of a benchmark list.
#[derive(Clone, Debug, PartialEq)]
pub struct ListEntry {
    /// Sequence name.
    pub sequence: String,
    /// JVET class, if given.
    pub class: Option<String>,
    /// Configuration label.
    pub config: String,
    /// Nominal QP.
    pub qp: u32,
    /// Original Y4M.
    pub original: PathBuf,
    /// Reconstruction (bitstream, Y4M or raw YUV).
    pub reconstruction: PathBuf,
    /// Rate given in the list.
    pub kbps: Option<f64>,
    /// Bitstream whose size gives the rate.
    pub bitstream: Option<PathBuf>,
    /// Frame rate given in the list.
    pub fps: Option<f64>,
    /// Encoder log with the slice QPs.
    pub log: Option<PathBuf>,
    /// Bit depth of a raw `.yuv` reconstruction.
    pub yuv_bit_depth: u32,
}

/// What a reconstruction file is, by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconKind {
    /// `.y4m`.
    Y4m,
    /// `.yuv` (raw planar 4:2:0).
    Yuv,
    /// Anything else: a VVC bitstream.
    Bitstream,
}

impl ReconKind {
    /// The kind of `path`.
    pub fn of(path: &Path) -> Self {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("y4m") => Self::Y4m,
            Some("yuv") => Self::Yuv,
            _ => Self::Bitstream,
        }
    }
}

/// Reads a benchmark list.
pub fn read_list(path: &Path) -> Result<Vec<ListEntry>> {
    let text = std::fs::read_to_string(path).map_err(|e| CorpusError::io(path, e))?;
    parse_list(path, &text)
}

/// Parses a benchmark list (`path` gives the folder for relative paths and the messages).
pub fn parse_list(path: &Path, text: &str) -> Result<Vec<ListEntry>> {
    let tsv = Tsv::parse(
        path,
        text,
        &["sequence", "config", "qp", "original", "reconstruction"],
    )?;
    let base = path.parent().unwrap_or(Path::new("."));
    let opt = |row: &[&str], col: &str| -> Option<String> {
        tsv.columns
            .get(col)
            .map(|&i| row[i])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let file = |s: &str| base.join(s);
    let mut out = Vec::new();
    for (line, row) in &tsv.rows {
        let (line, row) = (*line, row.as_slice());
        let num = |col: &str| -> Result<Option<f64>> {
            opt(row, col)
                .map(|s| {
                    s.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite() && *v > 0.0)
                        .ok_or_else(|| {
                            tsv.err(
                                line,
                                format!("column {col}: {s:?} is not a positive number"),
                            )
                        })
                })
                .transpose()
        };
        let yuv_bit_depth = match opt(row, "yuv_bit_depth").as_deref() {
            None | Some("10") => 10,
            Some("8") => 8,
            Some(s) => return Err(tsv.err(line, format!("column yuv_bit_depth: {s:?} (8 or 10)"))),
        };
        let entry = ListEntry {
            sequence: tsv.get(row, "sequence").to_owned(),
            class: opt(row, "class"),
            config: tsv.get(row, "config").to_owned(),
            qp: tsv.parse_field(line, row, "qp")?,
            original: file(tsv.get(row, "original")),
            reconstruction: file(tsv.get(row, "reconstruction")),
            kbps: num("kbps")?,
            bitstream: opt(row, "bitstream").map(|s| file(&s)),
            fps: num("fps")?,
            log: opt(row, "log").map(|s| file(&s)),
            yuv_bit_depth,
        };
        if entry.sequence.is_empty() || entry.config.is_empty() {
            return Err(tsv.err(line, "empty sequence or config".into()));
        }
        if entry.kbps.is_none()
            && entry.bitstream.is_none()
            && ReconKind::of(&entry.reconstruction) != ReconKind::Bitstream
        {
            return Err(tsv.err(
                line,
                "no rate: give a kbps or a bitstream column (the reconstruction is not a bitstream)"
                    .into(),
            ));
        }
        if out.iter().any(|e: &ListEntry| {
            e.sequence == entry.sequence && e.config == entry.config && e.qp == entry.qp
        }) {
            return Err(tsv.err(
                line,
                format!(
                    "{} {} qp{} listed twice",
                    entry.sequence, entry.config, entry.qp
                ),
            ));
        }
        out.push(entry);
    }
    if out.is_empty() {
        return Err(tsv.err(1, "no data rows".into()));
    }
    Ok(out)
}

/// Extensions read as reconstructions in a scanned folder (bitstreams, Y4M, raw YUV).
const SCANNED_EXTENSIONS: [&str; 5] = ["266", "vvc", "bin", "y4m", "yuv"];

/// Builds a benchmark list from a folder laid out as `DIR/<config>/<sequence>_qp<QP>.<ext>`
/// (`ext`: 266, vvc or bin for bitstreams, y4m, yuv), with originals in `DIR/orig/<sequence>.y4m`
/// (or `DIR/../orig/`, the corpus layout) and, when present, the encoder log beside each
/// reconstruction (`<sequence>_qp<QP>.log`). Rates of Y4M/YUV reconstructions need a bitstream
/// of the same stem beside them. Sorted by config, sequence, QP.
pub fn scan_folder(dir: &Path) -> Result<Vec<ListEntry>> {
    let orig_dir = [dir.join("orig"), dir.join("..").join("orig")]
        .into_iter()
        .find(|d| d.is_dir())
        .ok_or_else(|| CorpusError::Table {
            path: dir.to_owned(),
            line: 0,
            msg: "no orig/ folder here or beside it for the originals".into(),
        })?;
    let read_dir = |d: &Path| -> Result<Vec<PathBuf>> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map_err(|e| CorpusError::io(d, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        v.sort();
        Ok(v)
    };
    let mut out: Vec<ListEntry> = Vec::new();
    for config_dir in read_dir(dir)?.into_iter().filter(|d| d.is_dir()) {
        let Some(config) = config_dir.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if config == "orig" {
            continue;
        }
        for file in read_dir(&config_dir)? {
            let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !SCANNED_EXTENSIONS.contains(&ext) {
                continue;
            }
            let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let Some((sequence, qp)) = stem
                .rsplit_once("_qp")
                .and_then(|(s, q)| Some((s, q.parse::<u32>().ok()?)))
            else {
                continue;
            };
            let original = orig_dir.join(format!("{sequence}.y4m"));
            if !original.is_file() {
                return Err(CorpusError::Table {
                    path: file.clone(),
                    line: 0,
                    msg: format!("no original {}", original.display()),
                });
            }
            let beside = |e: &str| Some(file.with_extension(e)).filter(|p| p.is_file());
            let kind = ReconKind::of(&file);
            let bitstream = match kind {
                ReconKind::Bitstream => None,
                _ => ["266", "vvc", "bin"].iter().find_map(|e| beside(e)),
            };
            if kind != ReconKind::Bitstream && bitstream.is_none() {
                return Err(CorpusError::Table {
                    path: file.clone(),
                    line: 0,
                    msg: "a Y4M/YUV reconstruction needs its bitstream beside it for the rate"
                        .into(),
                });
            }
            if out
                .iter()
                .any(|e| e.sequence == sequence && e.config == config && e.qp == qp)
            {
                // A bitstream and its exported reconstruction: keep the first (sorted) one.
                continue;
            }
            out.push(ListEntry {
                sequence: sequence.to_owned(),
                class: None,
                config: config.to_owned(),
                qp,
                original,
                reconstruction: file.clone(),
                kbps: None,
                bitstream,
                fps: None,
                log: beside("log"),
                yuv_bit_depth: 10,
            });
        }
    }
    if out.is_empty() {
        return Err(CorpusError::Table {
            path: dir.to_owned(),
            line: 0,
            msg: "no <config>/<sequence>_qp<QP>.<266|vvc|bin|y4m|yuv> file found".into(),
        });
    }
    out.sort_by(|a, b| (&a.config, &a.sequence, a.qp).cmp(&(&b.config, &b.sequence, b.qp)));
    Ok(out)
}

/// Frame rate of a Y4M file (from its header).
pub fn y4m_fps(path: &Path) -> Result<f64> {
    let file = std::fs::File::open(path).map_err(|e| CorpusError::io(path, e))?;
    let dec =
        y4m::Decoder::new(std::io::BufReader::new(file)).map_err(|source| CorpusError::Y4m {
            path: path.to_owned(),
            source,
        })?;
    let r = dec.get_framerate();
    if r.num == 0 || r.den == 0 {
        return Err(CorpusError::Y4mFormat {
            path: path.to_owned(),
            msg: format!("frame rate {}:{}", r.num, r.den),
        });
    }
    Ok(r.num as f64 / r.den as f64)
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads a raw planar 4:2:0 file of `width` x `height` pictures (8-bit samples are shifted left
/// by 2, 10-bit ones are 16-bit little-endian).
pub fn read_yuv420(
    path: &Path,
    width: usize,
    height: usize,
    bit_depth: u32,
) -> Result<Vec<Picture10>> {
    let data = std::fs::read(path).map_err(|e| CorpusError::io(path, e))?;
    let bytes = if bit_depth > 8 { 2 } else { 1 };
    let frame_samples = Picture10::zeroed(width, height).samples();
    let frame_bytes = frame_samples * bytes;
    let bad = |msg: String| CorpusError::Y4mFormat {
        path: path.to_owned(),
        msg,
    };
    if frame_bytes == 0 || data.is_empty() || !data.len().is_multiple_of(frame_bytes) {
        return Err(bad(format!(
            "{} bytes is not a whole number of {width}x{height} 4:2:0 {bit_depth}-bit frames \
             ({frame_bytes} bytes each)",
            data.len()
        )));
    }
    let mut pics = Vec::with_capacity(data.len() / frame_bytes);
    for (i, frame) in data.chunks_exact(frame_bytes).enumerate() {
        let mut pic = Picture10::zeroed(width, height);
        let mut off = 0;
        for c in 0..3 {
            let dst = pic.plane_mut(c);
            let src = &frame[off..off + dst.len() * bytes];
            off += dst.len() * bytes;
            if bytes == 1 {
                for (d, &v) in dst.iter_mut().zip(src) {
                    *d = u16::from(v) << 2;
                }
            } else {
                for (d, v) in dst.iter_mut().zip(src.chunks_exact(2)) {
                    *d = u16::from_le_bytes([v[0], v[1]]);
                }
                if let Some(v) = dst.iter().find(|&&v| v > 1023) {
                    return Err(bad(format!("frame {i}: 10-bit sample value {v} > 1023")));
                }
            }
        }
        pics.push(pic);
    }
    Ok(pics)
}

impl ListEntry {
    /// A short label, e.g. `foreman ai qp32`.
    pub fn label(&self) -> String {
        format!("{} {} qp{}", self.sequence, self.config, self.qp)
    }

    /// The rate in kbps: the `kbps` column, else the bitstream's size over the sequence's
    /// duration (`frames` at `fps`, or at the original's frame rate).
    pub fn kbps(&self, frames: usize) -> Result<f64> {
        if let Some(k) = self.kbps {
            return Ok(k);
        }
        let bits = self.bitstream.as_ref().unwrap_or(&self.reconstruction);
        let bytes = std::fs::metadata(bits)
            .map_err(|e| CorpusError::io(bits, e))?
            .len();
        let fps = match self.fps {
            Some(f) => f,
            None => y4m_fps(&self.original)?,
        };
        Ok(bytes as f64 * 8.0 / 1000.0 / (frames.max(1) as f64 / fps))
    }

    /// The reconstruction's pictures (decoded bitstreams go through `cache`), with slice QPs
    /// from the log when one is given, checked against the original's size.
    pub fn reconstruction(
        &self,
        width: usize,
        height: usize,
        frames_hint: usize,
        cache: &Cache,
    ) -> Result<Vec<Picture10>> {
        let path = &self.reconstruction;
        let mut pics = match ReconKind::of(path) {
            ReconKind::Y4m => read_y4m(path)?,
            ReconKind::Yuv => read_yuv420(path, width, height, self.yuv_bit_depth)?,
            ReconKind::Bitstream => {
                let data = std::fs::read(path).map_err(|e| CorpusError::io(path, e))?;
                let sha = sha256_hex(&data);
                // The cache file's size depends on the picture count: probe with the
                // original's frame count (the usual case) before decoding.
                let key = |frames| CacheKey {
                    sha256: &sha,
                    width,
                    height,
                    frames,
                };
                match cache.load(&key(frames_hint))? {
                    Lookup::Hit(p) => p,
                    Lookup::Missing | Lookup::Invalid(_) => {
                        let decoded = decode_bytes(&data, 1, path)?;
                        if decoded
                            .iter()
                            .all(|p| (p.width, p.height) == (width, height))
                        {
                            cache.store(&key(decoded.len()), &decoded)?;
                        }
                        decoded
                    }
                }
            }
        };
        if let Some(p) = pics.iter().find(|p| (p.width, p.height) != (width, height)) {
            return Err(CorpusError::Mismatch {
                what: self.label(),
                msg: format!(
                    "{}: {}x{} pictures, the original is {width}x{height}",
                    path.display(),
                    p.width,
                    p.height
                ),
            });
        }
        if let Some(log) = &self.log {
            let lines = super::read_encoder_log(log)?;
            attach_slice_qps(&mut pics, &lines, log)?;
        }
        Ok(pics)
    }

    /// Pairs the reconstruction with the original frames (picture `i` with frame `i`; a
    /// reconstruction may hold fewer frames than the original, as VTM's `-f` allows).
    pub fn frames(&self, original: &[Arc<Picture10>], cache: &Cache) -> Result<Vec<FramePair>> {
        let Some(first) = original.first() else {
            return Err(CorpusError::Mismatch {
                what: self.label(),
                msg: format!("{}: no frames", self.original.display()),
            });
        };
        let recon = self.reconstruction(first.width, first.height, original.len(), cache)?;
        if recon.is_empty() || recon.len() > original.len() {
            return Err(CorpusError::Mismatch {
                what: self.label(),
                msg: format!(
                    "{} reconstructed pictures for {} original frames",
                    recon.len(),
                    original.len()
                ),
            });
        }
        Ok(recon
            .into_iter()
            .zip(original)
            .enumerate()
            .map(|(index, (reconstruction, o))| FramePair {
                index,
                original: Arc::clone(o),
                slice_qp: reconstruction.slice_qp.unwrap_or(self.qp as i32),
                kind: reconstruction.kind,
                reconstruction,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_columns_defaults_and_relative_paths() {
        let text = "sequence\tconfig\tqp\toriginal\treconstruction\tkbps\tclass\n\
                    a\tai\t22\to/a.y4m\tr/a22.y4m\t100.5\tB\n\
                    a\tai\t27\to/a.y4m\tr/a27.266\t\t\n";
        let l = parse_list(Path::new("/x/list.tsv"), text).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].original, Path::new("/x/o/a.y4m"));
        assert_eq!(l[0].kbps, Some(100.5));
        assert_eq!(l[0].class.as_deref(), Some("B"));
        assert_eq!(l[1].kbps, None);
        assert_eq!(l[1].class, None);
        assert_eq!(l[1].yuv_bit_depth, 10);
        assert_eq!(ReconKind::of(&l[1].reconstruction), ReconKind::Bitstream);
    }

    #[test]
    fn rejects_bad_lists() {
        let head = "sequence\tconfig\tqp\toriginal\treconstruction\n";
        let p = Path::new("l.tsv");
        // No rate for a Y4M reconstruction.
        let e = parse_list(p, &format!("{head}a\tai\t22\to.y4m\tr.y4m\n")).unwrap_err();
        assert!(e.to_string().contains("no rate"), "{e}");
        // Duplicate point.
        let e = parse_list(
            p,
            &format!("{head}a\tai\t22\to.y4m\tr.266\na\tai\t22\to.y4m\ts.266\n"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
        // Missing column, bad QP, empty.
        assert!(parse_list(p, "sequence\tconfig\tqp\toriginal\n").is_err());
        assert!(parse_list(p, &format!("{head}a\tai\tx\to.y4m\tr.266\n")).is_err());
        assert!(parse_list(p, head).is_err());
    }

    #[test]
    fn raw_yuv_8_and_10_bit() {
        let dir = tempfile::tempdir().unwrap();
        let p8 = dir.path().join("a.yuv");
        std::fs::write(&p8, (0..24u8).collect::<Vec<_>>()).unwrap();
        let pics = read_yuv420(&p8, 4, 2, 8).unwrap();
        assert_eq!(pics.len(), 2);
        assert_eq!(pics[1].y[..2], [48, 52]);
        assert!(read_yuv420(&p8, 4, 2, 10).is_err()); // one 10-bit frame, values > 1023
        assert!(read_yuv420(&p8, 4, 4, 10).is_err());
        let p10 = dir.path().join("b.yuv");
        let s: Vec<u8> = [1000u16; 6].iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&p10, &s).unwrap();
        assert_eq!(read_yuv420(&p10, 2, 2, 10).unwrap()[0].u, [1000]);
    }
}
