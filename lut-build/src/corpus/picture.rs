//! 10-bit 4:2:0 pictures and PSNR as VTM/VVenC report it.

/// Sample bit depth of every picture in the corpus layer (VVC internal bit depth).
pub const BIT_DEPTH: u32 = 10;

/// Peak value of the VTM/VVenC PSNR at 10 bit: `255 << (10 - 8)` (not 1023).
pub const PSNR_PEAK: f64 = 1020.0;

/// PSNR reported for a picture with zero error (VTM's convention).
pub const PSNR_LOSSLESS: f64 = 999.99;

/// One 10-bit 4:2:0 picture: three planes, row-major, no padding (stride = plane width).
///
/// Originals use VTM's convention for 8-bit sources: samples are shifted left by 2
/// (MSB extension); 10-bit sources are taken as they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture10 {
    /// Luma width in samples.
    pub width: usize,
    /// Luma height in samples.
    pub height: usize,
    /// Luma, `width * height` samples.
    pub y: Vec<u16>,
    /// Cb, `chroma_width() * chroma_height()` samples.
    pub u: Vec<u16>,
    /// Cr, same size as `u`.
    pub v: Vec<u16>,
    /// Picture order count as the decoder reported it (`None` for originals).
    pub poc: Option<i64>,
    /// Slice QP from the encoder log (`None` for originals, or when no log was found).
    pub slice_qp: Option<i32>,
    /// Intra or inter, from the encoder log's slice type (`None` as for `slice_qp`).
    pub kind: Option<lut_filter::PictureKind>,
}

impl Picture10 {
    /// An all-zero picture of the given luma size.
    pub fn zeroed(width: usize, height: usize) -> Self {
        let c = width.div_ceil(2) * height.div_ceil(2);
        Self {
            width,
            height,
            y: vec![0; width * height],
            u: vec![0; c],
            v: vec![0; c],
            poc: None,
            slice_qp: None,
            kind: None,
        }
    }

    /// Chroma plane width.
    pub fn chroma_width(&self) -> usize {
        self.width.div_ceil(2)
    }

    /// Chroma plane height.
    pub fn chroma_height(&self) -> usize {
        self.height.div_ceil(2)
    }

    /// Plane `c` (0 = Y, 1 = Cb, 2 = Cr).
    ///
    /// # Panics
    /// If `c > 2`.
    pub fn plane(&self, c: usize) -> &[u16] {
        match c {
            0 => &self.y,
            1 => &self.u,
            2 => &self.v,
            _ => panic!("plane index {c} out of range"),
        }
    }

    /// Mutable plane `c` (0 = Y, 1 = Cb, 2 = Cr).
    ///
    /// # Panics
    /// If `c > 2`.
    pub fn plane_mut(&mut self, c: usize) -> &mut Vec<u16> {
        match c {
            0 => &mut self.y,
            1 => &mut self.u,
            2 => &mut self.v,
            _ => panic!("plane index {c} out of range"),
        }
    }

    /// `(width, height)` of plane `c`.
    pub fn plane_size(&self, c: usize) -> (usize, usize) {
        if c == 0 {
            (self.width, self.height)
        } else {
            (self.chroma_width(), self.chroma_height())
        }
    }

    /// Total number of samples (Y + Cb + Cr).
    pub fn samples(&self) -> usize {
        self.y.len() + self.u.len() + self.v.len()
    }

    /// Plane `c` as the runtime's plane view.
    ///
    /// # Errors
    /// If the picture is not consistent ([`Picture10::is_consistent`]).
    pub fn plane_view(&self, c: usize) -> Result<lut_filter::Plane<'_, u16>, lut_filter::Error> {
        let (w, h) = self.plane_size(c);
        lut_filter::Plane::new(self.plane(c), w, w, h)
    }

    /// The picture as the runtime's 10-bit 4:2:0 picture view.
    ///
    /// # Errors
    /// If the picture is not consistent ([`Picture10::is_consistent`]).
    pub fn view(&self) -> Result<lut_filter::Picture<'_, u16>, lut_filter::Error> {
        lut_filter::Picture::new(
            self.plane_view(0)?,
            Some(self.plane_view(1)?),
            Some(self.plane_view(2)?),
            lut_filter::ChromaFormat::Yuv420,
            BIT_DEPTH as u8,
        )
    }

    /// Whether the plane lengths agree with `width` and `height`.
    pub fn is_consistent(&self) -> bool {
        let c = self.chroma_width() * self.chroma_height();
        self.y.len() == self.width * self.height && self.u.len() == c && self.v.len() == c
    }
}

