//! The offline post-filter benchmark's measurement: for every RD point (one sequence, one
//! configuration, one QP), PSNR of the reconstruction before and after the LUT filter, as VTM
//! measures it, and the filter's time.
//!
//! * Points come from the corpus tables ([`PointSource::Corpus`]) or from a benchmark list
//!   ([`PointSource::List`], see [`crate::corpus::list`]).
//! * Points run in parallel (one worker thread per core, one point at a time each); the filter
//!   runs on that one thread, so `ns_per_sample` is a single-thread figure (measured while the other cores filter
//!   other points).
//! * Results are cached: a row is stored under a key made of the container's checksum and size,
//!   this crate's version and the identity of the point's inputs (bitstream SHA-256, or path,
//!   size and modification time of each file). A re-run, or a run that was interrupted, only
//!   measures what is missing.

mod ctu_switch;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use lut_filter::Container;
use serde::{Deserialize, Serialize};

use crate::corpus::list::{ListEntry, sha256_hex};
use crate::corpus::{
    Cache, Corpus, CorpusError, Encode, FramePair, Picture10, picture_psnr, read_y4m,
};
use crate::pipeline::filter_picture;

pub use ctu_switch::{CtuSwitch, Switched};

/// Where a point's pictures come from.
#[derive(Clone, Debug)]
pub enum PointSource {
    /// A bitstream of the corpus (original and slice QPs from the corpus folder).
    Corpus(Encode),
    /// A row of a benchmark list.
    List(ListEntry),
}

impl PointSource {
    /// Sequence name.
    pub fn sequence(&self) -> &str {
        match self {
            Self::Corpus(e) => &e.name,
            Self::List(l) => &l.sequence,
        }
    }

    /// A short label, e.g. `foreman ai qp32`.
    pub fn label(&self) -> String {
        match self {
            Self::Corpus(e) => e.label(),
            Self::List(l) => l.label(),
        }
    }

    /// Configuration label.
    pub fn config(&self) -> String {
        match self {
            Self::Corpus(e) => e.config.to_string(),
            Self::List(l) => l.config.clone(),
        }
    }

    /// Nominal QP.
    pub fn qp(&self) -> u32 {
        match self {
            Self::Corpus(e) => e.qp,
            Self::List(l) => l.qp,
        }
    }
}

/// One RD point's measurement.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvalRow {
    /// Sequence name.
    pub sequence: String,
    /// JVET class, when known.
    pub class: Option<String>,
    /// Configuration label (`ai`, `ra`, ...).
    pub config: String,
    /// Nominal QP.
    pub qp: u32,
    /// Frames measured.
    pub frames: usize,
    /// Bitrate in kbps (from the bitstream size).
    pub kbps: f64,
    /// Sequence PSNR Y/U/V of the unfiltered reconstruction (mean of per-picture values).
    pub psnr_anchor: [f64; 3],
    /// Sequence PSNR Y/U/V after the LUT filter.
    pub psnr_test: [f64; 3],
    /// Per-picture PSNR Y/U/V of the reconstruction.
    pub frame_psnr_anchor: Vec<[f64; 3]>,
    /// Per-picture PSNR Y/U/V after the filter.
    pub frame_psnr_test: Vec<[f64; 3]>,
    /// Filter time per sample (Y+Cb+Cr), nanoseconds, one thread.
    pub ns_per_sample: f64,
    /// With CTU on/off ([`CtuSwitch`]): sequence PSNR Y/U/V.
    pub psnr_switched: [f64; 3],
    /// With CTU on/off: per-picture PSNR Y/U/V.
    pub frame_psnr_switched: Vec<[f64; 3]>,
    /// With CTU on/off: the rate including the flags, kbps.
    pub kbps_switched: f64,
    /// With CTU on/off: mean fraction of CTUs filtered, per component.
    pub ctus_on: [f64; 3],
    /// Whether this row came from the result cache (its time is then the stored one).
    #[serde(skip)]
    pub cached: bool,
}

