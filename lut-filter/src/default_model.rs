//! The container embedded in the library and the `lut-filter` binary.
//!
//! **Placeholder:** until the trained default model lands (training issue), this is an
//! *identity* model: one single-stage model per component whose tables are all zero, so the
//! residual is zero and filtering returns its input unchanged. It exercises the whole pipeline
//! (container, validation, engine, command line) and nothing else. `data/default.lut` is
//! produced by `cargo run -p lut-build -- identity --out data/default.lut`; a test checks that
//! the committed file equals what that command produces.

use crate::{Container, Error};

/// Whether the embedded default is the zero-residual placeholder.
pub const IS_IDENTITY_PLACEHOLDER: bool = true;

#[repr(C, align(64))]
struct Aligned<T: ?Sized>(T);

static DEFAULT: &Aligned<[u8]> = &Aligned(*include_bytes!("../../data/default.lut"));

/// The raw bytes of the embedded default container.
pub fn bytes() -> &'static [u8] {
    &DEFAULT.0
}

/// Opens the embedded default container (validated; no copy).
pub fn open() -> Result<Container, Error> {
    Container::from_static(bytes())
}
