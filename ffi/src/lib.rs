//! # lutfilter: the C ABI of the lut-filter runtime
//!
//! A thin, defensive C interface for codecs written in C or C++ (VTM first): open a LUT
//! container (file, memory or the embedded default) into an opaque context, query its models,
//! filter regions of pictures held in the codec's own memory (`int16_t` like VTM's `Pel`,
//! `uint8_t`, `uint16_t`, any stride) and decide CTU on/off flags by rate-distortion cost.
//!
//! The header `include/lutfilter.h` is generated from this crate by cbindgen (see
//! `tests/header.rs`); the documentation comments here are the header's documentation.
//!
//! Rules every entry point follows:
//! * Arguments are checked before any pointer is turned into a Rust reference or slice; a bad
//!   argument returns a negative [`lutf_status`] and records a message for [`lutf_last_error`].
//! * No panic crosses the C boundary: every entry point runs under `catch_unwind`; a panic (a
//!   bug) is reported as [`lutf_status::LUTF_ERR_INTERNAL`].
//! * A context is immutable after opening except for its thread setting (which is internally
//!   synchronised): any number of threads may use one context at the same time.
//!
//! `unsafe` code in the workspace is confined to this crate's pointer handling.

// C naming for everything the header exports.
#![allow(non_camel_case_types)]

mod candidates;
mod context;
mod filter;
mod rdo;
mod scale;
mod slice;
mod status;
mod types;

pub use candidates::*;
pub use context::*;
pub use filter::*;
pub use rdo::*;
pub use scale::*;
pub use slice::*;
pub use status::*;
pub use types::*;

/// Major version of the C API: changes when a program compiled against an older header could
/// misbehave (a changed signature, struct layout or meaning). Check at run time that
/// `lutf_version() >> 16 == LUTF_API_MAJOR`.
pub const LUTF_API_MAJOR: u32 = 1;

/// Minor version of the C API: grows when functions or constants are added compatibly.
pub const LUTF_API_MINOR: u32 = 2;

/// Returns the C API version of the linked library as `major << 16 | minor`.
#[unsafe(no_mangle)]
pub extern "C" fn lutf_version() -> u32 {
    status::guard_value(0, || (LUTF_API_MAJOR << 16) | LUTF_API_MINOR)
}
