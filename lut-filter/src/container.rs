//! The `.lut` container (DESIGN §6): a safetensors file whose metadata carries the format name,
//! version, network description and a CRC-32 of the tensor bytes. Validated once at open; tables
//! are then viewed zero-copy.

use std::collections::BTreeMap;
use std::path::Path;

use crate::Error;
use crate::description::{Component, ContainerDescription, PictureKind, Pictures};
use crate::plan::{ModelPlan, TensorEntry, TensorType, plan_model};

/// Value of the `format` metadata key.
pub const FORMAT_NAME: &str = "lut-ilf";
/// Major version this build reads and writes.
pub const FORMAT_MAJOR: u32 = 1;
/// Minor version this build writes (readers accept any minor of their major). 1.1: a DFC
/// table's `fine_index` tensor may be absent, meaning the canonical index; 1.0 files (which
/// always hold it) are read unchanged.
pub const FORMAT_MINOR: u32 = 1;
/// Minor version written when some model is meant for intra or inter pictures only (the
/// description's `pictures` key). 1.1 readers ignore the key and select by QP alone.
pub const FORMAT_MINOR_PICTURES: u32 = 2;
/// Minor version written when some spatial node uses a pattern beyond DESIGN §2's s, d, y (the
/// lines `l` and `x`). Readers before 1.3 refuse such a file (unknown pattern).
pub const FORMAT_MINOR_PATTERNS: u32 = 3;
/// Metadata keys.
pub mod keys {
    /// Format name.
    pub const FORMAT: &str = "format";
    /// `major.minor`.
    pub const VERSION: &str = "format_version";
    /// The [`ContainerDescription`](crate::ContainerDescription) as JSON.
    pub const DESCRIPTION: &str = "description";
    /// `crc32:xxxxxxxx` of the bytes after the header.
    pub const CHECKSUM: &str = "checksum";
}

/// Where the container's bytes live.
enum Storage {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
    Static(&'static [u8]),
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Mapped(m) => m,
            Storage::Owned(v) => v,
            Storage::Static(s) => s,
        }
    }
}

/// An opened, validated container.
pub struct Container {
    storage: Storage,
    description: ContainerDescription,
    plans: Vec<ModelPlan>,
    tensors: BTreeMap<String, TensorEntry>,
    checksum: u32,
    version: String,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Container")
            .field("models", &self.plans.len())
            .field("tensors", &self.tensors.len())
            .field("bytes", &self.storage.bytes().len())
            .field("checksum", &format_args!("{:08x}", self.checksum))
            .finish()
    }
}

