//! # Pictures of what the filter does (cargo feature `pictures`)
//!
//! Renders one frame's original, reconstruction and filtered reconstruction as PNG pictures a
//! person can read, and converts R'G'B' stills to and from Y'CbCr ([`color`]).
//!
//! ## Public API
//!
//! ```no_run
//! use lut_filter::look::{self, Options};
//! use lut_filter::{ChromaFormat, Picture, Plane};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (w, h) = (64, 32);
//! let (luma, chroma) = (vec![500u16; w * h], vec![512u16; w * h / 4]);
//! let (cw, ch) = (w / 2, h / 2);
//! let recon = Picture::new(
//!     Plane::new(&luma, w, w, h)?,
//!     Some(Plane::new(&chroma, cw, cw, ch)?),
//!     Some(Plane::new(&chroma, cw, cw, ch)?),
//!     ChromaFormat::Yuv420,
//!     10,
//! )?;
//! # let (original, filtered) = (recon, recon);
//! // Three pictures of the same size and chroma format, at any bit depths (8..=12): they are
//! // compared at the largest of the three, lower-depth samples shifted left (DESIGN §4).
//! let pictures = look::render(&original, &recon, &filtered, &Options::default())?;
//! println!("{}", serde_json::to_string_pretty(&pictures.summary)?);
//! let written = pictures.write(std::path::Path::new("look/"))?; // the three PNGs
//! # Ok(()) }
//! ```
//!
//! * [`render`] returns [`Pictures`]: three [`image::RgbImage`]s and a [`Summary`] (PSNR per
//!   plane before and after the filter, the zoom window, block counts; `serde::Serialize`).
//!   * `side_by_side`: original | reconstruction | filtered, converted to R'G'B' with
//!     [`Options::color`] (or luma only), and below them a nearest-neighbour zoom of the
//!     window where the filter changed the luma most ([`choose_crop`]).
//!   * `difference`: filtered - reconstruction of Y, U and V, mid-grey = 0, amplified by a
//!     gain that the legend states (automatic, or [`Options::gain`]).
//!   * `error_map`: per luma block, the change of squared error against the original
//!     ([`BlockMap`]); green where the filter helps (SSE down), red where it hurts, colour
//!     strength `ln(1 + |delta|) / ln(1 + max |delta|)`, over the dimmed original luma, with a
//!     legend and the frame's PSNR numbers.
//! * [`Pictures::write`] writes them as `side_by_side.png`, `difference.png` and
//!   `error_map.png` into a folder: every PNG is encoded in memory first and each file is
//!   written atomically ([`crate::io::write_atomic`]), so a failure leaves no partial file.
//! * The pieces are public for other reports: [`psnr`], [`BlockMap`], [`choose_crop`],
//!   [`encode_png`], [`font`] (a 5x7 bitmap font) and [`color`] (documented formulas).
//!
//! Nothing here panics on bad input: mismatched pictures and invalid options are
//! [`LookError::Input`].

mod analysis;
pub mod color;
pub mod font;
mod render;

use std::path::{Path, PathBuf};

use image::RgbImage;
use serde::Serialize;

pub use analysis::{BlockMap, PlanePsnr, Window, ZERO_ERROR_PSNR, choose_crop, psnr, sse};
pub use color::{ColorSpec, Matrix, Range, YCbCr};

use crate::Picture;
use analysis::Frame;

/// What can go wrong making pictures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookError {
    /// The inputs or options do not fit together.
    #[error("{0}")]
    Input(String),
    /// A picture could not be built, or a file could not be written.
    #[error(transparent)]
    Lut(#[from] crate::Error),
    /// PNG encoding failed.
    #[error("encoding PNG: {0}")]
    Png(#[from] image::ImageError),
}

/// How to render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Block side of the error map in luma samples (a power of two, 4..=128).
    pub block: usize,
    /// Side of the zoomed window in luma samples (8..=512; clipped to the picture).
    pub crop: usize,
    /// Nearest-neighbour magnification of the zoomed window (1..=16).
    pub zoom: usize,
    /// Box down-scaling of the full-frame views, to keep files small (1..=8; the zoom is not
    /// down-scaled).
    pub downscale: usize,
    /// Matrix and range used to show Y'CbCr as R'G'B'.
    pub color: ColorSpec,
    /// Show luma only (grey) in the side-by-side view.
    pub luma_only: bool,
    /// Gain of the difference picture (grey levels per code value at the computation bit
    /// depth); `None` picks a power of two that keeps 99 % of the non-zero luma changes
    /// within +-112 levels.
    pub gain: Option<u32>,
    /// A title written at the top of every picture (e.g. clip, frame and QP).
    pub title: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            block: 8,
            crop: 96,
            zoom: 4,
            downscale: 1,
            color: ColorSpec::default(),
            luma_only: false,
            gain: None,
            title: None,
        }
    }
}