impl EvalRow {
    /// Mean delta-PSNR (test - anchor) per component.
    pub fn delta(&self) -> [f64; 3] {
        std::array::from_fn(|c| self.psnr_test[c] - self.psnr_anchor[c])
    }

    /// Mean delta-PSNR (CTU on/off - anchor) per component.
    pub fn delta_switched(&self) -> [f64; 3] {
        std::array::from_fn(|c| self.psnr_switched[c] - self.psnr_anchor[c])
    }

    /// Index of the frames with the largest and the smallest luma PSNR gain.
    pub fn best_and_worst_frame(&self) -> Option<(usize, usize)> {
        let gains: Vec<f64> = self
            .frame_psnr_test
            .iter()
            .zip(&self.frame_psnr_anchor)
            .map(|(t, a)| t[0] - a[0])
            .collect();
        let by = |better: fn(f64, f64) -> bool| {
            (0..gains.len()).reduce(|b, i| if better(gains[i], gains[b]) { i } else { b })
        };
        Some((by(|a, b| a > b)?, by(|a, b| a < b)?))
    }
}

/// Measures points with one container.
#[derive(Debug)]
pub struct Evaluator<'a> {
    container: &'a Container,
    cache: &'a Cache,
    corpus: Option<&'a Corpus>,
    use_result_cache: bool,
    switch: CtuSwitch,
    originals: Mutex<HashMap<PathBuf, Arc<Vec<Arc<Picture10>>>>>,
}

impl<'a> Evaluator<'a> {
    /// An evaluator; `corpus` is needed for [`PointSource::Corpus`] points.
    pub fn new(container: &'a Container, cache: &'a Cache, corpus: Option<&'a Corpus>) -> Self {
        Self {
            container,
            cache,
            corpus,
            use_result_cache: true,
            switch: CtuSwitch::default(),
            originals: Mutex::new(HashMap::new()),
        }
    }

    /// Whether stored results may be used (default true; results are always stored).
    pub fn with_result_cache(mut self, on: bool) -> Self {
        self.use_result_cache = on;
        self
    }

    /// The CTU on/off emulation's parameters (default [`CtuSwitch::default`]).
    pub fn with_ctu_switch(mut self, switch: CtuSwitch) -> Self {
        self.switch = switch;
        self
    }

