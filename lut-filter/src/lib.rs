//! # lut-filter: the LUT in-loop filter runtime
//!
//! Memory-maps a `.lut` container (a safetensors file, DESIGN §6), validates it once, and filters
//! luma and chroma of decoded pictures with look-up tables, 4-simplex and trilinear
//! interpolation, rotations, cascaded stages and cross-component indexing. All arithmetic on the
//! sample path is integer: results are bit-exact and identical for any thread count.
//!
//! ```no_run
//! use lut_filter::{Container, Component, Picture, Plane, PlaneMut, ChromaFormat};
//! # fn main() -> Result<(), lut_filter::Error> {
//! let container = Container::open("model.lut")?;
//! let (w, h) = (416, 240);
//! let luma = vec![512u16; w * h];
//! let pic = Picture::new(Plane::new(&luma, w, w, h)?, None, None, ChromaFormat::Yuv400, 10)?;
//! let mut out = vec![0u16; w * h];
//! if let Some(model) = container.select(Component::Y, 32) {
//!     model.filter_plane(&pic, &mut PlaneMut::new(&mut out, w, w, h)?)?;
//! }
//! # Ok(()) }
//! ```
//!
//! Modules: [`description`] (what a model computes), [`container`] (the file), [`writer`]
//! (building files), [`picture`] (planes in codec memory), [`reference`](mod@reference) (the plain
//! implementation that defines the arithmetic), [`tables`] (table geometry, DFC).

pub mod bdrate;
pub mod container;
pub mod ctu;
pub mod default_model;
pub mod description;
mod engine;
mod error;
pub mod interp;
pub mod io;
#[cfg(feature = "pictures")]
pub mod look;
pub mod picture;
pub mod plan;
pub mod reference;
pub mod simd;
pub mod tables;
pub mod writer;

pub use container::{Container, Model};
pub use description::{
    Component, ContainerDescription, ModelDescription, Node, Pattern, PictureKind, Pictures,
    Sampling, TableLayout,
};
pub use engine::{TILE_HEIGHT, TILE_WIDTH};
pub use error::Error;
pub use picture::{ChromaFormat, Picture, Plane, PlaneMut, Region, Sample};
pub use writer::ContainerWriter;
