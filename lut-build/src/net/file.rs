//! The native network file: a safetensors container of the same family as the LUT container
//! (DESIGN §6), holding f32 weights per unit plus the description.
//!
//! * metadata `format` = `lut-ilf-net`, `version` = `1.0` (an unknown major version is refused),
//!   `description` = the [`ContainerDescription`] JSON (the same graphs as the LUT models; the
//!   spatial nodes' `table` field is the layout `from-net` builds by default), `units` = a JSON
//!   object mapping every unit name to its [`UnitSpec`];
//! * tensors `<unit>/w<i>` (f32, shape `[out_i, in_i]`, PyTorch's `nn.Linear` convention) and
//!   `<unit>/b<i>` (f32, `[out_i]`) for layer `i = 0..=hidden.len()`; unit names as
//!   [`super::unit_slots`] gives them (`<model>/<node>/<pattern>` or `<model>/<node>`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use lut_filter::ContainerDescription;
use rand::{Rng, SeedableRng};
use safetensors::tensor::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use super::{UnitEvaluator, unit_slots};

/// Format name in the metadata.
pub const FORMAT: &str = "lut-ilf-net";
/// Format version written.
pub const VERSION: &str = "1.0";

/// Errors reading, writing or evaluating a network.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not a valid safetensors file.
    #[error("not a safetensors file: {0}")]
    Safetensors(String),
    /// Header metadata missing or wrong.
    #[error("bad network metadata: {0}")]
    Metadata(String),
    /// A unit is missing, has wrong shapes, or is unknown.
    #[error("unit '{unit}': {what}")]
    Unit {
        /// Unit name.
        unit: String,
        /// What is wrong.
        what: String,
    },
    /// ONNX import or evaluation failure.
    #[error("ONNX: {0}")]
    Onnx(String),
}

/// Hidden-layer activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// max(0, x).
    #[default]
    Relu,
}

/// From raw output `y` to a table value in [-127, 127].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Transfer {
    /// `127 * tanh(y)`.
    #[default]
    Tanh,
    /// `clamp(127 * y, -127, 127)`.
    Clamp,
}

impl Transfer {
    /// The (unrounded) table value of raw output `y`.
    #[inline]
    pub fn apply(self, y: f32) -> f32 {
        match self {
            Transfer::Tanh => 127.0 * y.tanh(),
            Transfer::Clamp => (127.0 * y).clamp(-127.0, 127.0),
        }
    }

    /// The stored int8 entry of raw output `y` (rounded half away from zero) and whether the
    /// value was clipped (`|127 y| > 127` for clamp; `|tanh(y)| * 127 > 126.5` for tanh).
    #[inline]
    pub fn quantise(self, y: f32) -> (i8, bool) {
        let v = self.apply(y);
        let clipped = match self {
            Transfer::Tanh => v.abs() > 126.5,
            Transfer::Clamp => (127.0 * y).abs() > 127.0,
        };
        (v.round().clamp(-127.0, 127.0) as i8, clipped)
    }
}

/// Shape of one unit: an MLP `inputs -> hidden... -> outputs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitSpec {
    /// Inputs (4 spatial, 3 channel).
    pub inputs: usize,
    /// Outputs (the node's outputs).
    pub outputs: usize,
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Activation after every hidden layer.
    #[serde(default)]
    pub activation: Activation,
    /// Output transfer.
    #[serde(default)]
    pub transfer: Transfer,
}

/// One linear layer, `y = W x + b`.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Inputs.
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
    /// `[outputs, inputs]`, row-major.
    pub weight: Vec<f32>,
    /// `[outputs]`.
    pub bias: Vec<f32>,
}

/// A unit's weights.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitWeights {
    /// Its shape.
    pub spec: UnitSpec,
    /// `hidden.len() + 1` layers.
    pub layers: Vec<Layer>,
}

impl UnitWeights {
    /// Randomly initialised weights (PyTorch's default `nn.Linear` init: uniform in
    /// `±1/sqrt(in)`), the last layer scaled by `last_gain`.
    pub fn random(spec: UnitSpec, rng: &mut impl Rng, last_gain: f32) -> Self {
        let mut dims = vec![spec.inputs];
        dims.extend(&spec.hidden);
        dims.push(spec.outputs);
        let n = dims.len() - 1;
        let layers = (0..n)
            .map(|i| {
                let (fan_in, fan_out) = (dims[i], dims[i + 1]);
                let bound = 1.0 / (fan_in as f32).sqrt();
                let gain = if i + 1 == n { last_gain } else { 1.0 };
                let mut draw = || rng.gen_range(-bound..bound) * gain;
                Layer {
                    inputs: fan_in,
                    outputs: fan_out,
                    weight: (0..fan_in * fan_out).map(|_| draw()).collect(),
                    bias: (0..fan_out).map(|_| draw()).collect(),
                }
            })
            .collect();
        UnitWeights { spec, layers }
    }

