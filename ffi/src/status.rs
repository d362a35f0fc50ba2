//! Status codes, the per-thread last error message and the panic guard of every entry point.

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Result of every call that can fail. `LUTF_OK` (0) and `LUTF_NOT_FILTERED` (1) are successes;
/// every negative value is an error, explained by `lutf_last_error()` on the same thread.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lutf_status {
    /// Success.
    LUTF_OK = 0,
    /// Success, but nothing was filtered: the context has no model for this component (or the
    /// CTU decision chose "off"); the region was copied unchanged into the destination.
    LUTF_NOT_FILTERED = 1,
    /// A required pointer argument is NULL.
    LUTF_ERR_NULL_POINTER = -1,
    /// An argument has a value outside its domain (flags, index, thread count, CTU size,
    /// lambda, ...).
    LUTF_ERR_INVALID_ARGUMENT = -2,
    /// A width, height or length is zero, negative, or so large that the buffer size overflows;
    /// or an array length does not match what the call needs.
    LUTF_ERR_SIZE = -3,
    /// A stride is smaller than the width of its plane (or negative).
    LUTF_ERR_STRIDE = -4,
    /// The bit depth is not supported by the sample type (8 for `uint8_t`, 8..=12 otherwise)
    /// or by the selected model.
    LUTF_ERR_BIT_DEPTH = -5,
    /// The chroma format is not one of `lutf_chroma_format`.
    LUTF_ERR_CHROMA_FORMAT = -6,
    /// The component is not one of `lutf_component`, or the picture lacks it (chroma of a 4:0:0
    /// picture).
    LUTF_ERR_COMPONENT = -7,
    /// The region is empty or not inside the component's plane.
    LUTF_ERR_REGION = -8,
    /// The destination overlaps a source plane: source and destination must be distinct
    /// buffers.
    LUTF_ERR_ALIASING = -9,
    /// A pointer is not aligned for its sample type.
    LUTF_ERR_ALIGNMENT = -10,
    /// A file could not be opened, mapped or read.
    LUTF_ERR_IO = -11,
    /// The container is malformed, corrupted (checksum) or inconsistent.
    LUTF_ERR_CONTAINER = -12,
    /// The container's format major version is not supported by this library.
    LUTF_ERR_VERSION = -13,
    /// The selected model cannot filter this picture (e.g. it reads a plane the picture lacks).
    LUTF_ERR_UNSUPPORTED = -14,
    /// The worker threads could not be created.
    LUTF_ERR_THREADS = -15,
    /// Internal error (a bug in the library; the message says where).
    LUTF_ERR_INTERNAL = -16,
}

use lutf_status::*;

/// A failed call: the code returned and the message kept for `lutf_last_error`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: lutf_status,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: lutf_status, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }
}

impl From<lut_filter::Error> for Failure {
    fn from(e: lut_filter::Error) -> Self {
        use lut_filter::Error as E;
        let status = match &e {
            E::Io { .. } => LUTF_ERR_IO,
            E::UnsupportedVersion { .. } => LUTF_ERR_VERSION,
            E::Malformed(_)
            | E::NotAContainer(_)
            | E::Checksum { .. }
            | E::Description(_)
            | E::Model { .. }
            | E::Tensor { .. } => LUTF_ERR_CONTAINER,
            E::Picture(_) => LUTF_ERR_SIZE,
            E::BitDepth { .. } => LUTF_ERR_BIT_DEPTH,
            E::Region { .. } => LUTF_ERR_REGION,
            E::Unsupported { .. } => LUTF_ERR_UNSUPPORTED,
            _ => LUTF_ERR_INTERNAL,
        };
        Failure::new(status, e.to_string())
    }
}

/// What an entry point's body returns.
pub(crate) type FfiResult<T = lutf_status> = Result<T, Failure>;

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Records `message` as this thread's last error (interior NULs become spaces).
pub(crate) fn set_last_error(message: &str) {
    let bytes: Vec<u8> = message
        .bytes()
        .map(|b| if b == 0 { b' ' } else { b })
        .collect();
    let text = CString::new(bytes).unwrap_or_default();
    // `try_with`: during thread teardown the slot may be gone; the message is then dropped.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = Some(text);
        }
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Runs an entry point's body: failures are recorded and turned into their status; a panic
/// is caught and reported as `LUTF_ERR_INTERNAL`.
pub(crate) fn guard(body: impl FnOnce() -> FfiResult) -> lutf_status {
    guard_result(body).unwrap_or_else(|status| status)
}

