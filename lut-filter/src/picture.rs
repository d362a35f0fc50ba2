//! Borrowed picture planes in the codec's own memory layout (any stride, u8 / u16 / i16 samples).

use crate::Error;
use crate::description::Component;

/// A sample type the filter reads and writes: `u8`, `u16`, or `i16` (VTM's `Pel`).
pub trait Sample: Copy + Send + Sync + std::fmt::Debug + 'static {
    /// Largest bit depth the type can hold.
    const MAX_BIT_DEPTH: u8;
    /// Widens to i32.
    fn to_i32(self) -> i32;
    /// Narrows an i32 already clipped to the bit depth's range.
    fn from_i32(v: i32) -> Self;
    /// Whether [`Sample::as_words`] holds i16 values (else u16).
    #[doc(hidden)]
    const SIGNED: bool = false;
    /// The samples as 16-bit words, for the engine's SIMD row kernels: `Some` for `u16` and
    /// `i16`.
    #[doc(hidden)]
    fn as_words(_samples: &[Self]) -> Option<&[u16]> {
        None
    }
    /// [`Sample::as_words`], mutable.
    #[doc(hidden)]
    fn as_words_mut(_samples: &mut [Self]) -> Option<&mut [u16]> {
        None
    }
}

impl Sample for u8 {
    const MAX_BIT_DEPTH: u8 = 8;
    #[inline(always)]
    fn to_i32(self) -> i32 {
        i32::from(self)
    }
    #[inline(always)]
    fn from_i32(v: i32) -> Self {
        v as u8
    }
}

impl Sample for u16 {
    const MAX_BIT_DEPTH: u8 = 12;
    #[inline(always)]
    fn to_i32(self) -> i32 {
        i32::from(self)
    }
    #[inline(always)]
    fn from_i32(v: i32) -> Self {
        v as u16
    }
    fn as_words(samples: &[Self]) -> Option<&[u16]> {
        Some(samples)
    }
    fn as_words_mut(samples: &mut [Self]) -> Option<&mut [u16]> {
        Some(samples)
    }
}

impl Sample for i16 {
    const MAX_BIT_DEPTH: u8 = 12;
    #[inline(always)]
    fn to_i32(self) -> i32 {
        i32::from(self)
    }
    #[inline(always)]
    fn from_i32(v: i32) -> Self {
        v as i16
    }
    const SIGNED: bool = true;
    fn as_words(samples: &[Self]) -> Option<&[u16]> {
        Some(bytemuck::cast_slice(samples))
    }
    fn as_words_mut(samples: &mut [Self]) -> Option<&mut [u16]> {
        Some(bytemuck::cast_slice_mut(samples))
    }
}

/// Chroma sub-sampling of a picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChromaFormat {
    /// Luma only.
    Yuv400,
    /// Chroma halved in both directions.
    Yuv420,
    /// Chroma halved horizontally.
    Yuv422,
    /// No sub-sampling.
    Yuv444,
}

impl ChromaFormat {
    /// Sub-sampling factors (vertical, horizontal) of the chroma grid; `None` for 4:0:0.
    pub fn subsampling(self) -> Option<(usize, usize)> {
        match self {
            ChromaFormat::Yuv400 => None,
            ChromaFormat::Yuv420 => Some((2, 2)),
            ChromaFormat::Yuv422 => Some((1, 2)),
            ChromaFormat::Yuv444 => Some((1, 1)),
        }
    }

    /// Size (width, height) of the chroma planes for a luma size; (0, 0) for 4:0:0.
    pub fn chroma_size(self, width: usize, height: usize) -> (usize, usize) {
        match self.subsampling() {
            None => (0, 0),
            Some((sy, sx)) => (width.div_ceil(sx), height.div_ceil(sy)),
        }
    }
}

/// A read-only plane: `height` rows of `width` samples, rows `stride` samples apart.
#[derive(Clone, Copy, Debug)]
pub struct Plane<'a, T> {
    data: &'a [T],
    stride: usize,
    width: usize,
    height: usize,
}

fn check_geometry(len: usize, stride: usize, width: usize, height: usize) -> Result<(), Error> {
    if width == 0 || height == 0 {
        return Err(Error::Picture(format!(
            "plane size {width}x{height} is empty"
        )));
    }
    if stride < width {
        return Err(Error::Picture(format!(
            "stride {stride} is smaller than the width {width}"
        )));
    }
    let needed = stride
        .checked_mul(height - 1)
        .and_then(|v| v.checked_add(width))
        .ok_or_else(|| Error::Picture("plane size overflows".into()))?;
    if len < needed {
        return Err(Error::Picture(format!(
            "plane buffer holds {len} samples, {width}x{height} with stride {stride} needs {needed}"
        )));
    }
    Ok(())
}

impl<'a, T: Copy> Plane<'a, T> {
    /// Wraps `data`, checking that it holds `height` rows of `stride` samples (the last row
    /// needs only `width`).
    pub fn new(data: &'a [T], stride: usize, width: usize, height: usize) -> Result<Self, Error> {
        check_geometry(data.len(), stride, width, height)?;
        Ok(Plane {
            data,
            stride,
            width,
            height,
        })
    }

