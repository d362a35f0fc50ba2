//! On-disk cache of decoded reconstructions, keyed by the bitstream's SHA-256.
//!
//! One file per bitstream, `<dir>/recon/<sha256>.yuv10`:
//!
//! | offset | size | content |
//! |---|---|---|
//! | 0 | 8 | magic `LUTREC10` |
//! | 8 | 4 | format version (1), u32 LE |
//! | 12 | 4 | luma width, u32 LE |
//! | 16 | 4 | luma height, u32 LE |
//! | 20 | 4 | frame count, u32 LE |
//! | 24 | 8 × frames | POC per picture in output order, i64 LE (`i64::MIN` = unknown) |
//! | … | 2 × samples | per picture Y, Cb, Cr planes, row-major, u16 LE |
//!
//! Slice QPs are not stored: they come from the encoder log every time (cheap, one source of
//! truth). A file whose size, header or sample range does not match what the tables promise is
//! treated as absent (and then overwritten). Files are written to a temporary file in the same
//! directory and renamed into place, so readers never see a partial file.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::error::{CorpusError, Result};
use super::picture::Picture10;

const MAGIC: &[u8; 8] = b"LUTREC10";
const VERSION: u32 = 1;
const HEADER: usize = 24;
const NO_POC: i64 = i64::MIN;

/// Environment variable overriding the default cache directory.
pub const CACHE_ENV: &str = "LUT_CACHE";

/// What the cache expects of one bitstream's reconstruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheKey<'a> {
    /// SHA-256 of the bitstream (hex, 64 digits).
    pub sha256: &'a str,
    /// Luma width.
    pub width: usize,
    /// Luma height.
    pub height: usize,
    /// Number of pictures.
    pub frames: usize,
}

impl CacheKey<'_> {
    fn frame_samples(&self) -> usize {
        self.width * self.height + 2 * self.width.div_ceil(2) * self.height.div_ceil(2)
    }

    /// Exact size of the cache file in bytes.
    pub fn file_size(&self) -> u64 {
        (HEADER + 8 * self.frames + 2 * self.frames * self.frame_samples()) as u64
    }
}

/// Why a cache file was not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The file was valid: here are the pictures.
    Hit(Vec<Picture10>),
    /// No file.
    Missing,
    /// A file was there but unusable (partial write, other content): the reason.
    Invalid(String),
}

