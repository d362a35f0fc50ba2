//! The numbers behind the pictures: pictures brought to one bit depth, PSNR as VTM reports it,
//! the per-block change of squared error, and the choice of the zoomed window.

use serde::Serialize;

use super::LookError;
use crate::{ChromaFormat, Picture, Plane};

/// PSNR of a plane without error (VTM's convention).
pub const ZERO_ERROR_PSNR: f64 = 999.99;

/// An owned copy of a picture at a (possibly higher) bit depth: samples shifted left by the
/// difference, rows packed.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    pub width: usize,
    pub height: usize,
    pub chroma_format: ChromaFormat,
    pub bit_depth: u8,
    pub planes: [Vec<u16>; 3],
}

impl Frame {
    /// Copies `picture`, scaled to `bit_depth` (at least the picture's).
    pub fn scaled(picture: &Picture<'_, u16>, bit_depth: u8) -> Self {
        let shift = bit_depth.saturating_sub(picture.bit_depth);
        let planes = picture.planes.map(|p| {
            p.map_or_else(Vec::new, |p| {
                let mut out = Vec::with_capacity(p.width() * p.height());
                for y in 0..p.height() {
                    out.extend(p.row(y).iter().map(|&s| s << shift));
                }
                out
            })
        });
        let luma = picture.planes[0].map_or((0, 0), |p| (p.width(), p.height()));
        Frame {
            width: luma.0,
            height: luma.1,
            chroma_format: picture.chroma_format,
            bit_depth,
            planes,
        }
    }

    /// (width, height) of each plane.
    pub fn sizes(&self) -> [(usize, usize); 3] {
        let c = self.chroma_format.chroma_size(self.width, self.height);
        [(self.width, self.height), c, c]
    }

    /// The library's view of the planes; `luma_only` leaves chroma out (4:0:0).
    pub fn picture(&self, luma_only: bool) -> Result<Picture<'_, u16>, LookError> {
        let sizes = self.sizes();
        let y = Plane::new(&self.planes[0], self.width, self.width, self.height)?;
        if luma_only || self.chroma_format == ChromaFormat::Yuv400 {
            return Ok(Picture::new(
                y,
                None,
                None,
                ChromaFormat::Yuv400,
                self.bit_depth,
            )?);
        }
        let (cw, ch) = sizes[1];
        let u = Plane::new(&self.planes[1], cw, cw, ch)?;
        let v = Plane::new(&self.planes[2], cw, cw, ch)?;
        Ok(Picture::new(
            y,
            Some(u),
            Some(v),
            self.chroma_format,
            self.bit_depth,
        )?)
    }
}

/// Sum of squared differences.
pub fn sse(a: &[u16], b: &[u16]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = u64::from(x.abs_diff(y));
            d * d
        })
        .sum()
}

/// PSNR as VTM reports it (DESIGN §4): peak `255 << (bit_depth - 8)` (1020 at 10 bit),
/// `10 log10(peak^2 samples / sse)`, [`ZERO_ERROR_PSNR`] when `sse` is 0.
pub fn psnr(sse: u64, samples: usize, bit_depth: u8) -> f64 {
    if sse == 0 {
        return ZERO_ERROR_PSNR;
    }
    let peak = f64::from(255u32 << (bit_depth.max(8) - 8));
    10.0 * (peak * peak * samples as f64 / sse as f64).log10()
}

/// PSNR of Y, U, V in dB (`None` for absent chroma).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PlanePsnr {
    /// Luma.
    pub y: f64,
    /// Cb.
    pub u: Option<f64>,
    /// Cr.
    pub v: Option<f64>,
}

