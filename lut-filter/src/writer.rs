//! Writing containers (used by lut-build, lut-train and tests).

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::Dtype;

use crate::Error;
use crate::container::{
    Container, FORMAT_MAJOR, FORMAT_MINOR, FORMAT_MINOR_PATTERNS, FORMAT_MINOR_PICTURES,
    FORMAT_NAME, keys,
};
use crate::description::{ContainerDescription, ModelDescription, Node};
use crate::plan::{RequiredKind, RequiredTensor, check_description, required_tensors};

/// A tensor to write: element type, shape, little-endian bytes.
type TensorData = (Dtype, Vec<usize>, Vec<u8>);

/// Builds a container in memory, then writes it atomically.
#[derive(Debug, Default)]
pub struct ContainerWriter {
    description: ContainerDescription,
    tensors: BTreeMap<String, TensorData>,
}

impl ContainerWriter {
    /// An empty container.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a model. `table` is called once per int8 table the description requires (see
    /// [`required_tensors`]) and must return `shape[0] * shape[1]` values, rows of outputs
    /// adjacent. DFC fine index tables are not written: an absent index is the canonical one
    /// (format 1.1, [`DfcGeometry::fine_index`](crate::tables::DfcGeometry::fine_index)); add one with [`ContainerWriter::add_index`]
    /// to store it explicitly (as format 1.0 required).
    pub fn add_model(
        &mut self,
        desc: ModelDescription,
        mut table: impl FnMut(&RequiredTensor) -> Vec<i8>,
    ) -> Result<(), Error> {
        check_description(&desc)?;
        if self.description.models.iter().any(|m| m.name == desc.name) {
            return Err(Error::model(&desc.name, "model name is used twice"));
        }
        for req in required_tensors(&desc) {
            match req.kind {
                RequiredKind::Table => {
                    let values = table(&req);
                    let expected: usize = req.shape.iter().product();
                    if values.len() != expected {
                        return Err(Error::tensor(
                            &req.name,
                            format!(
                                "{} values given, shape {:?} needs {expected}",
                                values.len(),
                                req.shape
                            ),
                        ));
                    }
                    self.add_i8(&req.name, req.shape.clone(), &values);
                }
                // Canonical: omitted (format 1.1); readers derive it from the geometry.
                RequiredKind::FineIndex => {}
            }
        }
        self.description.models.push(desc);
        Ok(())
    }

    /// Adds (or replaces) a raw int8 tensor.
    pub fn add_i8(&mut self, name: &str, shape: Vec<usize>, values: &[i8]) {
        let bytes = bytemuck::cast_slice::<i8, u8>(values).to_vec();
        self.tensors.insert(name.into(), (Dtype::I8, shape, bytes));
    }

    /// Adds (or replaces) an index tensor: int16 when every value fits, else int32.
    pub fn add_index(&mut self, name: &str, values: &[i32]) {
        let fits = values.iter().all(|&v| i16::try_from(v).is_ok());
        let (dtype, bytes) = if fits {
            let b = values
                .iter()
                .flat_map(|&v| (v as i16).to_le_bytes())
                .collect();
            (Dtype::I16, b)
        } else {
            (
                Dtype::I32,
                values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        };
        self.tensors
            .insert(name.into(), (dtype, vec![values.len()], bytes));
    }

    /// Removes a tensor (for building deliberately broken files in tests).
    pub fn remove_tensor(&mut self, name: &str) {
        self.tensors.remove(name);
    }

    /// The description written so far.
    pub fn description(&self) -> &ContainerDescription {
        &self.description
    }

    /// Mutable description (for tests that build inconsistent files on purpose).
    pub fn description_mut(&mut self) -> &mut ContainerDescription {
        &mut self.description
    }

    /// Serialises without validating; `version` overrides the format version.
    ///
    /// The bytes are deterministic: header keys sorted, tensors laid out by element size
    /// (largest first, as safetensors does) then name, header padded with spaces to 8 bytes.
    pub fn to_bytes_unchecked(&self, version: Option<&str>) -> Result<Vec<u8>, Error> {
        let description = serde_json::to_string(&self.description)
            .map_err(|e| Error::Description(e.to_string()))?;
        let models = &self.description.models;
        let minor = if models.iter().any(|m| {
            m.nodes.iter().any(|n| match n {
                Node::Spatial(s) => s.patterns.iter().any(|p| !p.is_design()),
                _ => false,
            })
        }) {
            FORMAT_MINOR_PATTERNS
        } else if models.iter().all(|m| m.pictures.is_all()) {
            FORMAT_MINOR
        } else {
            FORMAT_MINOR_PICTURES
        };
        let version = version
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{FORMAT_MAJOR}.{minor}"));
        let mut order: Vec<(&String, &TensorData)> = self.tensors.iter().collect();
        order.sort_by(|a, b| b.1.0.bitsize().cmp(&a.1.0.bitsize()).then(a.0.cmp(b.0)));
        let mut data = Vec::new();
        let mut entries = BTreeMap::new();
        for (name, (dtype, shape, bytes)) in &order {
            let begin = data.len();
            data.extend_from_slice(bytes);
            entries.insert(
                (*name).clone(),
                serde_json::json!({
                    "dtype": dtype.to_string(),
                    "shape": shape,
                    "data_offsets": [begin, data.len()],
                }),
            );
        }
        let mut meta = BTreeMap::new();
        meta.insert(keys::FORMAT, FORMAT_NAME.to_string());
        meta.insert(keys::VERSION, version);
        meta.insert(keys::DESCRIPTION, description);
        meta.insert(
            keys::CHECKSUM,
            format!("crc32:{:08x}", crc32fast::hash(&data)),
        );
        entries.insert(
            "__metadata__".to_string(),
            serde_json::to_value(meta).map_err(|e| Error::Description(e.to_string()))?,
        );
        let header = serde_json::to_vec(&entries).map_err(|e| Error::Description(e.to_string()))?;
        Ok(crate::io::safetensors_bytes(header, &data))
    }

    /// Serialises and validates the result by opening it.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let bytes = self.to_bytes_unchecked(None)?;
        Container::from_bytes(bytes.clone())?;
        Ok(bytes)
    }

    /// Validates and writes atomically (temporary file in the same folder, then rename).
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let bytes = self.to_bytes()?;
        crate::io::write_atomic(path.as_ref(), &bytes)
    }
}