impl Options {
    fn check(&self) -> Result<(), LookError> {
        let bad = |what: String| Err(LookError::Input(what));
        if !self.block.is_power_of_two() || !(4..=128).contains(&self.block) {
            return bad(format!(
                "block size {} is not a power of two in 4..=128",
                self.block
            ));
        }
        if !(8..=512).contains(&self.crop) {
            return bad(format!("zoom window {} is not in 8..=512", self.crop));
        }
        if !(1..=16).contains(&self.zoom) {
            return bad(format!("zoom factor {} is not in 1..=16", self.zoom));
        }
        if !(1..=8).contains(&self.downscale) {
            return bad(format!("down-scaling {} is not in 1..=8", self.downscale));
        }
        if self.gain == Some(0) || self.gain.is_some_and(|g| g > 4096) {
            return bad("the difference gain must be in 1..=4096".into());
        }
        Ok(())
    }
}

/// The numbers of one rendered frame.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Luma width.
    pub width: usize,
    /// Luma height.
    pub height: usize,
    /// Bit depth of the comparison (the largest of the three pictures').
    pub bit_depth: u8,
    /// PSNR of the reconstruction against the original.
    pub psnr_reconstruction: PlanePsnr,
    /// PSNR of the filtered reconstruction against the original.
    pub psnr_filtered: PlanePsnr,
    /// `psnr_filtered - psnr_reconstruction` (positive: the filter helped).
    pub psnr_delta: PlanePsnr,
    /// Luma samples the filter changed.
    pub changed_luma_samples: usize,
    /// Largest |filtered - reconstruction| of the luma.
    pub max_luma_change: u32,
    /// The zoomed window.
    pub crop: Window,
    /// Gain of the difference picture (grey levels per code value).
    pub difference_gain: u32,
    /// Block side of the error map.
    pub block: usize,
    /// Blocks whose luma SSE went down / up / did not change.
    pub blocks_better: usize,
    /// See `blocks_better`.
    pub blocks_worse: usize,
    /// See `blocks_better`.
    pub blocks_unchanged: usize,
    /// Largest |change of block SSE| (full colour in the error map).
    pub map_scale: u64,
    /// Luma SSE(filtered) - SSE(reconstruction) over the frame.
    pub luma_sse_delta: i64,
}

/// The three pictures of one frame and its numbers.
#[derive(Clone, Debug)]
pub struct Pictures {
    /// Original | reconstruction | filtered, with the zoomed window below.
    pub side_by_side: RgbImage,
    /// Filtered - reconstruction, amplified.
    pub difference: RgbImage,
    /// Per-block change of squared error, with legend and PSNR.
    pub error_map: RgbImage,
    /// The numbers.
    pub summary: Summary,
}

