//! The VVC training / validation corpus: originals, bitstreams, decoded reconstructions.
//!
//! The data folder (`../shared/data` beside the repository, see its README) holds Y4M originals,
//! VVenC bitstreams in two configurations at five QPs, their encoder logs and two tables.
//! [`Corpus`] reads the tables; reconstructions are decoded with `vvdec` ([`decode()`]) and kept
//! in a [`Cache`] keyed by the bitstream's SHA-256, so every bitstream is decoded once.
//!
//! Conventions:
//! * every picture is 10-bit 4:2:0 ([`Picture10`]); 8-bit originals are shifted left by 2, as
//!   VTM/VVenC do internally;
//! * reconstructions are in output order, which is POC order; output picture `i` pairs with
//!   original frame `i` (VVenC numbers POCs 0..frames-1 in display order, also for the leading
//!   pictures of the random-access configuration, whose first key picture has POC 31 or so);
//! * each reconstruction's `slice_qp` comes from the encoder log, matched by POC (see
//!   [`attach_slice_qps`]);
//! * PSNR follows VTM: 10 bit, peak 1020, sequence value = mean of per-picture values.
//!
//! ```no_run
//! use lut_build::corpus::{Cache, Config, Corpus, Selection, Split};
//! let corpus = Corpus::open("../shared/data")?;
//! let sel = Selection::new(Some(Split::Train), Some(Config::Ai), &[37, 42]);
//! for enc in corpus.pairs(&sel, &Cache::from_env(), true)? {
//!     for f in &enc.frames {
//!         let _ = (&f.original.y, &f.reconstruction.y, f.slice_qp);
//!     }
//! }
//! # Ok::<(), lut_build::corpus::CorpusError>(())
//! ```

pub mod annexb;
pub mod cache;
pub mod decode;
mod error;
pub mod list;
pub mod log;
pub mod original;
pub mod picture;
pub mod tables;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use lut_filter::PictureKind;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

pub use cache::{Cache, CacheKey, Lookup};
pub use decode::{attach_slice_qps, decode, decode_bytes, decode_with_threads};
pub use error::{CorpusError, Result};
pub use log::{LogPicture, read_encoder_log};
pub use original::read_y4m;
pub use picture::{Picture10, max_abs_diff, picture_psnr, sequence_psnr};
pub use tables::{Clip, Config, Encode, Split};

/// Which bitstreams to use. `None` / an empty QP list means "all".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Split, or both.
    pub split: Option<Split>,
    /// Configuration, or both.
    pub config: Option<Config>,
    /// Nominal QPs (file-name QPs: 22, 27, 32, 37, 42); empty = all.
    pub qps: Vec<u32>,
}

impl Selection {
    /// A selection.
    pub fn new(split: Option<Split>, config: Option<Config>, qps: &[u32]) -> Self {
        Self {
            split,
            config,
            qps: qps.to_vec(),
        }
    }

    /// Everything.
    pub fn all() -> Self {
        Self::default()
    }

    /// Whether an encode is selected.
    pub fn matches(&self, e: &Encode) -> bool {
        self.split.is_none_or(|s| s == e.split)
            && self.config.is_none_or(|c| c == e.config)
            && (self.qps.is_empty() || self.qps.contains(&e.qp))
    }
}

/// Where a reconstruction came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A valid cache file.
    Cache,
    /// Decoded now (and stored); `replaced` says why an existing cache file was not used.
    Decoded {
        /// The reason an existing cache file was rejected, if there was one.
        replaced: Option<String>,
    },
}

/// One original frame and its reconstruction.
#[derive(Clone, Debug)]
pub struct FramePair {
    /// Frame index (display order, = POC for this corpus).
    pub index: usize,
    /// The original, 10 bit (shared between the encodes of a clip).
    pub original: Arc<Picture10>,
    /// The decoded reconstruction (after all VVC in-loop filters).
    pub reconstruction: Picture10,
    /// The picture's slice QP (from the encoder log).
    pub slice_qp: i32,
    /// Intra or inter (from the encoder log's slice type; `None` without a log).
    pub kind: Option<PictureKind>,
}

