//! Filtering: argument validation, then the library's `Model::filter_region`.

use std::ffi::c_void;
use std::ops::Range;

use lut_filter::{ChromaFormat, Picture, PictureKind, Plane, PlaneMut, Region, Sample};

use crate::context::{component, ctx_ref, lutf_ctx};
use crate::status::{Failure, FfiResult, guard, lutf_status};
use crate::types::{lutf_picture, lutf_region};
use lutf_status::*;

/// A plane whose geometry has been checked; the pointer has not been dereferenced yet.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CheckedPlane<T> {
    pub(crate) ptr: *const T,
    pub(crate) stride: usize,
    pub(crate) width: usize,
    pub(crate) height: usize,
    /// Samples the plane spans: `stride * (height - 1) + width`.
    pub(crate) len: usize,
}

impl<T> CheckedPlane<T> {
    /// Byte addresses the plane spans.
    pub(crate) fn bytes(&self) -> Range<usize> {
        let start = self.ptr as usize;
        start..start + self.len * size_of::<T>()
    }

    /// The plane as a slice.
    ///
    /// # Safety
    /// The caller's guarantee: `ptr` addresses `len` readable samples that nothing writes for
    /// `'a`.
    pub(crate) unsafe fn slice<'a>(&self) -> &'a [T] {
        // SAFETY: non-NULL, aligned and len * size_of::<T>() <= isize::MAX were checked in
        // `check_plane`; readability for 'a is the caller's guarantee.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// Checks the geometry of one plane (pointer, alignment, sizes, stride, total size).
pub(crate) fn check_plane<T>(
    name: &str,
    ptr: *const c_void,
    stride: isize,
    width: usize,
    height: usize,
) -> FfiResult<CheckedPlane<T>> {
    if ptr.is_null() {
        return Err(Failure::new(
            LUTF_ERR_NULL_POINTER,
            format!("{name} pointer is NULL"),
        ));
    }
    if !(ptr as usize).is_multiple_of(align_of::<T>()) {
        return Err(Failure::new(
            LUTF_ERR_ALIGNMENT,
            format!(
                "{name} pointer {ptr:p} is not aligned to {} bytes",
                align_of::<T>()
            ),
        ));
    }
    if width == 0 || height == 0 {
        return Err(Failure::new(
            LUTF_ERR_SIZE,
            format!("{name} size {width}x{height} is empty"),
        ));
    }
    let stride_ok = usize::try_from(stride).ok().filter(|&s| s >= width);
    let Some(stride) = stride_ok else {
        return Err(Failure::new(
            LUTF_ERR_STRIDE,
            format!("{name} stride {stride} is smaller than its width {width}"),
        ));
    };
    let len = stride
        .checked_mul(height - 1)
        .and_then(|v| v.checked_add(width))
        .filter(|&n| {
            n.checked_mul(size_of::<T>()).is_some_and(|b| {
                b <= isize::MAX as usize && (ptr as usize).checked_add(b).is_some()
            })
        })
        .ok_or_else(|| {
            Failure::new(
                LUTF_ERR_SIZE,
                format!(
                    "{name}: {width}x{height} with stride {stride} overflows the address space"
                ),
            )
        })?;
    Ok(CheckedPlane {
        ptr: ptr.cast(),
        stride,
        width,
        height,
        len,
    })
}

/// Positive i32 to usize.
pub(crate) fn positive(name: &str, v: i32) -> FfiResult<usize> {
    usize::try_from(v)
        .ok()
        .filter(|&v| v > 0)
        .ok_or_else(|| Failure::new(LUTF_ERR_SIZE, format!("{name} is {v}, must be > 0")))
}

/// A validated picture: format, bit depth and its planes (Y, then Cb, Cr unless 4:0:0).
#[derive(Debug)]
struct CheckedPicture<T> {
    format: ChromaFormat,
    bit_depth: u8,
    planes: Vec<CheckedPlane<T>>,
}

fn chroma_format(v: i32) -> FfiResult<ChromaFormat> {
    match v {
        0 => Ok(ChromaFormat::Yuv400),
        1 => Ok(ChromaFormat::Yuv420),
        2 => Ok(ChromaFormat::Yuv422),
        3 => Ok(ChromaFormat::Yuv444),
        _ => Err(Failure::new(
            LUTF_ERR_CHROMA_FORMAT,
            format!("chroma_format {v} is not 0 (4:0:0), 1 (4:2:0), 2 (4:2:2) or 3 (4:4:4)"),
        )),
    }
}

fn check_picture<T: Sample>(pic: &lutf_picture) -> FfiResult<CheckedPicture<T>> {
    let width = positive("picture width", pic.width)?;
    let height = positive("picture height", pic.height)?;
    let format = chroma_format(pic.chroma_format)?;
    let bit_depth = u8::try_from(pic.bit_depth)
        .ok()
        .filter(|b| (8..=T::MAX_BIT_DEPTH).contains(b))
        .ok_or_else(|| {
            Failure::new(
                LUTF_ERR_BIT_DEPTH,
                format!(
                    "bit depth {} is not supported for {} samples (8..={})",
                    pic.bit_depth,
                    std::any::type_name::<T>(),
                    T::MAX_BIT_DEPTH
                ),
            )
        })?;
    let (cw, ch) = format.chroma_size(width, height);
    let count = if format == ChromaFormat::Yuv400 { 1 } else { 3 };
    let mut planes = Vec::with_capacity(count);
    for (c, name) in ["Y plane", "Cb plane", "Cr plane"]
        .into_iter()
        .enumerate()
        .take(count)
    {
        let (w, h) = if c == 0 { (width, height) } else { (cw, ch) };
        planes.push(check_plane::<T>(name, pic.planes[c], pic.strides[c], w, h)?);
    }
    Ok(CheckedPicture {
        format,
        bit_depth,
        planes,
    })
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// The whole filter call, generic over the sample type.
///
/// # Safety
/// The guarantees of `lutf_filter_i16`.
#[allow(clippy::too_many_arguments)] // the C functions' arguments plus the picture kind
pub(crate) unsafe fn filter<T: Sample>(
    ctx: *const lutf_ctx,
    pic: *const lutf_picture,
    comp: i32,
    qp: i32,
    kind: Option<PictureKind>,
    region: *const lutf_region,
    dst: *mut T,
    dst_stride: isize,
) -> FfiResult {
    // SAFETY: forwarded caller guarantee.
    let ctx = unsafe { ctx_ref(ctx) }?;
    // SAFETY: a non-NULL pic is readable (caller guarantee); it is copied.
    let pic = *unsafe { pic.as_ref() }
        .ok_or_else(|| Failure::new(LUTF_ERR_NULL_POINTER, "picture is NULL"))?;
    let c = component(comp)?;
    let checked = check_picture::<T>(&pic)?;
    let target = *checked.planes.get(c.index()).ok_or_else(|| {
        Failure::new(
            LUTF_ERR_COMPONENT,
            format!("a 4:0:0 picture has no {} plane", c.name()),
        )
    })?;
    let region = if region.is_null() {
        Region::new(0, 0, target.width, target.height)
    } else {
        // SAFETY: non-NULL region is readable (caller guarantee); copied.
        let r = unsafe { *region };
        let inside = r.width > 0
            && r.height > 0
            && r.x >= 0
            && r.y >= 0
            && (i64::from(r.x) + i64::from(r.width)) <= target.width as i64
            && (i64::from(r.y) + i64::from(r.height)) <= target.height as i64;
        if !inside {
            return Err(Failure::new(
                LUTF_ERR_REGION,
                format!(
                    "region {},{} {}x{} is empty or not inside the {}x{} {} plane",
                    r.x,
                    r.y,
                    r.width,
                    r.height,
                    target.width,
                    target.height,
                    c.name()
                ),
            ));
        }
        // Non-negative, checked above.
        Region::new(
            r.x as usize,
            r.y as usize,
            r.width as usize,
            r.height as usize,
        )
    };
    let out = check_plane::<T>(
        "destination",
        dst.cast_const().cast(),
        dst_stride,
        target.width,
        target.height,
    )?;
    for (p, name) in checked.planes.iter().zip(["Y", "Cb", "Cr"]) {
        if overlaps(&out.bytes(), &p.bytes()) {
            return Err(Failure::new(
                LUTF_ERR_ALIASING,
                format!(
                    "the destination overlaps the source {name} plane; filter from a copy of \
                     the picture"
                ),
            ));
        }
    }

    // Everything is checked: build the views.
    // SAFETY: each plane addresses `len` readable samples not written during the call (caller
    // guarantee); the destination, the only memory written, overlaps none of them (checked).
    let slices: Vec<&[T]> = checked
        .planes
        .iter()
        .map(|p| unsafe { p.slice() })
        .collect();
    let mut planes = checked
        .planes
        .iter()
        .zip(&slices)
        .map(|(p, s)| Plane::new(s, p.stride, p.width, p.height));
    let y = planes
        .next()
        .ok_or_else(|| Failure::new(LUTF_ERR_INTERNAL, "no luma plane"))??;
    let u = planes.next().transpose()?;
    let v = planes.next().transpose()?;
    let picture = Picture::new(y, u, v, checked.format, checked.bit_depth)?;
    // Only the region's samples of the destination are viewed, so calls filtering disjoint
    // regions of one destination plane concurrently (CTUs on several threads) never hold
    // overlapping mutable views.
    let start = region.y * out.stride + region.x;
    let len = out.stride * (region.height - 1) + region.width;
    // SAFETY: `out` was checked (non-NULL, aligned, `out.len` samples in bounds) and the region
    // lies inside the plane, so `start + len <= out.len`; the caller guarantees the region's
    // samples are writable and accessed by no one else during the call; the destination
    // overlaps no source plane (checked).
    let dst_slice = unsafe { std::slice::from_raw_parts_mut(out.ptr.cast_mut().add(start), len) };

    match ctx.container.select_for(c, qp, kind) {
        Some(model) => {
            let mut dst_region = PlaneMut::new(dst_slice, out.stride, region.width, region.height)?;
            ctx.pool()
                .install(|| model.filter_region_into(&picture, region, &mut dst_region))?;
            Ok(LUTF_OK)
        }
        None => {
            copy_region(&target, slices[c.index()], region, dst_slice, out.stride);
            Ok(LUTF_NOT_FILTERED)
        }
    }
}

/// Copies `region` of the source plane unchanged into `dst`, a view starting at the region's
/// first sample.
fn copy_region<T: Copy>(
    src: &CheckedPlane<T>,
    data: &[T],
    region: Region,
    dst: &mut [T],
    dst_stride: usize,
) {
    for row in 0..region.height {
        let s = (region.y + row) * src.stride + region.x;
        let d = row * dst_stride;
        dst[d..d + region.width].copy_from_slice(&data[s..s + region.width]);
    }
}

/// Filters `region` of component `component` of `picture` (`int16_t` samples, VTM's `Pel`, bit
/// depth 8..=12) with the model `ctx` selects for slice QP `slice_qp`, writing the filtered
/// samples to the same positions of `dst`.
///
/// `dst` (stride `dst_stride` samples) is a plane of the component's size; its samples outside
/// the region are not touched. `region` is on the component's grid (chroma coordinates for
/// Cb/Cr) and must be non-empty and inside the plane; NULL means the whole plane. The filter
/// reads the unfiltered source around the region (up to the model's margin, clamped at the
/// picture edges; buffer margins are never read), so filtering a picture region by region (e.g.
/// CTU by CTU) gives exactly the result of one whole-plane call, for every thread count.
///
/// Returns `LUTF_OK`; `LUTF_NOT_FILTERED` when the context has no model for the component (the
/// region is then copied unchanged to `dst`); or a negative error, with nothing written.
///
/// # Safety
/// `ctx` must be NULL or a live context; `picture` and `region` NULL or readable. The picture's
/// planes must satisfy the `lutf_picture` guarantees. `dst` must be NULL or address
/// `dst_stride * (plane height - 1) + plane width` writable, aligned samples that nothing else
/// reads or writes during the call. Source planes and destination must be distinct buffers
/// (checked: `LUTF_ERR_ALIASING`); filter from a copy of the reconstruction, as ALF does.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_filter_i16(
    ctx: *const lutf_ctx,
    picture: *const lutf_picture,
    component: i32,
    slice_qp: i32,
    region: *const lutf_region,
    dst: *mut i16,
    dst_stride: isize,
) -> lutf_status {
    // SAFETY: forwarded caller guarantees.
    guard(|| unsafe {
        filter::<i16>(
            ctx, picture, component, slice_qp, None, region, dst, dst_stride,
        )
    })
}

/// `lutf_filter_i16` for `uint16_t` samples (bit depth 8..=12).
///
/// # Safety
/// As `lutf_filter_i16`, with `uint16_t` planes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_filter_u16(
    ctx: *const lutf_ctx,
    picture: *const lutf_picture,
    component: i32,
    slice_qp: i32,
    region: *const lutf_region,
    dst: *mut u16,
    dst_stride: isize,
) -> lutf_status {
    // SAFETY: forwarded caller guarantees.
    guard(|| unsafe {
        filter::<u16>(
            ctx, picture, component, slice_qp, None, region, dst, dst_stride,
        )
    })
}

/// `lutf_filter_i16` for `uint8_t` samples (bit depth 8 only).
///
/// # Safety
/// As `lutf_filter_i16`, with `uint8_t` planes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_filter_u8(
    ctx: *const lutf_ctx,
    picture: *const lutf_picture,
    component: i32,
    slice_qp: i32,
    region: *const lutf_region,
    dst: *mut u8,
    dst_stride: isize,
) -> lutf_status {
    // SAFETY: forwarded caller guarantees.
    guard(|| unsafe {
        filter::<u8>(
            ctx, picture, component, slice_qp, None, region, dst, dst_stride,
        )
    })
}
