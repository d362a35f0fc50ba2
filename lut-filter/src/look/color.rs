//! R'G'B' <-> Y'CbCr conversion with a documented matrix, range and rounding.
//!
//! All arithmetic is `f64`; rounding is [`f64::round`] (half away from zero) followed by a
//! clip to the code range, so every conversion is deterministic and platform independent.
//!
//! ## Forward: R'G'B' codes -> Y'CbCr codes
//!
//! An `M`-bit R'G'B' code `c` (M = 8 or 16) is normalised to `E = c / (2^M - 1)` in `[0, 1]`
//! (no transfer function is applied: the values are taken as gamma-encoded as they are). With
//! the matrix constants `Kr`, `Kb` and `Kg = 1 - Kr - Kb` ([`Matrix`]):
//!
//! ```text
//! Y' = Kr R' + Kg G' + Kb B'                     in [0, 1]
//! Pb = (B' - Y') / (2 (1 - Kb))                  in [-1/2, 1/2]
//! Pr = (R' - Y') / (2 (1 - Kr))
//! ```
//!
//! At bit depth `N` (8..=12) with `s = 2^(N-8)`:
//!
//! ```text
//! limited:  Y = round(s (219 Y' + 16))           C = round(s (224 P + 128))
//! full:     Y = round((2^N - 1) Y')              C = round((2^N - 1) P + 2^(N-1))
//! ```
//!
//! each clipped to `[0, 2^N - 1]`.
//!
//! **Chroma sub-sampling** (4:2:0, 4:2:2): the *unrounded* `Pb`, `Pr` of the luma samples a
//! chroma sample covers (2x2 for 4:2:0, 2x1 for 4:2:2; fewer at an odd right or bottom edge)
//! are averaged, then quantised once. This puts the chroma sample at the centre of its luma
//! block (JPEG / MPEG-1 siting, Y4M `C420jpeg`).
//!
//! ## Inverse: Y'CbCr codes -> R'G'B' codes
//!
//! ```text
//! limited:  Y' = (Y / s - 16) / 219              P = (C / s - 128) / 224
//! full:     Y' = Y / (2^N - 1)                   P = (C - 2^(N-1)) / (2^N - 1)
//! R' = Y' + 2 (1 - Kr) Pr
//! B' = Y' + 2 (1 - Kb) Pb
//! G' = (Y' - Kr R' - Kb B') / Kg
//! code = round(clip(E, 0, 1) (2^M - 1))
//! ```
//!
//! Sub-sampled chroma is up-sampled by repetition (nearest neighbour): every luma sample uses
//! the chroma sample of its block. A 4:0:0 picture is shown with neutral chroma (grey).
//!
//! ## Round-trip loss (measured, see `docs/pictures.md`)
//!
//! 8-bit R'G'B' -> 4:4:4 -> 8-bit R'G'B' is within 1 code value for every one of the 2^24
//! colours at full range (tested exhaustively); at limited range the coarser steps
//! (255/219, 255/224) allow 2 code values; 4:2:0 loses colour detail at chroma edges.

use image::{ImageBuffer, Rgb, RgbImage};
use serde::Serialize;

use super::LookError;
use crate::{ChromaFormat, Picture, Plane};

/// The Y'CbCr matrix (the luma weights `Kr`, `Kb`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Matrix {
    /// ITU-R BT.601: Kr = 0.299, Kb = 0.114 (SD; the corpus' 8-bit originals were made with it).
    Bt601,
    /// ITU-R BT.709: Kr = 0.2126, Kb = 0.0722 (HD).
    #[default]
    Bt709,
    /// ITU-R BT.2020 non-constant luminance: Kr = 0.2627, Kb = 0.0593 (UHD, HLG/PQ).
    Bt2020,
}

impl Matrix {
    /// (Kr, Kb).
    pub fn weights(self) -> (f64, f64) {
        match self {
            Matrix::Bt601 => (0.299, 0.114),
            Matrix::Bt709 => (0.2126, 0.0722),
            Matrix::Bt2020 => (0.2627, 0.0593),
        }
    }
}

/// The code range of the Y'CbCr samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Range {
    /// "TV" range: luma 16..=235, chroma 16..=240 (times 2^(N-8)).
    #[default]
    Limited,
    /// "PC" range: 0..=2^N-1 for all components.
    Full,
}

/// Matrix and range: everything the conversion needs besides the bit depths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ColorSpec {
    /// Luma weights.
    pub matrix: Matrix,
    /// Code range.
    pub range: Range,
}

