//! PNG / JPEG stills for the command line: detection, reading as Y'CbCr 4:2:0 and writing back
//! as PNG or Y4M. The colour arithmetic is the library's (`lut_filter::look::color`, formulas in
//! its docs and in docs/pictures.md).

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use clap::ValueEnum;
use lut_filter::look::{self, ColorSpec, Matrix, Range, YCbCr, color};
use lut_filter::{ChromaFormat, Picture};

use crate::y4m_io::{self, FileSample, Frame, Info, Reader};
use crate::{Usage, lib_err};

/// Default bit depth of a converted still: 10, the depth the corpus was coded at and the
/// models were fitted on (8-bit sources are MSB-extended to 10 bit inside the encoder).
pub const DEFAULT_STILL_BIT_DEPTH: u8 = 10;

/// `--matrix`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MatrixArg {
    /// ITU-R BT.601 (Kr 0.299, Kb 0.114); the corpus' 8-bit originals use it.
    Bt601,
    /// ITU-R BT.709 (Kr 0.2126, Kb 0.0722).
    Bt709,
    /// ITU-R BT.2020 non-constant luminance (Kr 0.2627, Kb 0.0593).
    Bt2020,
}

/// `--range`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RangeArg {
    /// Luma 16..235, chroma 16..240 (scaled by 2^(N-8)).
    Limited,
    /// 0..2^N-1.
    Full,
}

/// The colour options shared by `filter` (stills) and `look`.
#[derive(Clone, Copy, Debug, Default, clap::Args)]
pub struct ColorArgs {
    /// Y'CbCr matrix for R'G'B' <-> Y'CbCr [default: bt709]
    #[arg(long, value_enum, value_name = "MATRIX")]
    pub matrix: Option<MatrixArg>,
    /// Y'CbCr code range [default: limited]
    #[arg(long, value_enum, value_name = "RANGE")]
    pub range: Option<RangeArg>,
}

impl ColorArgs {
    /// Whether either option was given.
    pub fn given(&self) -> bool {
        self.matrix.is_some() || self.range.is_some()
    }

    /// The library's spec (defaults BT.709, limited).
    pub fn spec(&self) -> ColorSpec {
        ColorSpec {
            matrix: match self.matrix {
                Some(MatrixArg::Bt601) => Matrix::Bt601,
                Some(MatrixArg::Bt709) | None => Matrix::Bt709,
                Some(MatrixArg::Bt2020) => Matrix::Bt2020,
            },
            range: match self.range {
                Some(RangeArg::Limited) | None => Range::Limited,
                Some(RangeArg::Full) => Range::Full,
            },
        }
    }
}

/// What a file holds, by its first bytes (then by its extension).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// PNG or JPEG.
    Still,
    /// Anything else is read as Y4M (whose reader explains what is wrong).
    Y4m,
}

fn has_extension(path: &Path, list: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| list.iter().any(|l| e.eq_ignore_ascii_case(l)))
}

/// Whether `path` names a PNG/JPEG file: PNG or JPEG magic bytes, or (for files that cannot be
/// read or are neither PNG, JPEG nor Y4M) a `.png`, `.jpg` or `.jpeg` extension.
pub fn kind(path: &Path) -> Kind {
    let mut head = [0u8; 10];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let head = &head[..n];
    if head.starts_with(b"\x89PNG\r\n\x1a\n") || head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Kind::Still
    } else if head.starts_with(b"YUV4MPEG2") {
        Kind::Y4m
    } else if has_extension(path, &["png", "jpg", "jpeg"]) {
        Kind::Still
    } else {
        Kind::Y4m
    }
}

/// How to write a still's result, by the output's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// `.png`: 8-bit R'G'B' for 8-bit pictures, 16-bit R'G'B' for deeper ones.
    Png,
    /// `.y4m`: the Y'CbCr 4:2:0 samples.
    Y4m,
}

/// The output kind named by `path`'s extension.
pub fn output_kind(path: &Path) -> Option<OutputKind> {
    if has_extension(path, &["png"]) {
        Some(OutputKind::Png)
    } else if has_extension(path, &["y4m"]) {
        Some(OutputKind::Y4m)
    } else {
        None
    }
}

/// Reads a PNG/JPEG file as Y'CbCr 4:2:0 at `bit_depth` (alpha is ignored; grey images have
/// neutral chroma; 16-bit PNGs keep their precision). Errors name no path: the caller adds it.
pub fn read(path: &Path, bit_depth: u8, spec: ColorSpec) -> Result<YCbCr> {
    let image = image::ImageReader::open(path)
        .context("cannot open")?
        .with_guessed_format()
        .context("cannot read")?
        .decode()
        .map_err(|e| anyhow!("not a readable PNG or JPEG image ({e})"))?;
    let converted = if image.color().bits_per_pixel() / u16::from(image.color().channel_count()) > 8
    {
        color::from_rgb16(&image.to_rgb16(), bit_depth, ChromaFormat::Yuv420, spec)
    } else {
        color::from_rgb8(&image.to_rgb8(), bit_depth, ChromaFormat::Yuv420, spec)
    };
    converted.map_err(|e| anyhow!(e))
}

