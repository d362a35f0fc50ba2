//! The container embedded in the library and the `lut-filter` binary.
//!
//! `data/default.lut`: one single-stage LUT model (4 rotations; DFC tables) per component and
//! per slice-QP range (six ranges from 0-22 to 43-63), fitted by least squares on the train
//! split of the shared corpus; every model reads patterns s, l, x (the square and two line
//! patterns, format 1.3), chroma models also luma (chroma from luma) and the other chroma
//! plane; luma tables fine-tuned, all pruned. Beside them, models for inter pictures
//! only (luma, own-plane U, and V reading V, luma and U), which [`Container::select_for`]
//! takes for P/B pictures. Rebuilt by `scripts/retrain-default.sh` (provenance in
//! `data/default*.fit.json` and `data/default*.finetune.json`, measurements in
//! `data/MODEL.md`). It is not yet the network-trained model of the training issue.
//!
//! `lut-build identity` still writes the zero-residual identity container used by tests.

use crate::{Container, Error};

/// Whether the embedded default is the zero-residual placeholder.
pub const IS_IDENTITY_PLACEHOLDER: bool = false;

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