    /// Width in samples.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Height in samples.
    pub fn height(&self) -> usize {
        self.height
    }
    /// Stride in samples.
    pub fn stride(&self) -> usize {
        self.stride
    }
    /// Row `y` (exactly `width` samples).
    #[inline(always)]
    pub fn row(&self, y: usize) -> &'a [T] {
        &self.data[y * self.stride..y * self.stride + self.width]
    }
    /// Sample at (x, y).
    #[inline(always)]
    pub fn at(&self, x: usize, y: usize) -> T {
        self.data[y * self.stride + x]
    }
}

/// A writable plane with the same layout rules as [`Plane`].
#[derive(Debug)]
pub struct PlaneMut<'a, T> {
    data: &'a mut [T],
    stride: usize,
    width: usize,
    height: usize,
}

impl<'a, T: Copy> PlaneMut<'a, T> {
    /// Wraps `data` (see [`Plane::new`]).
    pub fn new(
        data: &'a mut [T],
        stride: usize,
        width: usize,
        height: usize,
    ) -> Result<Self, Error> {
        check_geometry(data.len(), stride, width, height)?;
        Ok(PlaneMut {
            data,
            stride,
            width,
            height,
        })
    }

    /// Width in samples.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Height in samples.
    pub fn height(&self) -> usize {
        self.height
    }
    /// Stride in samples.
    pub fn stride(&self) -> usize {
        self.stride
    }
    /// A read-only view.
    pub fn as_plane(&self) -> Plane<'_, T> {
        Plane {
            data: self.data,
            stride: self.stride,
            width: self.width,
            height: self.height,
        }
    }

    /// Row `y` (its `width` samples), writable.
    ///
    /// # Panics
    /// If `y >= height`.
    pub fn row_mut(&mut self, y: usize) -> &mut [T] {
        assert!(y < self.height, "row {y} of a {}-row plane", self.height);
        &mut self.data[y * self.stride..][..self.width]
    }

    /// Mutable slices of the region's rows, `x0..x0 + w` of rows `y0..y0 + h` (in bounds).
    pub(crate) fn region_rows(&mut self, region: Region) -> Vec<&mut [T]> {
        self.data
            .chunks_mut(self.stride)
            .skip(region.y)
            .take(region.height)
            .map(|row| &mut row[region.x..region.x + region.width])
            .collect()
    }
}

/// A rectangle of samples on a component's grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Region {
    /// Left column.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
}

impl Region {
    /// A region from its corner and size.
    pub fn new(x: usize, y: usize, width: usize, height: usize) -> Self {
        Region {
            x,
            y,
            width,
            height,
        }
    }

    /// Splits a `width x height` plane into `size x size` blocks in raster order (CTUs).
    pub fn blocks(width: usize, height: usize, size: usize) -> Vec<Region> {
        let mut out = Vec::new();
        for y in (0..height).step_by(size.max(1)) {
            for x in (0..width).step_by(size.max(1)) {
                out.push(Region::new(x, y, size.min(width - x), size.min(height - y)));
            }
        }
        out
    }
}

/// The reconstructed picture a model reads: all planes it may index (luma for cross-component
/// chroma models, the other chroma plane for joint chroma tables).
#[derive(Clone, Copy, Debug)]
pub struct Picture<'a, T> {
    /// Planes Y, U, V (U and V absent for 4:0:0).
    pub planes: [Option<Plane<'a, T>>; 3],
    /// Chroma format.
    pub chroma_format: ChromaFormat,
    /// Codec bit depth of the samples (8..=12).
    pub bit_depth: u8,
}

impl<'a, T: Sample> Picture<'a, T> {
    /// Builds a picture, checking that plane sizes agree with the chroma format and that the
    /// bit depth fits the sample type.
    pub fn new(
        y: Plane<'a, T>,
        u: Option<Plane<'a, T>>,
        v: Option<Plane<'a, T>>,
        chroma_format: ChromaFormat,
        bit_depth: u8,
    ) -> Result<Self, Error> {
        if !(8..=T::MAX_BIT_DEPTH).contains(&bit_depth) {
            return Err(Error::BitDepth {
                bit_depth,
                max: T::MAX_BIT_DEPTH,
            });
        }
        let (cw, ch) = chroma_format.chroma_size(y.width(), y.height());
        for (name, p) in [("U", &u), ("V", &v)] {
            match (chroma_format, p) {
                (ChromaFormat::Yuv400, None) => {}
                (ChromaFormat::Yuv400, Some(_)) => {
                    return Err(Error::Picture(format!(
                        "a 4:0:0 picture has no {name} plane"
                    )));
                }
                (_, None) => {
                    return Err(Error::Picture(format!(
                        "the {name} plane is missing for {chroma_format:?}"
                    )));
                }
                (_, Some(p)) => {
                    if (p.width(), p.height()) != (cw, ch) {
                        return Err(Error::Picture(format!(
                            "{name} plane is {}x{}, {chroma_format:?} with luma {}x{} needs {cw}x{ch}",
                            p.width(),
                            p.height(),
                            y.width(),
                            y.height()
                        )));
                    }
                }
            }
        }
        Ok(Picture {
            planes: [Some(y), u, v],
            chroma_format,
            bit_depth,
        })
    }

    /// The plane of `c`, if present.
    pub fn plane(&self, c: Component) -> Option<Plane<'a, T>> {
        self.planes[c.index()]
    }
}