impl PlanePsnr {
    pub(crate) fn of(reference: &Frame, test: &Frame) -> Self {
        let sizes = reference.sizes();
        let p = |i: usize| {
            let (w, h) = sizes[i];
            (w * h > 0 && !reference.planes[i].is_empty()).then(|| {
                psnr(
                    sse(&reference.planes[i], &test.planes[i]),
                    w * h,
                    reference.bit_depth,
                )
            })
        };
        PlanePsnr {
            y: p(0).unwrap_or(ZERO_ERROR_PSNR),
            u: p(1),
            v: p(2),
        }
    }

    /// `self - other`, plane by plane.
    pub fn minus(&self, other: &PlanePsnr) -> PlanePsnr {
        let d = |a: Option<f64>, b: Option<f64>| Some(a? - b?);
        PlanePsnr {
            y: self.y - other.y,
            u: d(self.u, other.u),
            v: d(self.v, other.v),
        }
    }
}

/// Per-block change of squared error against the original:
/// `delta[r * columns + c] = SSE(filtered, original) - SSE(reconstruction, original)` over the
/// luma samples of block (c, r). Negative: the filter brought the block closer to the
/// original. Blocks at the right and bottom edges may be smaller than `block`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockMap {
    /// Block side in luma samples.
    pub block: usize,
    /// Blocks per row.
    pub columns: usize,
    /// Block rows.
    pub rows: usize,
    /// Change of SSE per block, row-major.
    pub delta: Vec<i64>,
}

impl BlockMap {
    /// Computes the map from packed luma planes of `width` x `height` (`block` >= 1).
    pub fn new(
        original: &[u16],
        reconstruction: &[u16],
        filtered: &[u16],
        width: usize,
        height: usize,
        block: usize,
    ) -> Self {
        let block = block.max(1);
        let (columns, rows) = (width.div_ceil(block), height.div_ceil(block));
        let mut delta = vec![0i64; columns * rows];
        for y in 0..height {
            let range = y * width..(y + 1) * width;
            let (o, r, f) = (
                &original[range.clone()],
                &reconstruction[range.clone()],
                &filtered[range],
            );
            let row = &mut delta[(y / block) * columns..(y / block + 1) * columns];
            for x in 0..width {
                let er = i64::from(o[x]) - i64::from(r[x]);
                let ef = i64::from(o[x]) - i64::from(f[x]);
                row[x / block] += ef * ef - er * er;
            }
        }
        BlockMap {
            block,
            columns,
            rows,
            delta,
        }
    }

    /// Largest |delta| (the scale of the colours), at least 1.
    pub fn scale(&self) -> u64 {
        self.delta
            .iter()
            .map(|d| d.unsigned_abs())
            .max()
            .unwrap_or(0)
            .max(1)
    }

    /// (better, worse, unchanged) block counts.
    pub fn counts(&self) -> (usize, usize, usize) {
        let better = self.delta.iter().filter(|&&d| d < 0).count();
        let worse = self.delta.iter().filter(|&&d| d > 0).count();
        (better, worse, self.delta.len() - better - worse)
    }
}

/// A window of the luma plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Left.
    pub x: usize,
    /// Top.
    pub y: usize,
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
    /// Sum of |filtered - reconstruction| over the window (luma codes at the computation bit
    /// depth).
    pub change: u64,
}