/// All frame pairs of one bitstream.
#[derive(Clone, Debug)]
pub struct EncodePairs {
    /// The bitstream.
    pub encode: Encode,
    /// Its frames in display order.
    pub frames: Vec<FramePair>,
}

impl EncodePairs {
    /// Sequence PSNR (Y, Cb, Cr) of the reconstruction, VTM convention.
    pub fn psnr(&self) -> [f64; 3] {
        let o: Vec<&Picture10> = self.frames.iter().map(|f| &*f.original).collect();
        let r: Vec<&Picture10> = self.frames.iter().map(|f| &f.reconstruction).collect();
        sequence_psnr(&o, &r)
    }

    /// Largest absolute difference per component over all frames.
    pub fn max_abs_diff(&self) -> [u16; 3] {
        self.frames.iter().fold([0; 3], |m, f| {
            let d = max_abs_diff(&f.original, &f.reconstruction);
            std::array::from_fn(|c| m[c].max(d[c]))
        })
    }
}

/// Originals of several clips, by name.
pub type Originals = HashMap<String, Vec<Arc<Picture10>>>;

/// The corpus: the two tables and the data folder they describe.
#[derive(Clone, Debug)]
pub struct Corpus {
    root: PathBuf,
    clips: Vec<Clip>,
    encodes: Vec<Encode>,
}

impl Corpus {
    /// Opens a data folder: reads `manifest.tsv` and `vvc/encodes.tsv` and checks that they agree
    /// (every encode names a known clip, with the same split and frame count).
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Self> {
        let root = data_dir.as_ref().to_owned();
        if !root.is_dir() {
            return Err(CorpusError::io(
                &root,
                std::io::Error::new(std::io::ErrorKind::NotFound, "data folder not found"),
            ));
        }
        let clips = tables::read_manifest(&root.join("manifest.tsv"))?;
        let vvc = root.join("vvc");
        let encodes = tables::read_encodes(&vvc.join("encodes.tsv"), &vvc)?;
        for e in &encodes {
            let c = clips
                .iter()
                .find(|c| c.name == e.name)
                .ok_or_else(|| CorpusError::UnknownClip(e.name.clone()))?;
            if c.split != e.split || c.frames != e.frames {
                return Err(CorpusError::Mismatch {
                    what: e.label(),
                    msg: format!(
                        "encodes.tsv says split {} / {} frames, manifest.tsv {} / {}",
                        e.split, e.frames, c.split, c.frames
                    ),
                });
            }
        }
        Ok(Self {
            root,
            clips,
            encodes,
        })
    }

    /// The data folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// All originals (manifest order).
    pub fn clips(&self) -> &[Clip] {
        &self.clips
    }

