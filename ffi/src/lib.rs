//! C ABI of the lut-filter runtime (the ffi issue builds it out: open, query, filter, CTU
//! decisions, error codes). For now: the version query.

/// Major version of the C API.
pub const LUTF_API_MAJOR: u32 = 0;

/// Returns the C API version as `major << 16 | minor`.
#[unsafe(no_mangle)]
pub extern "C" fn lutf_version() -> u32 {
    LUTF_API_MAJOR << 16
}