/// Like [`guard`] for bodies returning a value; the error is the status to return.
pub(crate) fn guard_result<T>(body: impl FnOnce() -> FfiResult<T>) -> Result<T, lutf_status> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(failure)) => {
            set_last_error(&failure.message);
            Err(failure.status)
        }
        Err(payload) => {
            let message = catch_unwind(AssertUnwindSafe(|| panic_message(&*payload)))
                .unwrap_or_else(|_| "unknown panic".into());
            set_last_error(&format!(
                "internal error in lutfilter (please report): {message}"
            ));
            // Dropping a payload can itself panic; never let that unwind into C.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            Err(LUTF_ERR_INTERNAL)
        }
    }
}

/// Runs an infallible body; returns `fallback` if it panics.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    guard_result(|| Ok(body())).unwrap_or(fallback)
}

/// Message describing the last failed call on the calling thread, or an empty string if no
/// call failed on this thread yet. Never NULL. The text is owned by the library and stays
/// valid until the next `lutf_` call on the same thread (which may replace it); successful
/// calls leave it unchanged.
#[unsafe(no_mangle)]
pub extern "C" fn lutf_last_error() -> *const c_char {
    guard_value(c"".as_ptr(), || {
        LAST_ERROR
            .try_with(|slot| match slot.try_borrow() {
                Ok(text) => text.as_deref().unwrap_or(c"").as_ptr(),
                Err(_) => c"".as_ptr(),
            })
            .unwrap_or(c"".as_ptr())
    })
}

/// Static name of a status code (e.g. `"LUTF_ERR_REGION"`), `"LUTF_UNKNOWN_STATUS"` for values
/// that are not a `lutf_status`. Never NULL; never freed.
#[unsafe(no_mangle)]
pub extern "C" fn lutf_status_name(status: i32) -> *const c_char {
    guard_value(c"LUTF_UNKNOWN_STATUS".as_ptr(), || {
        let name = match status {
            0 => c"LUTF_OK",
            1 => c"LUTF_NOT_FILTERED",
            -1 => c"LUTF_ERR_NULL_POINTER",
            -2 => c"LUTF_ERR_INVALID_ARGUMENT",
            -3 => c"LUTF_ERR_SIZE",
            -4 => c"LUTF_ERR_STRIDE",
            -5 => c"LUTF_ERR_BIT_DEPTH",
            -6 => c"LUTF_ERR_CHROMA_FORMAT",
            -7 => c"LUTF_ERR_COMPONENT",
            -8 => c"LUTF_ERR_REGION",
            -9 => c"LUTF_ERR_ALIASING",
            -10 => c"LUTF_ERR_ALIGNMENT",
            -11 => c"LUTF_ERR_IO",
            -12 => c"LUTF_ERR_CONTAINER",
            -13 => c"LUTF_ERR_VERSION",
            -14 => c"LUTF_ERR_UNSUPPORTED",
            -15 => c"LUTF_ERR_THREADS",
            -16 => c"LUTF_ERR_INTERNAL",
            _ => c"LUTF_UNKNOWN_STATUS",
        };
        name.as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last() -> String {
        // SAFETY: lutf_last_error returns a valid NUL-terminated string.
        unsafe { CStr::from_ptr(lutf_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn failures_set_the_message_and_panics_are_caught() {
        assert_eq!(last(), "");
        let s = guard(|| Err(Failure::new(LUTF_ERR_REGION, "bad\0region")));
        assert_eq!(s, LUTF_ERR_REGION);
        assert_eq!(last(), "bad region");
        assert_eq!(guard(|| Ok(LUTF_OK)), LUTF_OK);
        assert_eq!(last(), "bad region", "success keeps the last failure");
        let s = guard(|| panic!("boom"));
        assert_eq!(s, LUTF_ERR_INTERNAL);
        assert!(last().contains("boom"));
    }

    #[test]
    fn every_status_has_its_name() {
        for s in -16..=1 {
            // SAFETY: static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(lutf_status_name(s)) };
            assert_ne!(name.to_bytes(), b"LUTF_UNKNOWN_STATUS", "{s}");
        }
        // SAFETY: as above.
        let name = unsafe { CStr::from_ptr(lutf_status_name(7)) };
        assert_eq!(name.to_bytes(), b"LUTF_UNKNOWN_STATUS");
    }
}