    /// Plain forward pass of `inputs.len() / spec.inputs` rows (the definition; fast batched
    /// evaluators are checked against it).
    pub fn forward(&self, inputs: &[f32], out: &mut [f32]) {
        let rows = inputs.len() / self.spec.inputs;
        let mut cur: Vec<f32> = Vec::new();
        let mut next: Vec<f32> = Vec::new();
        for r in 0..rows {
            cur.clear();
            cur.extend_from_slice(&inputs[r * self.spec.inputs..(r + 1) * self.spec.inputs]);
            for (li, l) in self.layers.iter().enumerate() {
                next.clear();
                for o in 0..l.outputs {
                    let w = &l.weight[o * l.inputs..(o + 1) * l.inputs];
                    let mut s = l.bias[o];
                    for (wi, xi) in w.iter().zip(&cur) {
                        s += wi * xi;
                    }
                    if li + 1 < self.layers.len() {
                        s = s.max(0.0);
                    }
                    next.push(s);
                }
                std::mem::swap(&mut cur, &mut next);
            }
            out[r * self.spec.outputs..(r + 1) * self.spec.outputs].copy_from_slice(&cur);
        }
    }

    /// Multiply-accumulates per evaluation.
    pub fn macs(&self) -> usize {
        self.layers.iter().map(|l| l.inputs * l.outputs).sum()
    }
}

/// A trained network: the description plus every unit's weights.
#[derive(Clone, Debug, PartialEq)]
pub struct NetFile {
    /// The models (graphs), as in a LUT container.
    pub description: ContainerDescription,
    /// Unit name -> weights.
    pub units: BTreeMap<String, UnitWeights>,
}

impl NetFile {
    /// A network with random weights for every unit of `description` (for tests and as the
    /// trainer's initialisation), deterministic in `seed`.
    pub fn random(
        description: ContainerDescription,
        hidden: &[usize],
        transfer: Transfer,
        last_gain: f32,
        seed: u64,
    ) -> Self {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut units = BTreeMap::new();
        for m in &description.models {
            for slot in unit_slots(m) {
                let spec = UnitSpec {
                    inputs: slot.inputs,
                    outputs: slot.outputs,
                    hidden: hidden.to_vec(),
                    activation: Activation::Relu,
                    transfer,
                };
                units.insert(slot.name, UnitWeights::random(spec, &mut rng, last_gain));
            }
        }
        NetFile { description, units }
    }

    /// Checks that every unit the description needs exists with matching inputs/outputs and
    /// consistent layer shapes, and that no unknown unit is present.
    pub fn validate(&self) -> Result<(), NetError> {
        let mut needed = HashMap::new();
        for m in &self.description.models {
            for s in unit_slots(m) {
                needed.insert(s.name.clone(), s);
            }
        }
        for (name, u) in &self.units {
            let bad = |what: String| NetError::Unit {
                unit: name.clone(),
                what,
            };
            let Some(slot) = needed.remove(name) else {
                return Err(bad("not a unit of any model in the description".into()));
            };
            if u.spec.inputs != slot.inputs || u.spec.outputs != slot.outputs {
                return Err(bad(format!(
                    "shape {}->{} but the description needs {}->{}",
                    u.spec.inputs, u.spec.outputs, slot.inputs, slot.outputs
                )));
            }
            let mut dims = vec![u.spec.inputs];
            dims.extend(&u.spec.hidden);
            dims.push(u.spec.outputs);
            if u.layers.len() + 1 != dims.len() {
                return Err(bad(format!(
                    "{} layers, spec needs {}",
                    u.layers.len(),
                    dims.len() - 1
                )));
            }
            for (i, l) in u.layers.iter().enumerate() {
                if l.inputs != dims[i]
                    || l.outputs != dims[i + 1]
                    || l.weight.len() != l.inputs * l.outputs
                    || l.bias.len() != l.outputs
                {
                    return Err(bad(format!("layer {i} has inconsistent shapes")));
                }
                if l.weight.iter().chain(&l.bias).any(|v| !v.is_finite()) {
                    return Err(bad(format!("layer {i} holds a non-finite weight")));
                }
            }
        }
        if let Some(name) = needed.into_keys().min() {
            return Err(NetError::Unit {
                unit: name,
                what: "missing".into(),
            });
        }
        Ok(())
    }

