//! Models for intra or inter pictures only (API 1.1): filtering and selection by slice type.
//!
//! A container may hold models meant for intra pictures, for inter pictures, or for all
//! (`lut-build fit --pictures`). The functions without a slice type treat every picture as of
//! unknown kind, which selects like an intra picture.

use lut_filter::{PictureKind, Pictures};

use crate::context::{ctx_ref, lutf_ctx, select_model_into};
use crate::filter::filter;
use crate::status::{Failure, FfiResult, guard, lutf_status};
use crate::types::{lutf_picture, lutf_region};
use lutf_status::*;

/// The slice type of the picture being filtered: VVC's `sh_slice_type` values (VTM's
/// `SliceType`: `B_SLICE` 0, `P_SLICE` 1, `I_SLICE` 2), or unknown.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lutf_slice_type {
    /// Not known: selects like an intra picture (as the functions without a slice type do).
    LUTF_SLICE_UNKNOWN = -1,
    /// B slice (inter).
    LUTF_SLICE_B = 0,
    /// P slice (inter).
    LUTF_SLICE_P = 1,
    /// I slice (intra).
    LUTF_SLICE_I = 2,
}

/// Which pictures a model is meant for (`lutf_get_model_pictures`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lutf_pictures {
    /// Every picture.
    LUTF_PICTURES_ALL = 0,
    /// Intra pictures only.
    LUTF_PICTURES_INTRA = 1,
    /// Inter pictures only.
    LUTF_PICTURES_INTER = 2,
}

fn picture_kind(slice_type: i32) -> FfiResult<Option<PictureKind>> {
    match slice_type {
        -1 => Ok(None),
        0 | 1 => Ok(Some(PictureKind::Inter)),
        2 => Ok(Some(PictureKind::Intra)),
        other => Err(Failure::new(
            LUTF_ERR_INVALID_ARGUMENT,
            format!("slice type {other} is not one of lutf_slice_type (-1, 0 B, 1 P, 2 I)"),
        )),
    }
}

/// `lutf_filter_i16` for a picture of slice type `slice_type` (one of `lutf_slice_type`; VTM:
/// `slice->getSliceType()`): the model is chosen among those meant for all pictures and those
/// meant for this kind (intra for I, inter for P and B), the QP range nearest `slice_qp`
/// first, then a model for this kind before one for all pictures. Added in API 1.1.
///
/// # Safety
/// As `lutf_filter_i16`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_filter_slice_i16(
    ctx: *const lutf_ctx,
    picture: *const lutf_picture,
    component: i32,
    slice_qp: i32,
    slice_type: i32,
    region: *const lutf_region,
    dst: *mut i16,
    dst_stride: isize,
) -> lutf_status {
    guard(|| {
        let kind = picture_kind(slice_type)?;
        // SAFETY: forwarded caller guarantees.
        unsafe {
            filter::<i16>(
                ctx, picture, component, slice_qp, kind, region, dst, dst_stride,
            )
        }
    })
}

/// `lutf_filter_slice_i16` for `uint16_t` samples (bit depth 8..=12).
///
/// # Safety
/// As `lutf_filter_i16`, with `uint16_t` planes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_filter_slice_u16(
    ctx: *const lutf_ctx,
    picture: *const lutf_picture,
    component: i32,
    slice_qp: i32,
    slice_type: i32,
    region: *const lutf_region,
    dst: *mut u16,
    dst_stride: isize,
) -> lutf_status {
    guard(|| {
        let kind = picture_kind(slice_type)?;
        // SAFETY: forwarded caller guarantees.
        unsafe {
            filter::<u16>(
                ctx, picture, component, slice_qp, kind, region, dst, dst_stride,
            )
        }
    })
}

/// `lutf_filter_slice_i16` for `uint8_t` samples (bit depth 8 only).
///
/// # Safety
/// As `lutf_filter_i16`, with `uint8_t` planes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_filter_slice_u8(
    ctx: *const lutf_ctx,
    picture: *const lutf_picture,
    component: i32,
    slice_qp: i32,
    slice_type: i32,
    region: *const lutf_region,
    dst: *mut u8,
    dst_stride: isize,
) -> lutf_status {
    guard(|| {
        let kind = picture_kind(slice_type)?;
        // SAFETY: forwarded caller guarantees.
        unsafe {
            filter::<u8>(
                ctx, picture, component, slice_qp, kind, region, dst, dst_stride,
            )
        }
    })
}

/// The index of the model `lutf_filter_slice_*` uses for `component` at slice QP `qp` in a
/// picture of slice type `slice_type`. Returns `LUTF_OK` with `*index` set, or
/// `LUTF_NOT_FILTERED` with `*index = -1` when no model of the context serves the component
/// for this kind of picture. Added in API 1.1.
///
/// # Safety
/// `ctx` must be NULL or a live context; `index` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_select_model_slice(
    ctx: *const lutf_ctx,
    component: i32,
    qp: i32,
    slice_type: i32,
    index: *mut i32,
) -> lutf_status {
    guard(|| {
        let kind = picture_kind(slice_type)?;
        // SAFETY: forwarded caller guarantees.
        unsafe { select_model_into(ctx, component, qp, kind, index) }
    })
}

/// Writes to `*pictures` which pictures model `index` is meant for (one of `lutf_pictures`).
/// Added in API 1.1.
///
/// # Safety
/// `ctx` must be NULL or a live context; `pictures` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_get_model_pictures(
    ctx: *const lutf_ctx,
    index: i32,
    pictures: *mut i32,
) -> lutf_status {
    guard(|| {
        // SAFETY: forwarded caller guarantee.
        let ctx = unsafe { ctx_ref(ctx) }?;
        // SAFETY: a non-NULL pictures is writable (caller guarantee).
        let out = unsafe { pictures.as_mut() }
            .ok_or_else(|| Failure::new(LUTF_ERR_NULL_POINTER, "pictures is NULL"))?;
        let model = usize::try_from(index)
            .ok()
            .and_then(|i| ctx.container.models().nth(i))
            .ok_or_else(|| {
                Failure::new(
                    LUTF_ERR_INVALID_ARGUMENT,
                    format!("model index {index} is out of range"),
                )
            })?;
        *out = match model.description().pictures {
            Pictures::All => lutf_pictures::LUTF_PICTURES_ALL,
            Pictures::Intra => lutf_pictures::LUTF_PICTURES_INTRA,
            Pictures::Inter => lutf_pictures::LUTF_PICTURES_INTER,
        } as i32;
        Ok(LUTF_OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_types_map_to_picture_kinds() {
        assert_eq!(picture_kind(-1).unwrap(), None);
        assert_eq!(picture_kind(0).unwrap(), Some(PictureKind::Inter));
        assert_eq!(picture_kind(1).unwrap(), Some(PictureKind::Inter));
        assert_eq!(picture_kind(2).unwrap(), Some(PictureKind::Intra));
        assert!(picture_kind(3).is_err());
        assert!(picture_kind(-2).is_err());
    }
}