impl Container {
    /// Memory-maps and validates a container file.
    ///
    /// The mapping is read-only and shared (`MAP_SHARED`: a rewrite in place shows through).
    /// The checksum of every tensor byte is verified here, so corruption present at open is
    /// detected; a file truncated or rewritten by another process *after* this call is outside
    /// what a mapping can guard against (reads of a truncated mapping fault). Use [`Container::read`] where files may change under you.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len == 0 {
            return Err(Error::Malformed(format!("{} is empty", path.display())));
        }
        // SAFETY: the map is read-only; the documented contract is that the file is not
        // truncated or modified while mapped (see above), as for every mmap-based reader.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Self::from_storage(Storage::Mapped(map))
    }

    /// Reads a container file into memory and validates it (no mapping).
    pub fn read(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(bytes)
    }

    /// Validates a container held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Error> {
        Self::from_storage(Storage::Owned(bytes))
    }

    /// Validates a container in static memory (e.g. `include_bytes!`), without copying it.
    pub fn from_static(bytes: &'static [u8]) -> Result<Self, Error> {
        Self::from_storage(Storage::Static(bytes))
    }

    fn from_storage(storage: Storage) -> Result<Self, Error> {
        let bytes = storage.bytes();
        let (header_len, meta) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| Error::Malformed(e.to_string()))?;
        let data_start = 8 + header_len;
        let map = meta
            .metadata()
            .as_ref()
            .ok_or(Error::NotAContainer(keys::FORMAT))?;
        let get = |k: &'static str| map.get(k).ok_or(Error::NotAContainer(k));
        if get(keys::FORMAT)? != FORMAT_NAME {
            return Err(Error::Malformed(format!(
                "format is '{}', expected '{FORMAT_NAME}'",
                get(keys::FORMAT)?
            )));
        }
        let version = get(keys::VERSION)?.clone();
        let major: Option<u32> = version.split('.').next().and_then(|m| m.parse().ok());
        if major != Some(FORMAT_MAJOR) {
            return Err(Error::UnsupportedVersion {
                found: version,
                supported: FORMAT_MAJOR,
            });
        }
        let checksum_text = get(keys::CHECKSUM)?;
        let expected = checksum_text
            .strip_prefix("crc32:")
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| {
                Error::Malformed(format!("checksum '{checksum_text}' is not 'crc32:<hex>'"))
            })?;
        let actual = crc32fast::hash(&bytes[data_start..]);
        if actual != expected {
            return Err(Error::Checksum { expected, actual });
        }
        let description: ContainerDescription = serde_json::from_str(get(keys::DESCRIPTION)?)
            .map_err(|e| Error::Description(e.to_string()))?;
        let mut tensors = BTreeMap::new();
        for (name, info) in meta.tensors() {
            let dtype = match info.dtype {
                safetensors::Dtype::I8 => TensorType::I8,
                safetensors::Dtype::I16 => TensorType::I16,
                safetensors::Dtype::I32 => TensorType::I32,
                _ => TensorType::Other,
            };
            let (s, e) = info.data_offsets;
            tensors.insert(
                name,
                TensorEntry {
                    dtype,
                    shape: info.shape.clone(),
                    range: data_start + s..data_start + e,
                },
            );
        }
        let mut plans = Vec::with_capacity(description.models.len());
        for (i, m) in description.models.iter().enumerate() {
            if description.models[..i].iter().any(|o| o.name == m.name) {
                return Err(Error::model(&m.name, "model name is used twice"));
            }
            plans.push(plan_model(m, &tensors, bytes)?);
        }
        Ok(Container {
            storage,
            description,
            plans,
            tensors,
            checksum: actual,
            version,
        })
    }

    /// The network description of every model.
    pub fn description(&self) -> &ContainerDescription {
        &self.description
    }

    /// Format version found in the file (`major.minor`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// CRC-32 of the tensor bytes (verified at open).
    pub fn checksum(&self) -> u32 {
        self.checksum
    }

    /// Total size in bytes.
    pub fn size(&self) -> usize {
        self.storage.bytes().len()
    }

    /// Tensors: name, element type, shape, bytes.
    pub fn tensors(&self) -> impl Iterator<Item = (&str, TensorType, &[usize], usize)> {
        self.tensors
            .iter()
            .map(|(n, t)| (n.as_str(), t.dtype, t.shape.as_slice(), t.range.len()))
    }

    /// All models.
    pub fn models(&self) -> impl Iterator<Item = Model<'_>> {
        (0..self.plans.len()).map(|index| Model {
            container: self,
            index,
        })
    }

    /// The model for `component` at slice QP `qp` for a picture of unknown kind:
    /// [`Container::select_for`] with `None` (models for all pictures or for intra pictures).
    /// Containers without intra / inter models: the one whose QP range contains `qp`, else the
    /// one whose range is nearest (ties: the lower range). `None` if the container has no model
    /// for the component (the component is then left unfiltered).
    pub fn select(&self, component: Component, qp: i32) -> Option<Model<'_>> {
        self.select_for(component, qp, None)
    }

    /// The model for `component` at slice QP `qp` for a picture of kind `kind`.
    ///
    /// The candidates are the component's models meant for all pictures or for `kind`'s (an
    /// unknown kind, `None`, counts as intra). Among them: the one whose QP range contains
    /// `qp`, else the nearest range; at equal distance a model for `kind` before one for all
    /// pictures, then the lower range. `None` if no model is a candidate (the component is then
    /// left unfiltered).
    pub fn select_for(
        &self,
        component: Component,
        qp: i32,
        kind: Option<PictureKind>,
    ) -> Option<Model<'_>> {
        self.models()
            .filter(|m| {
                let d = m.description();
                d.component == component && d.pictures.admits(kind)
            })
            .min_by_key(|m| {
                let d = m.description();
                let [lo, hi] = d.qp_range;
                // `abs_diff`: any i32 QP (the C ABI passes the caller's) and any range in the
                // file, without overflow.
                let distance = if qp < lo {
                    lo.abs_diff(qp)
                } else if qp > hi {
                    qp.abs_diff(hi)
                } else {
                    0
                };
                (distance, d.pictures == Pictures::All, lo)
            })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.storage.bytes()
    }
}

/// One model of a container, ready to filter.
#[derive(Clone, Copy)]
pub struct Model<'c> {
    pub(crate) container: &'c Container,
    pub(crate) index: usize,
}

impl std::fmt::Debug for Model<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.description().name)
            .finish()
    }
}

impl<'c> Model<'c> {
    /// Its description.
    pub fn description(&self) -> &'c crate::ModelDescription {
        &self.container.plans[self.index].desc
    }

    pub(crate) fn plan(&self) -> &'c ModelPlan {
        &self.container.plans[self.index]
    }

    /// Bytes of its tables in the container.
    pub fn table_bytes(&self) -> usize {
        crate::plan::required_tensors(self.description())
            .iter()
            .filter_map(|r| self.container.tensors.get(&r.name))
            .map(|t| t.range.len())
            .sum()
    }
}
