//! Checkpoints: a safetensors file with every weight (`param/<var>`), Adam's moments
//! (`adam.m/<var>`, `adam.v/<var>`) and, in the metadata, the step, Adam's step, the elapsed
//! training time and the run's configuration (JSON). The data generator needs no state of its
//! own: each step's crops are drawn from a generator seeded by (seed, step).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::Tensor;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::TrainError;
use crate::model::Network;
use crate::optim::Adam;

/// Format name in the metadata.
pub const FORMAT: &str = "lut-train-checkpoint";
/// Format version.
pub const VERSION: &str = "1";

/// A checkpoint read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// Updates done.
    pub step: u64,
    /// Training wall time so far (seconds).
    pub elapsed_s: f64,
    /// The run's configuration (JSON).
    pub config: String,
    /// Variables: name -> (shape, values).
    pub params: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    /// Adam: first moments by variable.
    pub m: BTreeMap<String, Vec<f32>>,
    /// Adam: second moments by variable.
    pub v: BTreeMap<String, Vec<f32>>,
    /// Adam's step counter.
    pub adam_step: u64,
}

/// Writes a checkpoint (atomically).
pub fn save(
    path: &Path,
    net: &Network,
    adam: &Adam,
    step: u64,
    elapsed_s: f64,
    config: &str,
) -> Result<(), TrainError> {
    let vars = net.vars();
    let mut bufs: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (i, (name, var)) in vars.iter().enumerate() {
        let shape = var.as_tensor().dims().to_vec();
        let p: Vec<f32> = var.as_tensor().flatten_all()?.to_vec1()?;
        bufs.push((
            format!("param/{name}"),
            shape.clone(),
            bytemuck::cast_slice(&p).to_vec(),
        ));
        bufs.push((
            format!("adam.m/{name}"),
            shape.clone(),
            bytemuck::cast_slice(&adam.m[i]).to_vec(),
        ));
        bufs.push((
            format!("adam.v/{name}"),
            shape,
            bytemuck::cast_slice(&adam.v[i]).to_vec(),
        ));
    }
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), FORMAT.to_string());
    meta.insert("version".to_string(), VERSION.to_string());
    meta.insert("step".to_string(), step.to_string());
    meta.insert("adam_step".to_string(), adam.step.to_string());
    meta.insert("elapsed_s".to_string(), format!("{elapsed_s}"));
    meta.insert("config".to_string(), config.to_string());
    let bad = |what: String| TrainError::Checkpoint {
        path: path.display().to_string(),
        what,
    };
    let views = bufs
        .iter()
        .map(|(n, s, d)| {
            TensorView::new(Dtype::F32, s.clone(), d)
                .map(|v| (n.clone(), v))
                .map_err(|e| bad(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bytes = safetensors::serialize(views, Some(meta)).map_err(|e| bad(e.to_string()))?;
    lut_filter::io::write_atomic(path, &bytes)?;
    Ok(())
}

/// Reads a checkpoint.
pub fn load(path: &Path) -> Result<Checkpoint, TrainError> {
    let bad = |what: String| TrainError::Checkpoint {
        path: path.display().to_string(),
        what,
    };
    let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let meta = header
        .metadata()
        .as_ref()
        .ok_or_else(|| bad("no metadata".into()))?;
    let get = |k: &str| meta.get(k).ok_or_else(|| bad(format!("no '{k}' entry")));
    if get("format")? != FORMAT || get("version")? != VERSION {
        return Err(bad(format!(
            "not a {FORMAT} version {VERSION} file (format '{}')",
            get("format")?
        )));
    }
    let num = |k: &str| -> Result<u64, TrainError> {
        get(k)?
            .parse()
            .map_err(|_| bad(format!("'{k}' is not a number")))
    };
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let mut c = Checkpoint {
        step: num("step")?,
        adam_step: num("adam_step")?,
        elapsed_s: get("elapsed_s")?
            .parse()
            .map_err(|_| bad("'elapsed_s' is not a number".into()))?,
        config: get("config")?.clone(),
        params: BTreeMap::new(),
        m: BTreeMap::new(),
        v: BTreeMap::new(),
    };
    for (name, t) in st.tensors() {
        if t.dtype() != Dtype::F32 {
            return Err(bad(format!("tensor {name} is not f32")));
        }
        let data: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if let Some(n) = name.strip_prefix("param/") {
            c.params.insert(n.to_string(), (t.shape().to_vec(), data));
        } else if let Some(n) = name.strip_prefix("adam.m/") {
            c.m.insert(n.to_string(), data);
        } else if let Some(n) = name.strip_prefix("adam.v/") {
            c.v.insert(n.to_string(), data);
        } else {
            return Err(bad(format!("unexpected tensor {name}")));
        }
    }
    Ok(c)
}

impl Checkpoint {
    /// Sets the network's weights and Adam's state from the checkpoint; every variable must be
    /// there with its shape.
    pub fn restore(&self, path: &Path, net: &Network, adam: &mut Adam) -> Result<(), TrainError> {
        let bad = |what: String| TrainError::Checkpoint {
            path: path.display().to_string(),
            what,
        };
        let vars = net.vars();
        if vars.len() != self.params.len() {
            return Err(bad(format!(
                "{} variables, the network has {}",
                self.params.len(),
                vars.len()
            )));
        }
        for (i, (name, var)) in vars.iter().enumerate() {
            let (shape, p) = self
                .params
                .get(name)
                .ok_or_else(|| bad(format!("variable {name} missing")))?;
            if shape.as_slice() != var.as_tensor().dims() {
                return Err(bad(format!("variable {name} has shape {shape:?}")));
            }
            var.set(&Tensor::from_vec(p.clone(), shape.clone(), var.device())?)?;
            let m = self
                .m
                .get(name)
                .ok_or_else(|| bad(format!("no moment m of {name}")))?;
            let v = self
                .v
                .get(name)
                .ok_or_else(|| bad(format!("no moment v of {name}")))?;
            if m.len() != p.len() || v.len() != p.len() {
                return Err(bad(format!("moments of {name} have the wrong size")));
            }
            adam.m[i].clone_from(m);
            adam.v[i].clone_from(v);
        }
        adam.step = self.adam_step;
        Ok(())
    }
}