/// The reconstruction cache (a directory).
#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `$LUT_CACHE` if set and non-empty, else `target/lut-cache` in this workspace
    /// (an ignored build-output directory, never committed).
    pub fn default_dir() -> PathBuf {
        match std::env::var_os(CACHE_ENV) {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => {
                let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
                crate_dir
                    .parent()
                    .unwrap_or(crate_dir)
                    .join("target")
                    .join("lut-cache")
            }
        }
    }

    /// A cache in [`Cache::default_dir`].
    pub fn from_env() -> Self {
        Self::new(Self::default_dir())
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds the reconstruction of the bitstream with this SHA-256.
    pub fn path_for(&self, sha256: &str) -> PathBuf {
        self.dir.join("recon").join(format!("{sha256}.yuv10"))
    }

    /// Loads a reconstruction if a valid file is there.
    ///
    /// # Errors
    /// Only for I/O errors other than "not found"; invalid content is [`Lookup::Invalid`].
    pub fn load(&self, key: &CacheKey<'_>) -> Result<Lookup> {
        let path = self.path_for(key.sha256);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lookup::Missing),
            Err(e) => return Err(CorpusError::io(&path, e)),
        };
        if meta.len() != key.file_size() {
            return Ok(Lookup::Invalid(format!(
                "{} bytes, expected {}",
                meta.len(),
                key.file_size()
            )));
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lookup::Missing),
            Err(e) => return Err(CorpusError::io(&path, e)),
        };
        Ok(match parse(&bytes, key) {
            Ok(p) => Lookup::Hit(p),
            Err(msg) => Lookup::Invalid(msg),
        })
    }

    /// Writes a reconstruction atomically (temporary file + rename).
    ///
    /// # Errors
    /// If the pictures do not match `key` or the file cannot be written.
    pub fn store(&self, key: &CacheKey<'_>, pictures: &[Picture10]) -> Result<PathBuf> {
        let path = self.path_for(key.sha256);
        let bad = |msg: String| CorpusError::Cache {
            path: path.clone(),
            msg,
        };
        if pictures.len() != key.frames {
            return Err(bad(format!(
                "{} pictures, expected {}",
                pictures.len(),
                key.frames
            )));
        }
        if let Some(p) = pictures
            .iter()
            .find(|p| (p.width, p.height) != (key.width, key.height) || !p.is_consistent())
        {
            return Err(bad(format!(
                "picture of {}x{}, expected {}x{}",
                p.width, p.height, key.width, key.height
            )));
        }
        let dir = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(dir).map_err(|e| CorpusError::io(dir, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .suffix(".yuv10")
            .tempfile_in(dir)
            .map_err(|e| CorpusError::io(dir, e))?;
        {
            let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
            let io = |e| CorpusError::io(tmp.path(), e);
            w.write_all(MAGIC).map_err(io)?;
            for v in [
                VERSION,
                key.width as u32,
                key.height as u32,
                key.frames as u32,
            ] {
                w.write_all(&v.to_le_bytes()).map_err(io)?;
            }
            for p in pictures {
                w.write_all(&p.poc.unwrap_or(NO_POC).to_le_bytes())
                    .map_err(io)?;
            }
            let mut buf = Vec::new();
            for p in pictures {
                for c in 0..3 {
                    buf.clear();
                    buf.extend(p.plane(c).iter().flat_map(|s| s.to_le_bytes()));
                    w.write_all(&buf).map_err(io)?;
                }
            }
            w.flush().map_err(io)?;
        }
        tmp.persist(&path)
            .map_err(|e| CorpusError::io(&path, e.error))?;
        Ok(path)
    }
}

fn parse(bytes: &[u8], key: &CacheKey<'_>) -> Result<Vec<Picture10>, String> {
    if bytes.len() as u64 != key.file_size() {
        return Err(format!(
            "{} bytes, expected {}",
            bytes.len(),
            key.file_size()
        ));
    }
    if &bytes[..8] != MAGIC {
        return Err("bad magic".into());
    }
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
    let header = [u32_at(8), u32_at(12), u32_at(16), u32_at(20)];
    let want = [
        VERSION,
        key.width as u32,
        key.height as u32,
        key.frames as u32,
    ];
    if header != want {
        return Err(format!(
            "header (version, width, height, frames) {header:?}, expected {want:?}"
        ));
    }
    let mut pictures = Vec::with_capacity(key.frames);
    let mut off = HEADER + 8 * key.frames;
    for i in 0..key.frames {
        let o = HEADER + 8 * i;
        let poc = i64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
        let mut p = Picture10::zeroed(key.width, key.height);
        p.poc = (poc != NO_POC).then_some(poc);
        for c in 0..3 {
            let dst = p.plane_mut(c);
            let n = dst.len();
            for (d, s) in dst.iter_mut().zip(bytes[off..off + 2 * n].chunks_exact(2)) {
                *d = u16::from_le_bytes([s[0], s[1]]);
            }
            off += 2 * n;
            if dst.iter().any(|&v| v > 1023) {
                return Err(format!("picture {i}: sample above 1023"));
            }
        }
        pictures.push(p);
    }
    Ok(pictures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let sha = "0f".repeat(32);
        let key = CacheKey {
            sha256: &sha,
            width: 6,
            height: 4,
            frames: 2,
        };
        assert_eq!(cache.load(&key).unwrap(), Lookup::Missing);
        let mut pics = vec![Picture10::zeroed(6, 4); 2];
        for (i, p) in pics.iter_mut().enumerate() {
            p.poc = Some(i as i64 + 5);
            for (j, s) in p.y.iter_mut().enumerate() {
                *s = (j * 37 % 1024) as u16;
            }
            p.v[3] = 1023;
        }
        pics[1].poc = None;
        let path = cache.store(&key, &pics).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), key.file_size());
        assert_eq!(cache.load(&key).unwrap(), Lookup::Hit(pics.clone()));
        // No temporary files are left behind.
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );

        // A truncated (partial) file is detected by its size.
        let full = std::fs::read(&path).unwrap();
        std::fs::write(&path, &full[..full.len() - 3]).unwrap();
        assert!(matches!(cache.load(&key).unwrap(), Lookup::Invalid(_)));
        // Right size, wrong header.
        let mut other = full.clone();
        other[12] = 7;
        std::fs::write(&path, &other).unwrap();
        assert!(matches!(cache.load(&key).unwrap(), Lookup::Invalid(_)));
        // Wrong expectations.
        std::fs::write(&path, &full).unwrap();
        let k3 = CacheKey { frames: 3, ..key };
        assert!(matches!(cache.load(&k3).unwrap(), Lookup::Invalid(_)));
        assert!(cache.store(&k3, &pics).is_err());
    }
}