/// Owned Y'CbCr planes (rows packed, stride = width), e.g. a converted still.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YCbCr {
    /// Luma width.
    pub width: usize,
    /// Luma height.
    pub height: usize,
    /// Bit depth of the samples (8..=12).
    pub bit_depth: u8,
    /// Chroma sub-sampling.
    pub chroma_format: ChromaFormat,
    /// Y, Cb, Cr (Cb and Cr empty for 4:0:0).
    pub planes: [Vec<u16>; 3],
}

impl YCbCr {
    /// (width, height) of each plane ((0, 0) for absent chroma).
    pub fn plane_sizes(&self) -> [(usize, usize); 3] {
        let c = self.chroma_format.chroma_size(self.width, self.height);
        [(self.width, self.height), c, c]
    }

    /// The library's view of the planes (for filtering or rendering).
    pub fn picture(&self) -> Result<Picture<'_, u16>, LookError> {
        let sizes = self.plane_sizes();
        let plane = |i: usize| -> Result<Option<Plane<'_, u16>>, LookError> {
            if i > 0 && self.chroma_format == ChromaFormat::Yuv400 {
                return Ok(None);
            }
            let (w, h) = sizes[i];
            Ok(Some(Plane::new(&self.planes[i], w, w, h)?))
        };
        let y = plane(0)?.ok_or_else(|| LookError::Input("no luma plane".into()))?;
        Ok(Picture::new(
            y,
            plane(1)?,
            plane(2)?,
            self.chroma_format,
            self.bit_depth,
        )?)
    }
}

/// The per-sample arithmetic of one matrix, range and bit depth.
#[derive(Clone, Copy, Debug)]
pub struct Converter {
    kr: f64,
    kb: f64,
    kg: f64,
    range: Range,
    bit_depth: u8,
    max: f64,
}

impl Converter {
    /// Conversion to or from `bit_depth`-bit (8..=16) Y'CbCr codes.
    pub fn new(spec: ColorSpec, bit_depth: u8) -> Result<Self, LookError> {
        if !(8..=16).contains(&bit_depth) {
            return Err(LookError::Input(format!(
                "Y'CbCr bit depth {bit_depth} is not supported (8..=16)"
            )));
        }
        let (kr, kb) = spec.matrix.weights();
        Ok(Converter {
            kr,
            kb,
            kg: 1.0 - kr - kb,
            range: spec.range,
            bit_depth,
            max: f64::from((1u32 << bit_depth) - 1),
        })
    }

    fn scale(&self) -> f64 {
        f64::from(1u32 << (self.bit_depth - 8))
    }

    fn clip(&self, v: f64) -> u16 {
        v.round().clamp(0.0, self.max) as u16
    }

    /// Normalised R'G'B' in [0, 1] -> (Y', Pb, Pr), unquantised.
    pub fn analyse(&self, r: f64, g: f64, b: f64) -> (f64, f64, f64) {
        let y = self.kr * r + self.kg * g + self.kb * b;
        (
            y,
            (b - y) / (2.0 * (1.0 - self.kb)),
            (r - y) / (2.0 * (1.0 - self.kr)),
        )
    }

    /// Quantises Y' in [0, 1] to a luma code.
    pub fn luma_code(&self, y: f64) -> u16 {
        match self.range {
            Range::Limited => self.clip(self.scale() * (219.0 * y + 16.0)),
            Range::Full => self.clip(self.max * y),
        }
    }

    /// Quantises Pb or Pr in [-1/2, 1/2] to a chroma code.
    pub fn chroma_code(&self, p: f64) -> u16 {
        match self.range {
            Range::Limited => self.clip(self.scale() * (224.0 * p + 128.0)),
            Range::Full => self.clip(self.max * p + f64::from(1u32 << (self.bit_depth - 1))),
        }
    }

    /// The neutral (grey) chroma code.
    pub fn neutral_chroma(&self) -> u16 {
        1 << (self.bit_depth - 1)
    }

    /// Y'CbCr codes -> normalised R'G'B', clipped to [0, 1].
    pub fn synthesise(&self, y: u16, cb: u16, cr: u16) -> [f64; 3] {
        let (y, pb, pr) = match self.range {
            Range::Limited => {
                let s = self.scale();
                (
                    (f64::from(y) / s - 16.0) / 219.0,
                    (f64::from(cb) / s - 128.0) / 224.0,
                    (f64::from(cr) / s - 128.0) / 224.0,
                )
            }
            Range::Full => {
                let half = f64::from(1u32 << (self.bit_depth - 1));
                (
                    f64::from(y) / self.max,
                    (f64::from(cb) - half) / self.max,
                    (f64::from(cr) - half) / self.max,
                )
            }
        };
        let r = y + 2.0 * (1.0 - self.kr) * pr;
        let b = y + 2.0 * (1.0 - self.kb) * pb;
        let g = (y - self.kr * r - self.kb * b) / self.kg;
        [r, g, b].map(|v| v.clamp(0.0, 1.0))
    }
}