    /// An original by name.
    pub fn clip(&self, name: &str) -> Result<&Clip> {
        self.clips
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| CorpusError::UnknownClip(name.to_owned()))
    }

    /// All bitstreams (table order).
    pub fn encodes(&self) -> &[Encode] {
        &self.encodes
    }

    /// One bitstream.
    pub fn encode(&self, name: &str, config: Config, qp: u32) -> Result<&Encode> {
        self.encodes
            .iter()
            .find(|e| e.name == name && e.config == config && e.qp == qp)
            .ok_or_else(|| CorpusError::UnknownClip(format!("{name} {config} qp{qp}")))
    }

    /// The selected bitstreams (table order).
    pub fn select(&self, sel: &Selection) -> Vec<&Encode> {
        self.encodes.iter().filter(|e| sel.matches(e)).collect()
    }

    /// `orig/<name>.y4m`.
    pub fn original_path(&self, name: &str) -> PathBuf {
        self.root.join("orig").join(format!("{name}.y4m"))
    }

    /// Reads an original as 10-bit pictures and checks it against the manifest.
    pub fn read_original(&self, name: &str) -> Result<Vec<Picture10>> {
        let clip = self.clip(name)?;
        let pics = read_y4m(&self.original_path(name))?;
        let size = pics.first().map(|p| (p.width, p.height));
        if pics.len() != clip.frames || size != Some((clip.width, clip.height)) {
            return Err(CorpusError::Mismatch {
                what: name.to_owned(),
                msg: format!(
                    "Y4M has {} frames of {:?}, manifest says {} of {}x{}",
                    pics.len(),
                    size,
                    clip.frames,
                    clip.width,
                    clip.height
                ),
            });
        }
        Ok(pics)
    }

    /// Reads the originals of the named clips, in parallel.
    pub fn read_originals<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Originals> {
        let names: BTreeSet<&str> = names.into_iter().collect();
        names
            .into_par_iter()
            .map(|n| {
                let pics = self.read_original(n)?;
                Ok((n.to_owned(), pics.into_iter().map(Arc::new).collect()))
            })
            .collect()
    }

    fn cache_key<'a>(&self, e: &'a Encode) -> Result<CacheKey<'a>> {
        let clip = self.clip(&e.name)?;
        Ok(CacheKey {
            sha256: &e.sha256,
            width: clip.width,
            height: clip.height,
            frames: e.frames,
        })
    }

    /// The reconstruction of one bitstream: from the cache when a valid file is there, else
    /// decoded (after checking the bitstream's SHA-256 against the table), checked (frame count,
    /// size, POCs increasing) and stored. `slice_qp` is set from the encoder log and checked
    /// against `slice_qp_range`. `threads` is vvdec's thread count (`-1` automatic).
    pub fn reconstruction(
        &self,
        e: &Encode,
        cache: &Cache,
        threads: i32,
    ) -> Result<(Vec<Picture10>, Origin)> {
        let key = self.cache_key(e)?;
        let (mut pics, origin) = match cache.load(&key)? {
            Lookup::Hit(p) => (p, Origin::Cache),
            Lookup::Missing => (
                self.decode_checked(e, &key, threads)?,
                Origin::Decoded { replaced: None },
            ),
            Lookup::Invalid(why) => (
                self.decode_checked(e, &key, threads)?,
                Origin::Decoded {
                    replaced: Some(why),
                },
            ),
        };
        if matches!(origin, Origin::Decoded { .. }) {
            cache.store(&key, &pics)?;
        }
        let log_path = e.log_path();
        let log = read_encoder_log(&log_path)?;
        attach_slice_qps(&mut pics, &log, &log_path)?;
        let (lo, hi) = e.slice_qp_range;
        if let Some(q) = pics
            .iter()
            .filter_map(|p| p.slice_qp)
            .find(|q| !(lo..=hi).contains(q))
        {
            return Err(CorpusError::Mismatch {
                what: e.label(),
                msg: format!("slice QP {q} outside slice_qp_range {lo}-{hi}"),
            });
        }
        Ok((pics, origin))
    }

    fn decode_checked(
        &self,
        e: &Encode,
        key: &CacheKey<'_>,
        threads: i32,
    ) -> Result<Vec<Picture10>> {
        let data = std::fs::read(&e.bitstream).map_err(|err| CorpusError::io(&e.bitstream, err))?;
        let sha: String = Sha256::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if sha != e.sha256 {
            return Err(CorpusError::Mismatch {
                what: e.label(),
                msg: format!(
                    "{}: sha256 {sha}, encodes.tsv says {}",
                    e.bitstream.display(),
                    e.sha256
                ),
            });
        }
        let pics = decode_bytes(&data, threads, &e.bitstream)?;
        let mismatch = |msg: String| CorpusError::Mismatch {
            what: e.label(),
            msg,
        };
        if pics.len() != e.frames {
            return Err(mismatch(format!(
                "decoded {} pictures, encodes.tsv says {}",
                pics.len(),
                e.frames
            )));
        }
        if let Some(p) = pics
            .iter()
            .find(|p| (p.width, p.height) != (key.width, key.height))
        {
            return Err(mismatch(format!(
                "decoded {}x{}, the original is {}x{}",
                p.width, p.height, key.width, key.height
            )));
        }
        if pics
            .windows(2)
            .any(|w| matches!((w[0].poc, w[1].poc), (Some(a), Some(b)) if a >= b))
        {
            return Err(mismatch("POCs not increasing in output order".into()));
        }
        Ok(pics)
    }

    /// Decodes every selected bitstream that is not yet in the cache, in parallel (one bitstream
    /// per rayon task, one vvdec thread each), with a progress bar if `progress`.
    /// Returns the origin of each selected encode (selection order).
    pub fn prepare(&self, sel: &Selection, cache: &Cache, progress: bool) -> Result<Vec<Origin>> {
        let encodes = self.select(sel);
        let bar = progress_bar(encodes.len(), progress, "decode");
        let r = encodes
            .par_iter()
            .map(|e| {
                let key = self.cache_key(e)?;
                let o = match cache.load(&key)? {
                    Lookup::Hit(_) => Origin::Cache,
                    _ => self.reconstruction(e, cache, 1)?.1,
                };
                bar.inc(1);
                Ok(o)
            })
            .collect();
        bar.finish_and_clear();
        r
    }

    /// Pairs one bitstream's reconstruction with its original frames (`original` as returned by
    /// [`Corpus::read_originals`] for `e.name`): output picture `i` with frame `i`, after checking
    /// that its POC (when known) is `i`.
    pub fn pair(
        &self,
        e: &Encode,
        original: &[Arc<Picture10>],
        cache: &Cache,
        threads: i32,
    ) -> Result<(EncodePairs, Origin)> {
        let (recon, origin) = self.reconstruction(e, cache, threads)?;
        if original.len() != recon.len() {
            return Err(CorpusError::Mismatch {
                what: e.label(),
                msg: format!(
                    "{} original frames, {} reconstructed",
                    original.len(),
                    recon.len()
                ),
            });
        }
        if let Some((i, poc)) = recon
            .iter()
            .enumerate()
            .find_map(|(i, p)| p.poc.filter(|&poc| poc != i as i64).map(|poc| (i, poc)))
        {
            return Err(CorpusError::Mismatch {
                what: e.label(),
                msg: format!("output picture {i} has POC {poc}: cannot pair it with frame {i}"),
            });
        }
        let frames = recon
            .into_iter()
            .zip(original)
            .enumerate()
            .map(|(index, (reconstruction, o))| FramePair {
                index,
                original: Arc::clone(o),
                slice_qp: reconstruction.slice_qp.unwrap_or(e.qp as i32),
                kind: reconstruction.kind,
                reconstruction,
            })
            .collect();
        Ok((
            EncodePairs {
                encode: e.clone(),
                frames,
            },
            origin,
        ))
    }

    /// All (original, reconstruction, slice QP) frame pairs of a selection, one entry per
    /// bitstream in table order. Reconstructions come from the cache, missing ones are decoded
    /// (in parallel with rayon) and cached; a progress bar is drawn if `progress`.
    ///
    /// Everything is held in memory: the whole corpus is about 1.3 GB of 16-bit samples
    /// (originals shared between encodes); use [`Corpus::pair`] per bitstream to stream instead.
    pub fn pairs(
        &self,
        sel: &Selection,
        cache: &Cache,
        progress: bool,
    ) -> Result<Vec<EncodePairs>> {
        let encodes = self.select(sel);
        let originals = self.read_originals(encodes.iter().map(|e| e.name.as_str()))?;
        let bar = progress_bar(encodes.len(), progress, "pairs");
        let r = encodes
            .par_iter()
            .map(|e| {
                let p = self.pair(e, &originals[&e.name], cache, 1)?.0;
                bar.inc(1);
                Ok(p)
            })
            .collect();
        bar.finish_and_clear();
        r
    }
}

/// A progress bar over `n` items (hidden if `show` is false).
pub fn progress_bar(n: usize, show: bool, msg: &'static str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(n as u64).with_message(msg);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} (eta {eta})",
        )
        .expect("valid template"),
    );
    bar
}