impl Pictures {
    /// File names used by [`Pictures::write`], in the order of [`Pictures::images`].
    pub const FILE_NAMES: [&'static str; 3] =
        ["side_by_side.png", "difference.png", "error_map.png"];

    /// The three images, in the order of [`Pictures::FILE_NAMES`].
    pub fn images(&self) -> [&RgbImage; 3] {
        [&self.side_by_side, &self.difference, &self.error_map]
    }

    /// Writes the three PNGs into `dir` (created if missing); returns their paths. All are
    /// encoded before the first is written, and each is written atomically.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, LookError> {
        let encoded = self
            .images()
            .map(encode_png)
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        std::fs::create_dir_all(dir).map_err(|source| crate::Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut written = Vec::new();
        for (name, bytes) in Self::FILE_NAMES.iter().zip(encoded) {
            let path = dir.join(name);
            crate::io::write_atomic(&path, &bytes)?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Encodes an 8-bit R'G'B' image as PNG (best compression, adaptive filters).
pub fn encode_png(image: &RgbImage) -> Result<Vec<u8>, LookError> {
    use image::ImageEncoder;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Adaptive)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )?;
    Ok(out)
}

/// Renders the three pictures of one frame (see the module docs).
pub fn render(
    original: &Picture<'_, u16>,
    reconstruction: &Picture<'_, u16>,
    filtered: &Picture<'_, u16>,
    options: &Options,
) -> Result<Pictures, LookError> {
    options.check()?;
    let names = ["original", "reconstruction", "filtered"];
    let inputs = [original, reconstruction, filtered];
    let size = |p: &Picture<'_, u16>| p.planes[0].map_or((0, 0), |l| (l.width(), l.height()));
    for (name, p) in names.iter().zip(inputs).skip(1) {
        if size(p) != size(original) {
            let ((w, h), (ow, oh)) = (size(p), size(original));
            return Err(LookError::Input(format!(
                "picture sizes differ: the original is {ow}x{oh}, the {name} {w}x{h}"
            )));
        }
        if p.chroma_format != original.chroma_format {
            return Err(LookError::Input(format!(
                "chroma formats differ: the original is {:?}, the {name} {:?}",
                original.chroma_format, p.chroma_format
            )));
        }
    }
    let depth = inputs.iter().map(|p| p.bit_depth).max().unwrap_or(8);
    let [orig, recon, filt] = inputs.map(|p| Frame::scaled(p, depth));
    let (w, h) = (orig.width, orig.height);

    let psnr_reconstruction = PlanePsnr::of(&orig, &recon);
    let psnr_filtered = PlanePsnr::of(&orig, &filt);
    let map = BlockMap::new(
        &orig.planes[0],
        &recon.planes[0],
        &filt.planes[0],
        w,
        h,
        options.block,
    );
    let crop = choose_crop(&recon.planes[0], &filt.planes[0], w, h, options.crop);
    let changes: Vec<u32> = recon.planes[0]
        .iter()
        .zip(&filt.planes[0])
        .map(|(&r, &f)| u32::from(r.abs_diff(f)))
        .collect();
    let gain = options.gain.unwrap_or_else(|| render::auto_gain(&changes));
    let (blocks_better, blocks_worse, blocks_unchanged) = map.counts();
    let summary = Summary {
        width: w,
        height: h,
        bit_depth: depth,
        psnr_reconstruction,
        psnr_filtered,
        psnr_delta: psnr_filtered.minus(&psnr_reconstruction),
        changed_luma_samples: changes.iter().filter(|&&c| c > 0).count(),
        max_luma_change: changes.iter().copied().max().unwrap_or(0),
        crop,
        difference_gain: gain,
        block: map.block,
        blocks_better,
        blocks_worse,
        blocks_unchanged,
        map_scale: map.scale(),
        luma_sse_delta: map.delta.iter().sum(),
    };
    let views = [&orig, &recon, &filt]
        .map(|f| f.picture(options.luma_only))
        .into_iter()
        .map(|p| color::to_rgb8(&p?, options.color))
        .collect::<Result<Vec<_>, _>>()?;
    let grey = color::to_rgb8(&orig.picture(true)?, options.color)?;
    Ok(Pictures {
        side_by_side: render::side_by_side(&views, &summary, options),
        difference: render::difference(&recon, &filt, &summary, options),
        error_map: render::error_map(&grey, &map, &summary, options),
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChromaFormat, Plane};

    fn picture<'a>(planes: &'a [Vec<u16>; 3], w: usize, h: usize, depth: u8) -> Picture<'a, u16> {
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        Picture::new(
            Plane::new(&planes[0], w, w, h).unwrap(),
            Some(Plane::new(&planes[1], cw, cw, ch).unwrap()),
            Some(Plane::new(&planes[2], cw, cw, ch).unwrap()),
            ChromaFormat::Yuv420,
            depth,
        )
        .unwrap()
    }

    fn planes(w: usize, h: usize, f: impl Fn(usize, usize) -> u16, c: u16) -> [Vec<u16>; 3] {
        let luma = (0..w * h).map(|i| f(i % w, i / w)).collect();
        let n = w.div_ceil(2) * h.div_ceil(2);
        [luma, vec![c; n], vec![c; n]]
    }

    #[test]
    fn renders_and_summarises_a_frame() {
        let (w, h) = (40, 24);
        // 8-bit original, 10-bit reconstruction and filtered: compared at 10 bit.
        let o = planes(w, h, |x, y| (x * 4 + y) as u16, 128);
        let r = planes(w, h, |x, y| ((x * 4 + y) * 4 + 8) as u16, 512);
        // The filter fixes the left 16 columns exactly and leaves the rest.
        let f = planes(
            w,
            h,
            |x, y| {
                let v = (x * 4 + y) * 4;
                (if x < 16 { v } else { v + 8 }) as u16
            },
            512,
        );
        let options = Options {
            block: 8,
            crop: 16,
            ..Options::default()
        };
        let p = render(
            &picture(&o, w, h, 8),
            &picture(&r, w, h, 10),
            &picture(&f, w, h, 10),
            &options,
        )
        .unwrap();
        let s = &p.summary;
        assert_eq!((s.width, s.height, s.bit_depth), (40, 24, 10));
        // Reconstruction error 8 everywhere: PSNR = 20 log10(1020 / 8).
        assert!((s.psnr_reconstruction.y - 20.0 * (1020.0f64 / 8.0).log10()).abs() < 1e-9);
        assert_eq!(s.psnr_reconstruction.u, Some(ZERO_ERROR_PSNR));
        assert!(s.psnr_delta.y > 0.0);
        assert_eq!(
            (s.blocks_better, s.blocks_worse, s.blocks_unchanged),
            (6, 0, 9)
        );
        assert_eq!(s.luma_sse_delta, -(16 * 24 * 64));
        assert_eq!(s.changed_luma_samples, 16 * 24);
        assert_eq!(s.max_luma_change, 8);
        assert_eq!(s.difference_gain, 8);
        assert!(s.crop.x + s.crop.width <= 16 && s.crop.change == 16 * 16 * 8);
        // Three panels side by side, then three 4x zooms.
        assert!(p.side_by_side.width() as usize >= 3 * 16 * 4);
        assert!(p.error_map.height() as usize > h);
        let png = encode_png(&p.difference).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
    }

    #[test]
    fn mismatched_inputs_and_bad_options_are_errors() {
        let a = planes(8, 8, |_, _| 100, 128);
        let b = planes(16, 8, |_, _| 100, 128);
        let pa = picture(&a, 8, 8, 8);
        let pb = picture(&b, 16, 8, 8);
        let err = render(&pa, &pb, &pa, &Options::default()).unwrap_err();
        assert!(err.to_string().contains("picture sizes differ"), "{err}");
        for bad in [
            Options {
                block: 12,
                ..Options::default()
            },
            Options {
                zoom: 0,
                ..Options::default()
            },
            Options {
                gain: Some(0),
                ..Options::default()
            },
        ] {
            assert!(matches!(
                render(&pa, &pa, &pa, &bad),
                Err(LookError::Input(_))
            ));
        }
        let luma = vec![100u16; 64];
        let mono = Picture::new(
            Plane::new(&luma, 8, 8, 8).unwrap(),
            None,
            None,
            ChromaFormat::Yuv400,
            8,
        )
        .unwrap();
        let err = render(&pa, &mono, &pa, &Options::default()).unwrap_err();
        assert!(err.to_string().contains("chroma formats differ"), "{err}");
        // Writing into a path that is a file fails without leaving anything.
        let dir = std::env::temp_dir().join(format!("look-unit-{}", std::process::id()));
        std::fs::write(&dir, b"a file").unwrap();
        let p = render(&pa, &pa, &pa, &Options::default()).unwrap();
        assert!(p.write(&dir).is_err());
        std::fs::remove_file(&dir).unwrap();
    }
}
