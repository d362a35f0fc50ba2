//! LUT-aware fine-tuning (DESIGN §2 "Fine-tuning"): a model's table entries are the parameters,
//! `p = value / 127`; the forward pass is the runtime's integer computation (look-ups, sums over
//! patterns and rotations, requantised features, rounded residual) with the roundings and
//! clamps replaced by straight-through estimators in the backward pass; the loss is the MSE of
//! the filtered reconstruction against the original (10-bit codes); Adam minimises it on random
//! crops of the train split. Works for any [`ModelDescription`]: cascades, several outputs,
//! channel nodes, `chroma_from_luma` sampling, regular and DFC tables.
//!
//! * [`graph`]: forward and backward pass of one crop ([`Graph`], [`Mode`]);
//! * [`crop`]: crops with a margin covering the receptive field;
//! * [`train`]: the training loop ([`finetune`], [`FinetuneOptions`]);
//! * [`adam`]: the optimiser;
//! * this module: tables in and out of containers ([`ModelTables`]).
//!
//! See `docs/finetune.md`.

pub mod adam;
pub mod crop;
pub mod graph;
mod lookup;
pub mod train;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lut_filter::plan::{RequiredKind, required_tensors};
use lut_filter::tables::DfcGeometry;
use lut_filter::{Container, ContainerWriter, ModelDescription, Node, TableLayout};
use rand::{Rng, SeedableRng};
use safetensors::SafeTensors;
use safetensors::tensor::Dtype;

pub use crop::{Crop, CropBox, Window};
pub use graph::{Graph, Mode, Outcome, ParamBlock};
pub use train::{FinetuneOptions, FinetuneResult, TrainFrame, finetune};

/// Errors of fine-tuning.
#[derive(Debug, thiserror::Error)]
pub enum FinetuneError {
    /// The container or a description is invalid.
    #[error(transparent)]
    Container(#[from] lut_filter::Error),
    /// A model cannot be fine-tuned as described.
    #[error("model '{model}': {what}")]
    Model {
        /// Model name.
        model: String,
        /// What is wrong.
        what: String,
    },
    /// A tensor is missing or malformed.
    #[error("tensor '{tensor}': {what}")]
    Tensor {
        /// Tensor name.
        tensor: String,
        /// What is wrong.
        what: String,
    },
    /// No training picture for a model.
    #[error("model '{0}': no training pictures in its component and slice-QP range")]
    NoData(String),
    /// Training data unusable.
    #[error("training data: {0}")]
    Data(String),
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// A model's description and its tables, as a container holds them.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelTables {
    /// The description.
    pub description: ModelDescription,
    /// int8 tables by tensor name (every `Table` tensor `required_tensors` lists).
    pub tables: BTreeMap<String, Vec<i8>>,
    /// Explicit DFC fine indexes that differ from the canonical one, by tensor name.
    pub indexes: BTreeMap<String, Vec<i32>>,
}

impl ModelTables {
    /// The model's graph (with its explicit fine indexes).
    pub fn graph(&self) -> Result<Graph, FinetuneError> {
        let mut g = Graph::new(&self.description)?;
        for (name, index) in &self.indexes {
            g.set_fine_index(name, index.clone())?;
        }
        Ok(g)
    }

    /// Parameters `value / 127` in the graph's layout.
    pub fn parameters(&self, graph: &Graph) -> Result<Vec<f64>, FinetuneError> {
        let mut p = vec![0.0; graph.parameters()];
        for b in graph.blocks() {
            let t = self
                .tables
                .get(&b.name)
                .ok_or_else(|| FinetuneError::Tensor {
                    tensor: b.name.clone(),
                    what: "missing".into(),
                })?;
            if t.len() != b.len {
                return Err(FinetuneError::Tensor {
                    tensor: b.name.clone(),
                    what: format!("{} values, the description needs {}", t.len(), b.len),
                });
            }
            for (d, &v) in p[b.offset..b.offset + b.len].iter_mut().zip(t) {
                *d = f64::from(v) / 127.0;
            }
        }
        Ok(p)
    }

    /// Stores parameters as int8 tables: `clamp(round(127 p), -127, 127)`.
    pub fn set_parameters(&mut self, graph: &Graph, params: &[f64]) {
        for b in graph.blocks() {
            let values = params[b.offset..b.offset + b.len]
                .iter()
                .map(|&p| (127.0 * p).round().clamp(-127.0, 127.0) as i8)
                .collect();
            self.tables.insert(b.name.clone(), values);
        }
    }