/// Converts interleaved R'G'B' samples (`rgb_max` = 255 for 8-bit, 65535 for 16-bit sources)
/// to Y'CbCr at `bit_depth` (8..=12) in `chroma_format`, with the formulas of the module docs.
pub fn rgb_to_ycbcr<T: Copy + Into<f64>>(
    rgb: &[T],
    width: usize,
    height: usize,
    rgb_max: f64,
    bit_depth: u8,
    chroma_format: ChromaFormat,
    spec: ColorSpec,
) -> Result<YCbCr, LookError> {
    if width == 0 || height == 0 {
        return Err(LookError::Input(format!(
            "the image is empty ({width}x{height})"
        )));
    }
    if rgb.len() != width * height * 3 {
        return Err(LookError::Input(format!(
            "{} R'G'B' values do not make a {width}x{height} image",
            rgb.len()
        )));
    }
    if bit_depth > 12 {
        return Err(LookError::Input(format!(
            "bit depth {bit_depth} is not supported for pictures (8..=12)"
        )));
    }
    let conv = Converter::new(spec, bit_depth)?;
    let n = width * height;
    let mut luma = Vec::with_capacity(n);
    let mut pb = Vec::with_capacity(n);
    let mut pr = Vec::with_capacity(n);
    for px in rgb.chunks_exact(3) {
        let [r, g, b] = [px[0], px[1], px[2]].map(|v| v.into() / rgb_max);
        let (y, u, v) = conv.analyse(r, g, b);
        luma.push(conv.luma_code(y));
        pb.push(u);
        pr.push(v);
    }
    let mut planes = [luma, Vec::new(), Vec::new()];
    if let Some((sy, sx)) = chroma_format.subsampling() {
        let (cw, ch) = chroma_format.chroma_size(width, height);
        for (dst, src) in planes[1..].iter_mut().zip([&pb, &pr]) {
            dst.reserve(cw * ch);
            for cy in 0..ch {
                for cx in 0..cw {
                    let (mut sum, mut count) = (0.0, 0.0);
                    for y in cy * sy..((cy + 1) * sy).min(height) {
                        for x in cx * sx..((cx + 1) * sx).min(width) {
                            sum += src[y * width + x];
                            count += 1.0;
                        }
                    }
                    dst.push(conv.chroma_code(sum / count));
                }
            }
        }
    }
    Ok(YCbCr {
        width,
        height,
        bit_depth,
        chroma_format,
        planes,
    })
}

/// An 8-bit R'G'B' image to Y'CbCr.
pub fn from_rgb8(
    image: &RgbImage,
    bit_depth: u8,
    chroma_format: ChromaFormat,
    spec: ColorSpec,
) -> Result<YCbCr, LookError> {
    let (w, h) = image.dimensions();
    let raw: &[u8] = image.as_raw();
    rgb_to_ycbcr(
        raw,
        w as usize,
        h as usize,
        255.0,
        bit_depth,
        chroma_format,
        spec,
    )
}

/// A 16-bit R'G'B' image to Y'CbCr.
pub fn from_rgb16(
    image: &ImageBuffer<Rgb<u16>, Vec<u16>>,
    bit_depth: u8,
    chroma_format: ChromaFormat,
    spec: ColorSpec,
) -> Result<YCbCr, LookError> {
    let (w, h) = image.dimensions();
    let raw: &[u16] = image.as_raw();
    rgb_to_ycbcr(
        raw,
        w as usize,
        h as usize,
        65535.0,
        bit_depth,
        chroma_format,
        spec,
    )
}

