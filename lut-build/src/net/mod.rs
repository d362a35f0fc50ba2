//! Trained restricted-receptive-field networks: the input of `lut-build`.
//!
//! A network has exactly the structure of a LUT model (a [`ModelDescription`] graph of spatial
//! and channel nodes, DESIGN §2); only its *units* differ: where a model looks up an int8 table,
//! the network evaluates a small multi-layer perceptron. One unit exists per spatial node and
//! pattern (4 inputs, shared by all rotations) and per channel node (3 inputs).
//!
//! Conventions every producer (the `lut-train` crate, PyTorch exports) must follow, so that a
//! network and its tables compute the same function up to table quantisation:
//!
//! * **inputs** are normalised so that grid node `n` (0..=16) is `n / 16`: a codec sample `x` at
//!   bit depth `B` enters as `x / 2^B`, an 8-bit feature `f` as `f / 256`;
//! * **outputs** `y` (the last linear layer, no activation) become table values through the
//!   unit's transfer: `127 * tanh(y)` ([`Transfer::Tanh`]) or `clamp(127 * y, -127, 127)`
//!   ([`Transfer::Clamp`]); tables store them rounded half away from zero;
//! * everything after the units (sums over patterns and rotations, requantisation of features
//!   between stages, the residual scale) is the model description's, evaluated as the runtime
//!   does (`lut_filter::reference`).
//!
//! The file format is described in [`file`] and `docs/network.md`. [`batch`] evaluates native
//! units fast, [`traverse`] turns units into tables (the transfer), [`forward`] evaluates a
//! network directly on a picture (the reference the tables are compared with).

pub mod batch;
pub mod file;
pub mod forward;
pub mod onnx;
pub mod traverse;

pub use file::{Activation, Layer, NetError, NetFile, Transfer, UnitSpec, UnitWeights};

use lut_filter::{ModelDescription, Node};

/// Evaluates network units on batches of normalised inputs (native weights, ONNX, ...).
pub trait UnitEvaluator: Sync {
    /// Evaluates unit `unit` on `inputs.len() / n_in` input rows (row-major, `n_in` values per
    /// row, normalised as the module documentation says), writing the raw outputs `y` (before
    /// the transfer) row-major into `out` (`rows * n_out` values).
    fn eval(&self, unit: &str, inputs: &[f32], out: &mut [f32]) -> Result<(), NetError>;

    /// The transfer of unit `unit` from raw output to table value.
    fn transfer(&self, unit: &str) -> Result<Transfer, NetError>;
}

/// One unit of a model: its name, number of inputs (4 or 3) and outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitSlot {
    /// `<model>/<node>/<pattern>` for spatial units, `<model>/<node>` for channel units.
    pub name: String,
    /// 4 (spatial) or 3 (channel).
    pub inputs: usize,
    /// Outputs of the node.
    pub outputs: usize,
}

/// The units a model needs, in node order (patterns in description order).
pub fn unit_slots(model: &ModelDescription) -> Vec<UnitSlot> {
    let mut slots = Vec::new();
    for node in &model.nodes {
        match node {
            Node::Spatial(n) => {
                for p in &n.patterns {
                    slots.push(UnitSlot {
                        name: format!("{}/{}/{}", model.name, n.name, p.name()),
                        inputs: 4,
                        outputs: usize::from(n.outputs),
                    });
                }
            }
            Node::Channel(n) => slots.push(UnitSlot {
                name: format!("{}/{}", model.name, n.name),
                inputs: 3,
                outputs: usize::from(n.outputs),
            }),
        }
    }
    slots
}