/// Sum of squared differences of two equally long planes.
///
/// # Panics
/// If the lengths differ.
pub fn ssd(a: &[u16], b: &[u16]) -> u64 {
    assert_eq!(a.len(), b.len(), "planes of different sizes");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = i64::from(x) - i64::from(y);
            (d * d) as u64
        })
        .sum()
}

/// PSNR of one plane, VTM convention: `10 log10(1020^2 * n / SSD)`, 999.99 when SSD is 0.
pub fn plane_psnr(a: &[u16], b: &[u16]) -> f64 {
    let e = ssd(a, b);
    if e == 0 {
        PSNR_LOSSLESS
    } else {
        10.0 * (PSNR_PEAK * PSNR_PEAK * a.len() as f64 / e as f64).log10()
    }
}

/// Y, Cb, Cr PSNR of one picture against its original.
///
/// # Panics
/// If the pictures differ in size.
pub fn picture_psnr(original: &Picture10, reconstruction: &Picture10) -> [f64; 3] {
    assert_eq!(
        (original.width, original.height),
        (reconstruction.width, reconstruction.height),
        "pictures of different sizes"
    );
    std::array::from_fn(|c| plane_psnr(original.plane(c), reconstruction.plane(c)))
}

/// Sequence PSNR as VTM/VVenC report it: the mean of the per-picture PSNRs, per component.
/// `[0.0; 3]` for empty input.
///
/// # Panics
/// If the sequences differ in length or a pair differs in size.
pub fn sequence_psnr<O, R>(originals: &[O], reconstructions: &[R]) -> [f64; 3]
where
    O: AsRef<Picture10>,
    R: AsRef<Picture10>,
{
    assert_eq!(
        originals.len(),
        reconstructions.len(),
        "sequences of different lengths"
    );
    let mut sum = [0.0f64; 3];
    for (o, r) in originals.iter().zip(reconstructions) {
        let p = picture_psnr(o.as_ref(), r.as_ref());
        for c in 0..3 {
            sum[c] += p[c];
        }
    }
    let n = originals.len().max(1) as f64;
    sum.map(|s| s / n)
}

/// Largest absolute sample difference per component.
///
/// # Panics
/// If the pictures differ in size.
pub fn max_abs_diff(a: &Picture10, b: &Picture10) -> [u16; 3] {
    assert_eq!((a.width, a.height), (b.width, b.height));
    std::array::from_fn(|c| {
        a.plane(c)
            .iter()
            .zip(b.plane(c))
            .map(|(&x, &y)| x.abs_diff(y))
            .max()
            .unwrap_or(0)
    })
}

impl AsRef<Picture10> for Picture10 {
    fn as_ref(&self) -> &Picture10 {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psnr_conventions() {
        let a = Picture10::zeroed(4, 2);
        let mut b = a.clone();
        assert_eq!(picture_psnr(&a, &b), [PSNR_LOSSLESS; 3]);
        b.y[0] = 4; // SSD 16 over 8 samples: MSE 2
        let expect = 10.0 * (1020.0f64 * 1020.0 / 2.0).log10();
        assert!((picture_psnr(&a, &b)[0] - expect).abs() < 1e-12);
        assert_eq!(max_abs_diff(&a, &b), [4, 0, 0]);
        let s = sequence_psnr(&[a.clone(), a.clone()], &[a, b]);
        assert!((s[0] - (PSNR_LOSSLESS + expect) / 2.0).abs() < 1e-9);
    }
}