/// Calls `put(x, y, [r, g, b])` with the normalised R'G'B' of every sample of `picture`.
fn for_each_rgb(
    picture: &Picture<'_, u16>,
    spec: ColorSpec,
    mut put: impl FnMut(usize, usize, [f64; 3]),
) -> Result<(), LookError> {
    let conv = Converter::new(spec, picture.bit_depth)?;
    let luma = picture.planes[0].ok_or_else(|| LookError::Input("no luma plane".into()))?;
    let neutral = conv.neutral_chroma();
    let (sy, sx) = picture.chroma_format.subsampling().unwrap_or((1, 1));
    for y in 0..luma.height() {
        let row = luma.row(y);
        let chroma_rows = match (picture.planes[1], picture.planes[2]) {
            (Some(u), Some(v)) => Some((u.row(y / sy), v.row(y / sy))),
            _ => None,
        };
        for (x, &l) in row.iter().enumerate() {
            let (cb, cr) = chroma_rows.map_or((neutral, neutral), |(u, v)| (u[x / sx], v[x / sx]));
            put(x, y, conv.synthesise(l, cb, cr));
        }
    }
    Ok(())
}

/// Y'CbCr -> 8-bit R'G'B' (nearest-neighbour chroma up-sampling; neutral chroma for 4:0:0).
pub fn to_rgb8(picture: &Picture<'_, u16>, spec: ColorSpec) -> Result<RgbImage, LookError> {
    let (w, h) = picture_size(picture)?;
    let mut out = RgbImage::new(w, h);
    for_each_rgb(picture, spec, |x, y, rgb| {
        out.put_pixel(
            x as u32,
            y as u32,
            Rgb(rgb.map(|v| (v * 255.0).round() as u8)),
        );
    })?;
    Ok(out)
}

/// Y'CbCr -> 16-bit R'G'B' (for pictures deeper than 8 bits).
pub fn to_rgb16(
    picture: &Picture<'_, u16>,
    spec: ColorSpec,
) -> Result<ImageBuffer<Rgb<u16>, Vec<u16>>, LookError> {
    let (w, h) = picture_size(picture)?;
    let mut out = ImageBuffer::new(w, h);
    for_each_rgb(picture, spec, |x, y, rgb| {
        out.put_pixel(
            x as u32,
            y as u32,
            Rgb(rgb.map(|v| (v * 65535.0).round() as u16)),
        );
    })?;
    Ok(out)
}