    /// A model with random tables, uniform in `-amplitude..=amplitude` (seeded).
    pub fn random(description: ModelDescription, amplitude: i8, seed: u64) -> ModelTables {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let a = amplitude.clamp(0, 127);
        let tables = required_tensors(&description)
            .into_iter()
            .filter(|r| r.kind == RequiredKind::Table)
            .map(|r| {
                let n: usize = r.shape.iter().product();
                (r.name, (0..n).map(|_| rng.gen_range(-a..=a)).collect())
            })
            .collect();
        ModelTables {
            description,
            tables,
            indexes: BTreeMap::new(),
        }
    }
}

fn canonical_index(desc: &ModelDescription, tensor: &str) -> Option<Vec<i32>> {
    desc.nodes.iter().find_map(|n| match n {
        Node::Spatial(s) => match s.table {
            TableLayout::Dfc { dims, dw, si }
                if s.patterns.iter().any(|p| {
                    tensor == format!("{}/{}/{}/fine_index", desc.name, s.name, p.name())
                }) =>
            {
                let g = DfcGeometry {
                    dims: dims.into(),
                    dw: dw.into(),
                    si: si.into(),
                };
                Some(g.fine_index().0)
            }
            _ => None,
        },
        Node::Channel(_) => None,
    })
}

/// Reads every model's tables from container bytes (validated by the runtime first).
pub fn read_container(bytes: &[u8]) -> Result<Vec<ModelTables>, FinetuneError> {
    let container = Container::from_bytes(bytes.to_vec())?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| FinetuneError::Tensor {
        tensor: "*".into(),
        what: e.to_string(),
    })?;
    let mut models = Vec::new();
    for desc in &container.description().models {
        let mut tables = BTreeMap::new();
        let mut indexes = BTreeMap::new();
        for req in required_tensors(desc) {
            let view = match st.tensor(&req.name) {
                Ok(v) => v,
                // An absent fine index is the canonical one (format 1.1).
                Err(_) if req.kind == RequiredKind::FineIndex => continue,
                Err(e) => {
                    return Err(FinetuneError::Tensor {
                        tensor: req.name,
                        what: e.to_string(),
                    });
                }
            };
            let data = view.data();
            match req.kind {
                RequiredKind::Table => {
                    tables.insert(req.name, data.iter().map(|&b| b as i8).collect());
                }
                RequiredKind::FineIndex => {
                    let index: Vec<i32> = match view.dtype() {
                        Dtype::I16 => data
                            .chunks_exact(2)
                            .map(|b| i32::from(i16::from_le_bytes([b[0], b[1]])))
                            .collect(),
                        _ => data
                            .chunks_exact(4)
                            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                            .collect(),
                    };
                    if canonical_index(desc, &req.name).as_ref() != Some(&index) {
                        indexes.insert(req.name, index);
                    }
                }
            }
        }
        models.push(ModelTables {
            description: desc.clone(),
            tables,
            indexes,
        });
    }
    Ok(models)
}

/// Reads a container file's models.
pub fn read_container_file(path: &Path) -> Result<Vec<ModelTables>, FinetuneError> {
    let bytes = std::fs::read(path).map_err(|source| FinetuneError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_container(&bytes)
}

/// A container writer holding `models` (explicit fine indexes kept).
pub fn container_writer(models: &[ModelTables]) -> Result<ContainerWriter, FinetuneError> {
    let mut w = ContainerWriter::new();
    for m in models {
        let mut missing = None;
        w.add_model(m.description.clone(), |req| match m.tables.get(&req.name) {
            Some(t) => t.clone(),
            None => {
                missing = Some(req.name.clone());
                Vec::new()
            }
        })
        .map_err(|e| match missing.take() {
            Some(tensor) => FinetuneError::Tensor {
                tensor,
                what: "missing".into(),
            },
            None => FinetuneError::Container(e),
        })?;
        for (name, index) in &m.indexes {
            w.add_index(name, index);
        }
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lut_filter::Component;
    use lut_filter::description::presets;

    #[test]
    fn tables_round_trip_through_a_container() {
        let dfc = TableLayout::Dfc {
            dims: 4,
            dw: 2,
            si: 5,
        };
        let models = vec![
            ModelTables::random(
                presets::cascade("a", Component::Y, [0, 30], 2, dfc, 100, 12),
                20,
                1,
            ),
            ModelTables::random(
                presets::chroma_cross_component("b", Component::U, [0, 63], dfc, 50, 12),
                5,
                2,
            ),
        ];
        let bytes = container_writer(&models).unwrap().to_bytes().unwrap();
        let back = read_container(&bytes).unwrap();
        assert_eq!(back, models);
        let g = back[0].graph().unwrap();
        let p = back[0].parameters(&g).unwrap();
        let mut again = back[0].clone();
        again.set_parameters(&g, &p);
        assert_eq!(again, back[0]);
    }
}
