//! Plain data types shared with C.

use std::ffi::{c_char, c_void};

/// Colour components, the values of every `component` argument.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lutf_component {
    /// Luma.
    LUTF_COMP_Y = 0,
    /// First chroma component.
    LUTF_COMP_CB = 1,
    /// Second chroma component.
    LUTF_COMP_CR = 2,
}

/// Chroma formats, the values of `lutf_picture.chroma_format` (same numbering as VTM's
/// `ChromaFormat`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lutf_chroma_format {
    /// Luma only (no chroma planes).
    LUTF_CHROMA_400 = 0,
    /// Chroma halved horizontally and vertically: (width + 1) / 2 x (height + 1) / 2.
    LUTF_CHROMA_420 = 1,
    /// Chroma halved horizontally: (width + 1) / 2 x height.
    LUTF_CHROMA_422 = 2,
    /// Chroma at full resolution.
    LUTF_CHROMA_444 = 3,
}

/// Picture-level choice of the CTU decision (`lutf_ctu_decision.mode`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lutf_ctu_mode {
    /// Filter nothing in this picture/slice.
    LUTF_MODE_OFF = 0,
    /// Filter every CTU (no CTU flags are coded).
    LUTF_MODE_ALL_ON = 1,
    /// Filter the CTUs whose flag is 1 (one flag coded per CTU).
    LUTF_MODE_CTU_ADAPTIVE = 2,
}

/// Flag of `lutf_open_file`: read the whole file into memory instead of memory-mapping it
/// (use it where the file may be modified or truncated while the context is open).
pub const LUTF_OPEN_READ: u32 = 1;

/// A reconstructed picture in the codec's memory: the source of the filters.
///
/// Plane `c` holds `height_c` rows of `width_c` samples, rows `strides[c]` samples apart,
/// starting at `planes[c]` (the first picture sample, not the start of a padding margin).
/// Luma is `width x height`; chroma sizes follow `chroma_format` (4:2:0 rounds up). The caller
/// guarantees that each plane pointer addresses at least `strides[c] * (height_c - 1) + width_c`
/// readable samples of the function's sample type (`int16_t`, `uint8_t` or `uint16_t`), aligned
/// for that type, that stay unmodified during the call. Samples outside the planes (margins)
/// are never read: the filter pads by itself.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct lutf_picture {
    /// Y, Cb, Cr plane pointers; Cb and Cr are ignored for 4:0:0 (may be NULL).
    pub planes: [*const c_void; 3],
    /// Strides of the three planes, in samples (not bytes); each at least its plane's width.
    pub strides: [isize; 3],
    /// Luma width in samples (> 0).
    pub width: i32,
    /// Luma height in samples (> 0).
    pub height: i32,
    /// One of `lutf_chroma_format`.
    pub chroma_format: i32,
    /// Codec (internal) bit depth of the samples: 8..=12 (exactly 8 for `uint8_t`). VTM: 10 in
    /// all common test conditions.
    pub bit_depth: i32,
}

/// A rectangle on a component's own sample grid (chroma coordinates for Cb/Cr).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct lutf_region {
    /// Left column.
    pub x: i32,
    /// Top row.
    pub y: i32,
    /// Width (> 0).
    pub width: i32,
    /// Height (> 0).
    pub height: i32,
}

/// One plane of samples (for the CTU decision helpers): `height` rows of `width` samples,
/// rows `stride` samples apart. Same guarantees as a `lutf_picture` plane.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct lutf_plane {
    /// First sample.
    pub data: *const c_void,
    /// Stride in samples (>= width).
    pub stride: isize,
    /// Width in samples (> 0).
    pub width: i32,
    /// Height in samples (> 0).
    pub height: i32,
}

/// What `lutf_get_model_info` reports about one model of a context.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct lutf_model_info {
    /// Model name, NUL-terminated, owned by the context (valid until `lutf_close`).
    pub name: *const c_char,
    /// The component it filters, one of `lutf_component`.
    pub component: i32,
    /// Lowest slice QP of the range it was trained for (inclusive).
    pub qp_min: i32,
    /// Highest slice QP of the range (inclusive).
    pub qp_max: i32,
    /// Lowest codec bit depth it accepts.
    pub bit_depth_min: i32,
    /// Highest codec bit depth it accepts.
    pub bit_depth_max: i32,
    /// How far around a region (in samples of its component's grid) it reads the source.
    pub margin: i32,
    /// 1 if its residual scale is 0 (it returns its input unchanged), else 0.
    pub is_identity: i32,
}

/// Result of a CTU on/off decision (see `lutf_ctu_decide`).
///
/// Costs are `J = D + lambda * R` with `D` the sum of squared errors against the original and
/// `R = flags * flag_bits`, counting 1 flag for "off" (slice flag), 2 for "all on" (slice flag +
/// "not adaptive") and `2 + n_ctus` for "CTU adaptive".
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct lutf_ctu_decision {
    /// Distortion (SSD) of "off", "all on" and "CTU adaptive", in that order.
    pub distortion: [u64; 3],
    /// Rate-distortion cost of "off", "all on" and "CTU adaptive", in that order.
    pub cost: [f64; 3],
    /// The cheapest, one of `lutf_ctu_mode` (ties prefer off, then all on).
    pub mode: i32,
    /// Number of CTUs whose flag (as written to `flags`) is 1.
    pub ctus_on: i32,
}