/// The `size` x `size` window (smaller if the picture is) where the filter changed the luma
/// most: the largest sum of |filtered - reconstruction|, over every position (an integral
/// image makes each sum O(1)). Ties go to the first position in raster order; when nothing
/// changed, the centred window.
pub fn choose_crop(
    reconstruction: &[u16],
    filtered: &[u16],
    width: usize,
    height: usize,
    size: usize,
) -> Window {
    let (cw, ch) = (size.min(width).max(1), size.min(height).max(1));
    // integral[(y) * (width + 1) + x] = sum over [0, x) x [0, y).
    let stride = width + 1;
    let mut integral = vec![0u64; stride * (height + 1)];
    for y in 0..height {
        let mut row_sum = 0u64;
        for x in 0..width {
            let i = y * width + x;
            row_sum += u64::from(reconstruction[i].abs_diff(filtered[i]));
            integral[(y + 1) * stride + x + 1] = integral[y * stride + x + 1] + row_sum;
        }
    }
    let at = |x: usize, y: usize| integral[y * stride + x];
    let mut best = Window {
        x: (width - cw) / 2,
        y: (height - ch) / 2,
        width: cw,
        height: ch,
        change: 0,
    };
    for y in 0..=height.saturating_sub(ch) {
        for x in 0..=width.saturating_sub(cw) {
            let sum = at(x + cw, y + ch) + at(x, y) - at(x + cw, y) - at(x, y + ch);
            if sum > best.change {
                best = Window {
                    x,
                    y,
                    width: cw,
                    height: ch,
                    change: sum,
                };
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psnr_follows_vtm() {
        assert_eq!(psnr(0, 100, 10), ZERO_ERROR_PSNR);
        // One sample off by 1 in 1 sample at 8 bit: 20 log10(255).
        assert!((psnr(1, 1, 8) - 48.1308).abs() < 1e-4);
        // Peak 1020 at 10 bit.
        assert!((psnr(1, 1, 10) - 20.0 * 1020f64.log10()).abs() < 1e-9);
    }

    #[test]
    fn block_map_sign_and_edges() {
        // 5x3 picture, block 4: 2x1 blocks, the right one 1 sample wide.
        let orig = vec![100u16; 15];
        let mut recon = orig.clone();
        let mut filt = orig.clone();
        recon[0] = 104; // left block: recon error 4
        filt[0] = 101; // filter brings it closer: 1 - 16 = -15
        filt[4] = 103; // right block: filter adds error 3: +9
        let map = BlockMap::new(&orig, &recon, &filt, 5, 3, 4);
        assert_eq!((map.columns, map.rows), (2, 1));
        assert_eq!(map.delta, vec![-15, 9]);
        assert_eq!(map.scale(), 15);
        assert_eq!(map.counts(), (1, 1, 0));
    }

    #[test]
    fn crop_goes_where_the_change_is() {
        let (w, h) = (40, 30);
        let recon = vec![500u16; w * h];
        let mut filt = recon.clone();
        assert_eq!(
            choose_crop(&recon, &filt, w, h, 8),
            Window {
                x: 16,
                y: 11,
                width: 8,
                height: 8,
                change: 0
            }
        );
        for (x, y, d) in [(30, 20, 5u16), (31, 21, 5), (2, 2, 7)] {
            filt[y * w + x] += d;
        }
        let win = choose_crop(&recon, &filt, w, h, 8);
        assert_eq!(win.change, 10);
        assert!(
            win.x <= 30 && win.x + 8 > 31 && win.y <= 20 && win.y + 8 > 21,
            "{win:?}"
        );
        // A window larger than the picture is clipped to it.
        let win = choose_crop(&recon, &filt, w, h, 96);
        assert_eq!(
            (win.x, win.y, win.width, win.height, win.change),
            (0, 0, 40, 30, 17)
        );
    }

    #[test]
    fn frames_are_scaled_to_the_computation_depth() {
        let y = [1u16, 2, 3, 4];
        let c = [128u16];
        let pic = Picture::new(
            Plane::new(&y, 2, 2, 2).unwrap(),
            Some(Plane::new(&c, 1, 1, 1).unwrap()),
            Some(Plane::new(&c, 1, 1, 1).unwrap()),
            ChromaFormat::Yuv420,
            8,
        )
        .unwrap();
        let f = Frame::scaled(&pic, 10);
        assert_eq!(f.planes, [vec![4, 8, 12, 16], vec![512], vec![512]]);
        assert_eq!(f.picture(true).unwrap().chroma_format, ChromaFormat::Yuv400);
        let p = PlanePsnr::of(&f, &f);
        assert_eq!(p.u, Some(ZERO_ERROR_PSNR));
    }
}