/// Encodes `picture` as PNG: 8-bit R'G'B' at bit depth 8, 16-bit R'G'B' above.
pub fn encode_png(picture: &Picture<'_, u16>, spec: ColorSpec) -> Result<Vec<u8>> {
    if picture.bit_depth > 8 {
        use image::ImageEncoder;
        use image::codecs::png::{CompressionType, FilterType, PngEncoder};
        let rgb = color::to_rgb16(picture, spec)?;
        // The encoder takes native-endian samples and writes them big endian.
        let bytes: &[u8] = bytemuck::cast_slice(rgb.as_raw());
        let mut out = Vec::new();
        PngEncoder::new_with_quality(&mut out, CompressionType::Default, FilterType::Adaptive)
            .write_image(
                bytes,
                rgb.width(),
                rgb.height(),
                image::ExtendedColorType::Rgb16,
            )?;
        Ok(out)
    } else {
        Ok(look::encode_png(&color::to_rgb8(picture, spec)?)?)
    }
}

/// The Y4M header of a converted still: one frame, 4:2:0 (`C420jpeg` siting at 8 bit,
/// `C420p10` at 10 bit), the range as `XCOLORRANGE`.
pub fn y4m_info(yuv: &YCbCr, spec: ColorSpec) -> Result<Info> {
    let (tag, colorspace) = match yuv.bit_depth {
        8 => ("C420jpeg", y4m::Colorspace::C420jpeg),
        10 => ("C420p10", y4m::Colorspace::C420p10),
        12 => ("C420p12", y4m::Colorspace::C420p12),
        d => bail!("Y4M output is 8, 10 or 12 bit, not {d}"),
    };
    let range = match spec.range {
        Range::Limited => "LIMITED",
        Range::Full => "FULL",
    };
    Ok(Info {
        width: yuv.width,
        height: yuv.height,
        colorspace,
        chroma_format: ChromaFormat::Yuv420,
        bit_depth: yuv.bit_depth,
        raw_params: format!(
            "W{} H{} F25:1 Ip A1:1 {tag} XCOLORRANGE={range}",
            yuv.width, yuv.height
        )
        .into_bytes(),
        framerate: y4m::Ratio::new(25, 1),
    })
}

/// Encodes `yuv` as a one-frame Y4M file.
pub fn encode_y4m(yuv: &YCbCr, spec: ColorSpec) -> Result<Vec<u8>> {
    fn frame<T: FileSample>(yuv: &YCbCr, info: &Info) -> Result<Vec<u8>> {
        let planes: [Vec<T>; 3] = yuv
            .planes
            .clone()
            .map(|p| p.into_iter().map(|s| T::from_i32(i32::from(s))).collect());
        let mut out = Vec::new();
        let mut w = y4m_io::Writer::new(&mut out, info)?;
        w.write_frame([&planes[0], &planes[1], &planes[2]], None)?;
        Ok(out)
    }
    let info = y4m_info(yuv, spec)?;
    if yuv.bit_depth > 8 {
        frame::<u16>(yuv, &info)
    } else {
        frame::<u8>(yuv, &info)
    }
}

/// Writes `yuv` to `path` as PNG or Y4M (by `kind`), atomically.
pub fn write(path: &Path, kind: OutputKind, yuv: &YCbCr, spec: ColorSpec) -> Result<()> {
    let bytes = match kind {
        OutputKind::Png => encode_png(&yuv.picture()?, spec)?,
        OutputKind::Y4m => encode_y4m(yuv, spec)?,
    };
    lut_filter::io::write_atomic(path, &bytes).map_err(lib_err)
}

/// Frame `index` of a Y4M file as 16-bit samples; with `only`, the file must hold exactly that
/// one frame (for PNG output).
pub fn y4m_frame(path: &Path, index: usize, only: bool) -> Result<YCbCr> {
    let mut reader = Reader::open(path).with_context(|| format!("reading {}", path.display()))?;
    let info = reader.info().clone();
    let planes = if info.bit_depth > 8 {
        nth_frame::<u16>(&mut reader, path, index)?
    } else {
        nth_frame::<u8>(&mut reader, path, index)?
    };
    if only {
        let rest = reader
            .count_remaining()
            .with_context(|| format!("reading {}", path.display()))?;
        if rest > 0 {
            return Err(Usage(format!(
                "{} holds {} frames; PNG output takes a Y4M file of one frame (use \
                 `lut-filter look` to see one frame of a video)",
                path.display(),
                rest + 1
            ))
            .into());
        }
    }
    Ok(YCbCr {
        width: info.width,
        height: info.height,
        bit_depth: info.bit_depth,
        chroma_format: info.chroma_format,
        planes,
    })
}

fn nth_frame<T: FileSample>(
    reader: &mut Reader,
    path: &Path,
    index: usize,
) -> Result<[Vec<u16>; 3]> {
    let mut frame = Frame::<T>::default();
    for i in 0..=index {
        let more = reader
            .read_into(&mut frame)
            .with_context(|| format!("reading {}", path.display()))?;
        if !more {
            if i == 0 {
                bail!("reading {}: the file holds no frame", path.display());
            }
            return Err(Usage(format!(
                "--frame {index} is out of range: {} has {i} frame{} (0..={})",
                path.display(),
                if i == 1 { "" } else { "s" },
                i - 1
            ))
            .into());
        }
    }
    Ok(frame
        .planes
        .map(|p| p.into_iter().map(|s| s.to_i32() as u16).collect()))
}