    /// Measures every point in parallel (as many worker threads as rayon's global pool has);
    /// `progress` is called after each point. Results are in the order of `points`.
    ///
    /// # Errors
    /// The first point that cannot be read, decoded or matched with its original.
    pub fn run(
        &self,
        points: &[PointSource],
        progress: &(dyn Fn(&PointSource) + Sync),
    ) -> Result<Vec<EvalRow>, CorpusError> {
        // Plain threads, each with its own one-thread rayon pool for the filter: a rayon
        // worker blocked in another pool's `install` would steal other points' work meanwhile
        // and its timing would include it.
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Result<EvalRow, CorpusError>>>> =
            Mutex::new((0..points.len()).map(|_| None).collect());
        let workers = rayon::current_num_threads().clamp(1, points.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(p) = points.get(i) else { break };
                        let r = match &pool {
                            Ok(pool) => self.point(p, pool),
                            Err(e) => Err(CorpusError::Mismatch {
                                what: p.label(),
                                msg: format!("cannot start a worker thread: {e}"),
                            }),
                        };
                        progress(p);
                        let failed = r.is_err();
                        results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                        if failed {
                            // Stop handing out points; the others finish theirs.
                            next.store(points.len(), Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut rows = Vec::with_capacity(points.len());
        for r in results {
            match r {
                Some(Ok(row)) => rows.push(row),
                Some(Err(e)) => return Err(e),
                None => {} // not started because another point failed
            }
        }
        if rows.len() != points.len() {
            // Only reachable when a failure stopped the run; its error was returned above.
            return Err(CorpusError::Mismatch {
                what: "benchmark".into(),
                msg: "stopped early".into(),
            });
        }
        Ok(rows)
    }

    /// The frames of a point (original paired with reconstruction).
    ///
    /// # Errors
    /// When a file cannot be read or decoded, or original and reconstruction do not match.
    pub fn frames(&self, p: &PointSource) -> Result<Vec<FramePair>, CorpusError> {
        match p {
            PointSource::Corpus(e) => {
                let corpus = self.corpus.ok_or_else(|| CorpusError::Mismatch {
                    what: e.label(),
                    msg: "a corpus point needs the corpus".into(),
                })?;
                let orig = self.original(&corpus.original_path(&e.name), || {
                    corpus.read_original(&e.name)
                })?;
                Ok(corpus.pair(e, &orig[..], self.cache, 1)?.0.frames)
            }
            PointSource::List(l) => {
                let orig = self.original(&l.original, || read_y4m(&l.original))?;
                l.frames(&orig[..], self.cache)
            }
        }
    }

    fn original(
        &self,
        path: &Path,
        read: impl FnOnce() -> Result<Vec<Picture10>, CorpusError>,
    ) -> Result<Arc<Vec<Arc<Picture10>>>, CorpusError> {
        if let Some(o) = self.lock().get(path) {
            return Ok(Arc::clone(o));
        }
        // Read outside the lock (two tasks may read the same file once each; both agree).
        let pics: Arc<Vec<Arc<Picture10>>> = Arc::new(read()?.into_iter().map(Arc::new).collect());
        self.lock().insert(path.to_owned(), Arc::clone(&pics));
        Ok(pics)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<Vec<Arc<Picture10>>>>> {
        // A poisoned map only means another task panicked while inserting; its content is whole.
        self.originals.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn result_path(&self, p: &PointSource) -> Result<PathBuf, CorpusError> {
        let key = format!(
            "lut-build {} | container {:08x} {} | {:?} | {}",
            env!("CARGO_PKG_VERSION"),
            self.container.checksum(),
            self.container.size(),
            self.switch,
            source_identity(p)?
        );
        Ok(self
            .cache
            .dir()
            .join("eval")
            .join(format!("{}.json", &sha256_hex(key.as_bytes())[..32])))
    }

    fn point(&self, p: &PointSource, pool: &rayon::ThreadPool) -> Result<EvalRow, CorpusError> {
        let path = self.result_path(p)?;
        if self.use_result_cache
            && let Some(mut row) = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<EvalRow>(&b).ok())
        {
            row.cached = true;
            return Ok(row);
        }
        let frames = self.frames(p)?;
        let row = self.measure(p, &frames, pool)?;
        let json = serde_json::to_vec(&row).map_err(|e| CorpusError::Cache {
            path: path.clone(),
            msg: e.to_string(),
        })?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| CorpusError::io(dir, e))?;
        }
        lut_filter::io::write_atomic(&path, &json).map_err(|e| CorpusError::Cache {
            path: path.clone(),
            msg: e.to_string(),
        })?;
        Ok(row)
    }

    /// Filters one point's frames on one thread and measures them.
    fn measure(
        &self,
        p: &PointSource,
        frames: &[FramePair],
        one_thread: &rayon::ThreadPool,
    ) -> Result<EvalRow, CorpusError> {
        let mut anchor = Vec::with_capacity(frames.len());
        let mut test = Vec::with_capacity(frames.len());
        let mut switched = Vec::with_capacity(frames.len());
        let (mut flags, mut scale_bits, mut on) = (0.0, 0.0, [0.0; 3]);
        let mut nanos = 0u128;
        let mut samples = 0usize;
        for f in frames {
            let start = Instant::now();
            let first = self.switch.qp_offsets.first().copied().unwrap_or(0);
            let filtered = one_thread.install(|| {
                filter_picture(
                    self.container,
                    &f.reconstruction,
                    f.slice_qp + first,
                    f.kind,
                )
            });
            nanos += start.elapsed().as_nanos();
            samples += f.reconstruction.samples();
            anchor.push(picture_psnr(&f.original, &f.reconstruction));
            test.push(picture_psnr(&f.original, &filtered));
            // The other candidates of the CTU emulation (the first is the always-on filter).
            let others: Vec<Picture10> = self
                .switch
                .qp_offsets
                .get(1..)
                .unwrap_or_default()
                .iter()
                .map(|&o| {
                    one_thread.install(|| {
                        filter_picture(self.container, &f.reconstruction, f.slice_qp + o, f.kind)
                    })
                })
                .collect();
            let candidates: Vec<&Picture10> =
                std::iter::once(&filtered).chain(others.iter()).collect();
            let s = self
                .switch
                .apply(&f.original, &f.reconstruction, &candidates, f.slice_qp);
            switched.push(picture_psnr(&f.original, &s.picture));
            flags += s.flags;
            scale_bits += s.scale_bits;
            for (total, frame) in on.iter_mut().zip(s.on) {
                *total += frame / frames.len() as f64;
            }
        }
        let mean = |v: &[[f64; 3]]| -> [f64; 3] {
            std::array::from_fn(|c| v.iter().map(|x| x[c]).sum::<f64>() / v.len().max(1) as f64)
        };
        let (sequence, class, config, qp, kbps, fps) = match p {
            PointSource::Corpus(e) => {
                let corpus = self.corpus.ok_or_else(|| CorpusError::Mismatch {
                    what: e.label(),
                    msg: "a corpus point needs the corpus".into(),
                })?;
                let fps = corpus.clip(&e.name)?.fps;
                (
                    e.name.clone(),
                    None,
                    e.config.to_string(),
                    e.qp,
                    e.kbps,
                    fps,
                )
            }
            PointSource::List(l) => (
                l.sequence.clone(),
                l.class.clone(),
                l.config.clone(),
                l.qp,
                l.kbps(frames.len())?,
                match l.fps {
                    Some(f) => f,
                    None => crate::corpus::list::y4m_fps(&l.original)?,
                },
            ),
        };
        // DESIGN §4: kbps = bits * fps / 1000 / frames.
        let flag_kbps = (flags * self.switch.flag_bits + scale_bits) * fps
            / 1000.0
            / frames.len().max(1) as f64;
        Ok(EvalRow {
            sequence,
            class,
            config,
            qp,
            frames: frames.len(),
            kbps,
            psnr_anchor: mean(&anchor),
            psnr_test: mean(&test),
            frame_psnr_anchor: anchor,
            frame_psnr_test: test,
            ns_per_sample: nanos as f64 / samples.max(1) as f64,
            psnr_switched: mean(&switched),
            frame_psnr_switched: switched,
            kbps_switched: kbps + flag_kbps,
            ctus_on: on,
            cached: false,
        })
    }
}

/// What identifies a point's inputs for the result cache.
fn source_identity(p: &PointSource) -> Result<String, CorpusError> {
    match p {
        PointSource::Corpus(e) => Ok(format!(
            "corpus {} {} {} qp{} bitstream {}",
            e.name, e.config, e.frames, e.qp, e.sha256
        )),
        PointSource::List(l) => {
            let mut s = format!(
                "list {} {} {:?} qp{} kbps {:?} fps {:?} yuv {}",
                l.sequence, l.config, l.class, l.qp, l.kbps, l.fps, l.yuv_bit_depth
            );
            for f in [
                Some(&l.original),
                Some(&l.reconstruction),
                l.log.as_ref(),
                l.bitstream.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                let m = std::fs::metadata(f).map_err(|e| CorpusError::io(f, e))?;
                let mtime = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                s.push_str(&format!(" | {} {} {mtime}", f.display(), m.len()));
            }
            Ok(s)
        }
    }
}