fn picture_size(picture: &Picture<'_, u16>) -> Result<(u32, u32), LookError> {
    let luma = picture.planes[0].ok_or_else(|| LookError::Input("no luma plane".into()))?;
    let conv = |v: usize| {
        u32::try_from(v).map_err(|_| LookError::Input(format!("picture dimension {v} too large")))
    };
    Ok((conv(luma.width())?, conv(luma.height())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: ColorSpec = ColorSpec {
        matrix: Matrix::Bt709,
        range: Range::Full,
    };
    const LIMITED: ColorSpec = ColorSpec {
        matrix: Matrix::Bt709,
        range: Range::Limited,
    };

    #[test]
    fn reference_points() {
        // White, black and the primaries at limited range, 8 and 10 bit (BT.709 tables).
        let c8 = Converter::new(LIMITED, 8).unwrap();
        let code = |c: &Converter, r: f64, g: f64, b: f64| {
            let (y, u, v) = c.analyse(r, g, b);
            (c.luma_code(y), c.chroma_code(u), c.chroma_code(v))
        };
        assert_eq!(code(&c8, 1.0, 1.0, 1.0), (235, 128, 128));
        assert_eq!(code(&c8, 0.0, 0.0, 0.0), (16, 128, 128));
        assert_eq!(code(&c8, 1.0, 0.0, 0.0), (63, 102, 240));
        assert_eq!(code(&c8, 0.0, 0.0, 1.0), (32, 240, 118));
        let c10 = Converter::new(LIMITED, 10).unwrap();
        assert_eq!(code(&c10, 1.0, 1.0, 1.0), (940, 512, 512));
        assert_eq!(code(&c10, 0.0, 0.0, 0.0), (64, 512, 512));
        let f10 = Converter::new(FULL, 10).unwrap();
        assert_eq!(code(&f10, 1.0, 1.0, 1.0), (1023, 512, 512));
        // Pb = +1/2 clips to the top code.
        assert_eq!(code(&f10, 0.0, 0.0, 1.0).1, 1023);
        // BT.601 red.
        let s601 = Converter::new(
            ColorSpec {
                matrix: Matrix::Bt601,
                range: Range::Limited,
            },
            8,
        )
        .unwrap();
        assert_eq!(code(&s601, 1.0, 0.0, 0.0), (81, 90, 240));
    }

    fn round_trip_max(spec: ColorSpec, depth: u8, step: usize) -> u8 {
        let c = Converter::new(spec, depth).unwrap();
        let mut worst = 0u8;
        for r in (0..256).step_by(step) {
            for g in (0..256).step_by(step) {
                for b in (0..256).step_by(step) {
                    let n = [r, g, b].map(|v| v as f64 / 255.0);
                    let (y, u, v) = c.analyse(n[0], n[1], n[2]);
                    let back = c.synthesise(c.luma_code(y), c.chroma_code(u), c.chroma_code(v));
                    for (orig, back) in [r, g, b].iter().zip(back) {
                        let back = (back * 255.0).round() as i32;
                        worst = worst.max((back - *orig).unsigned_abs() as u8);
                    }
                }
            }
        }
        worst
    }

    #[test]
    fn full_range_444_8bit_round_trip_is_within_one_code_for_every_colour() {
        assert_eq!(round_trip_max(FULL, 8, 1), 1);
        for m in [Matrix::Bt601, Matrix::Bt2020] {
            let spec = ColorSpec {
                matrix: m,
                range: Range::Full,
            };
            assert!(round_trip_max(spec, 8, 3) <= 1, "{m:?}");
        }
    }

    #[test]
    fn limited_range_444_round_trip_bounds() {
        // 8-bit limited range: steps of 255/219 and 255/224 allow 2 code values.
        assert_eq!(round_trip_max(LIMITED, 8, 1), 2);
        // 10-bit limited range is fine enough for 1.
        assert!(round_trip_max(LIMITED, 10, 3) <= 1);
    }

    #[test]
    fn image_round_trip_444_and_420() {
        // A smooth 6x5 gradient (odd height: the last chroma row averages one luma row).
        let (w, h) = (6u32, 5u32);
        let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x * 40) as u8, (y * 50) as u8, 128]));
        let yuv = from_rgb8(&img, 8, ChromaFormat::Yuv444, FULL).unwrap();
        let back = to_rgb8(&yuv.picture().unwrap(), FULL).unwrap();
        for (a, b) in img.as_raw().iter().zip(back.as_raw()) {
            assert!(a.abs_diff(*b) <= 1);
        }
        let yuv = from_rgb8(&img, 10, ChromaFormat::Yuv420, LIMITED).unwrap();
        assert_eq!(yuv.plane_sizes(), [(6, 5), (3, 3), (3, 3)]);
        assert_eq!(yuv.planes[1].len(), 9);
        // Grey input gives neutral chroma after averaging.
        let grey = RgbImage::from_pixel(4, 4, Rgb([77, 77, 77]));
        let yuv = from_rgb8(&grey, 10, ChromaFormat::Yuv420, LIMITED).unwrap();
        assert!(
            yuv.planes[1]
                .iter()
                .chain(&yuv.planes[2])
                .all(|&c| c == 512)
        );
        let back = to_rgb8(&yuv.picture().unwrap(), LIMITED).unwrap();
        assert!(back.pixels().all(|p| p.0 == [77, 77, 77]));
        // 16-bit output keeps the depth.
        let deep = to_rgb16(&yuv.picture().unwrap(), LIMITED).unwrap();
        assert!(deep.pixels().all(|p| p.0[0].abs_diff(77 * 257) < 200));
    }

    #[test]
    fn chroma_is_the_average_of_the_unrounded_block() {
        // Two pixels pure red, two pure blue in one 2x2 block.
        let img = RgbImage::from_fn(2, 2, |x, _| {
            if x == 0 {
                Rgb([255, 0, 0])
            } else {
                Rgb([0, 0, 255])
            }
        });
        let yuv = from_rgb8(&img, 8, ChromaFormat::Yuv420, LIMITED).unwrap();
        let c = Converter::new(LIMITED, 8).unwrap();
        let (_, u1, v1) = c.analyse(1.0, 0.0, 0.0);
        let (_, u2, v2) = c.analyse(0.0, 0.0, 1.0);
        assert_eq!(yuv.planes[1], vec![c.chroma_code((u1 + u2) / 2.0)]);
        assert_eq!(yuv.planes[2], vec![c.chroma_code((v1 + v2) / 2.0)]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let raw = [0u8; 9];
        assert!(rgb_to_ycbcr(&raw, 2, 2, 255.0, 8, ChromaFormat::Yuv420, FULL).is_err());
        assert!(rgb_to_ycbcr(&raw, 0, 3, 255.0, 8, ChromaFormat::Yuv420, FULL).is_err());
        assert!(rgb_to_ycbcr(&raw[..3], 1, 1, 255.0, 13, ChromaFormat::Yuv420, FULL).is_err());
        assert!(Converter::new(FULL, 7).is_err());
    }
}