    /// Serialises to safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, NetError> {
        self.validate()?;
        // The header is written here (not by `safetensors::serialize`, whose metadata is a
        // `HashMap`) so that the same network always gives the same bytes.
        let mut meta = BTreeMap::new();
        meta.insert("format", FORMAT.to_string());
        meta.insert("version", VERSION.to_string());
        let desc = serde_json::to_string(&self.description)
            .map_err(|e| NetError::Metadata(e.to_string()))?;
        meta.insert("description", desc);
        let specs: BTreeMap<&String, &UnitSpec> =
            self.units.iter().map(|(k, u)| (k, &u.spec)).collect();
        let specs = serde_json::to_string(&specs).map_err(|e| NetError::Metadata(e.to_string()))?;
        meta.insert("units", specs);
        let mut entries = BTreeMap::new();
        let mut data: Vec<u8> = Vec::new();
        let mut push = |name: String, shape: Vec<usize>, values: &[f32]| {
            let begin = data.len();
            data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            entries.insert(
                name,
                serde_json::json!({
                    "dtype": "F32",
                    "shape": shape,
                    "data_offsets": [begin, data.len()],
                }),
            );
        };
        for (name, u) in &self.units {
            for (i, l) in u.layers.iter().enumerate() {
                push(format!("{name}/w{i}"), vec![l.outputs, l.inputs], &l.weight);
                push(format!("{name}/b{i}"), vec![l.outputs], &l.bias);
            }
        }
        entries.insert(
            "__metadata__".to_string(),
            serde_json::to_value(meta).map_err(|e| NetError::Metadata(e.to_string()))?,
        );
        let header = serde_json::to_vec(&entries).map_err(|e| NetError::Metadata(e.to_string()))?;
        Ok(lut_filter::io::safetensors_bytes(header, &data))
    }

    /// Writes the file (atomically: a temporary file renamed into place).
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), NetError> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        let io = |source| NetError::Io {
            path: path.display().to_string(),
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::io::Write::write_all(&mut tmp, &bytes).map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Reads a file.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, NetError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| NetError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Parses safetensors bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, NetError> {
        let (_, header) =
            SafeTensors::read_metadata(bytes).map_err(|e| NetError::Safetensors(e.to_string()))?;
        let meta = header
            .metadata()
            .as_ref()
            .ok_or_else(|| NetError::Metadata("no metadata".into()))?;
        let get = |k: &str| {
            meta.get(k)
                .ok_or_else(|| NetError::Metadata(format!("no '{k}' entry")))
        };
        if get("format")? != FORMAT {
            return Err(NetError::Metadata(format!(
                "format is '{}', expected '{FORMAT}' (a LUT container? use lut-filter inspect)",
                get("format")?
            )));
        }
        let version = get("version")?;
        if version.split('.').next() != Some("1") {
            return Err(NetError::Metadata(format!(
                "unsupported version {version} (this build reads 1.x)"
            )));
        }
        let description: ContainerDescription = serde_json::from_str(get("description")?)
            .map_err(|e| NetError::Metadata(format!("description: {e}")))?;
        let specs: BTreeMap<String, UnitSpec> = serde_json::from_str(get("units")?)
            .map_err(|e| NetError::Metadata(format!("units: {e}")))?;
        let st =
            SafeTensors::deserialize(bytes).map_err(|e| NetError::Safetensors(e.to_string()))?;
        let tensor = |unit: &str, name: &str, shape: &[usize]| -> Result<Vec<f32>, NetError> {
            let bad = |what: String| NetError::Unit {
                unit: unit.to_string(),
                what,
            };
            let t = st
                .tensor(name)
                .map_err(|_| bad(format!("tensor '{name}' missing")))?;
            if t.dtype() != Dtype::F32 || t.shape() != shape {
                return Err(bad(format!(
                    "tensor '{name}' is {:?} {:?}, expected F32 {shape:?}",
                    t.dtype(),
                    t.shape()
                )));
            }
            Ok(t.data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        };
        let mut units = BTreeMap::new();
        for (name, spec) in specs {
            let mut dims = vec![spec.inputs];
            dims.extend(&spec.hidden);
            dims.push(spec.outputs);
            let mut layers = Vec::new();
            for i in 0..dims.len() - 1 {
                let (fi, fo) = (dims[i], dims[i + 1]);
                layers.push(Layer {
                    inputs: fi,
                    outputs: fo,
                    weight: tensor(&name, &format!("{name}/w{i}"), &[fo, fi])?,
                    bias: tensor(&name, &format!("{name}/b{i}"), &[fo])?,
                });
            }
            units.insert(name, UnitWeights { spec, layers });
        }
        let net = NetFile { description, units };
        net.validate()?;
        Ok(net)
    }

    /// The unit's weights, or an error naming it.
    pub fn unit(&self, unit: &str) -> Result<&UnitWeights, NetError> {
        self.units.get(unit).ok_or_else(|| NetError::Unit {
            unit: unit.to_string(),
            what: "not in this network".into(),
        })
    }
}

impl UnitEvaluator for NetFile {
    fn eval(&self, unit: &str, inputs: &[f32], out: &mut [f32]) -> Result<(), NetError> {
        let u = self.unit(unit)?;
        let n_in = u.spec.inputs.max(1);
        let rows = inputs.len() / n_in;
        if !inputs.len().is_multiple_of(n_in) || out.len() != rows * u.spec.outputs {
            return Err(NetError::Unit {
                unit: unit.to_string(),
                what: format!(
                    "{} inputs and {} outputs given: not whole rows of {}->{}",
                    inputs.len(),
                    out.len(),
                    u.spec.inputs,
                    u.spec.outputs
                ),
            });
        }
        super::batch::forward_batch(u, inputs, out);
        Ok(())
    }

    fn transfer(&self, unit: &str) -> Result<Transfer, NetError> {
        Ok(self.unit(unit)?.spec.transfer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lut_filter::description::presets;
    use lut_filter::{Component, TableLayout};

    fn small() -> NetFile {
        let d = ContainerDescription {
            models: vec![
                presets::cascade("y", Component::Y, [0, 63], 2, TableLayout::Regular, 1, 6),
                presets::chroma_cross_component(
                    "u",
                    Component::U,
                    [0, 63],
                    TableLayout::Regular,
                    1,
                    6,
                ),
            ],
        };
        NetFile::random(d, &[8, 8], Transfer::Tanh, 1.0, 7)
    }

    #[test]
    fn round_trips_through_bytes() {
        let n = small();
        let bytes = n.to_bytes().unwrap();
        let back = NetFile::from_bytes(&bytes).unwrap();
        assert_eq!(n, back);
        // Deterministic bytes: the same network always serialises identically.
        assert_eq!(back.to_bytes().unwrap(), bytes);
        // 2 cascade stages x 3 patterns + (l, m0, m1, b1, b2) x 3 patterns + channel c.
        assert_eq!(n.units.len(), 6 + 15 + 1);
    }

    #[test]
    fn missing_and_foreign_units_are_refused() {
        let mut n = small();
        let first = n.units.keys().next().unwrap().clone();
        let w = n.units.remove(&first).unwrap();
        assert!(matches!(n.validate(), Err(NetError::Unit { .. })));
        n.units.insert("nope/x/s".into(), w);
        assert!(n.validate().is_err());
    }

    #[test]
    fn forward_matches_hand_computation() {
        let spec = UnitSpec {
            inputs: 2,
            outputs: 1,
            hidden: vec![2],
            activation: Activation::Relu,
            transfer: Transfer::Clamp,
        };
        let u = UnitWeights {
            spec,
            layers: vec![
                Layer {
                    inputs: 2,
                    outputs: 2,
                    weight: vec![1.0, -1.0, 0.5, 0.5],
                    bias: vec![0.0, 0.1],
                },
                Layer {
                    inputs: 2,
                    outputs: 1,
                    weight: vec![2.0, -1.0],
                    bias: vec![0.25],
                },
            ],
        };
        let mut out = [0.0f32; 2];
        u.forward(&[0.2, 0.6, 0.8, 0.2], &mut out);
        // Row 1: h = [relu(-0.4), 0.5] = [0, 0.5]; y = -0.5 + 0.25.
        // Row 2: h = [0.6, 0.6]; y = 1.2 - 0.6 + 0.25.
        assert!((out[0] + 0.25).abs() < 1e-6 && (out[1] - 0.85).abs() < 1e-6);
        assert_eq!(Transfer::Clamp.quantise(2.0), (127, true));
        assert_eq!(Transfer::Tanh.quantise(0.0), (0, false));
    }
}
