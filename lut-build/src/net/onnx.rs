//! Networks trained elsewhere: one ONNX graph per unit (PyTorch's `torch.onnx.export`),
//! evaluated with `tract-onnx` (pure Rust), plus the description as JSON.
//!
//! A network directory holds (see `docs/onnx.md`):
//!
//! * `description.json`: the [`ContainerDescription`] (the same graphs as a LUT container);
//! * `units.json` (optional): a JSON object mapping unit names to options, today only
//!   `{"transfer": "tanh" | "clamp"}` ([`Transfer`]); units not listed use tanh;
//! * one ONNX file per unit of [`unit_slots`], at the unit name plus `.onnx`:
//!   `<model>/<node>/<pattern>.onnx` for spatial units, `<model>/<node>.onnx` for channel units.
//!
//! Each graph must have exactly one input, f32 `[batch, inputs]` (4 spatial, 3 channel), and one
//! output, f32 `[batch, outputs]` (the node's outputs): the raw outputs `y` before the transfer,
//! with the normalisation conventions of [`super`] (grid node `n` enters as `n / 16`). Any
//! operators tract supports may be used; the usual form is `nn.Sequential` of `Linear` and
//! `ReLU` (`Gemm` or `MatMul` + `Add`, `Relu`).
//!
//! Graphs are typed for a fixed batch of [`DEFAULT_BATCH`] rows (the last chunk of a call is
//! padded), which measured faster than a symbolic batch dimension; [`OnnxOptions`] selects
//! either. Evaluation splits a call into batches evaluated in parallel with rayon; every batch
//! is computed alone with the same graph, so results do not depend on the thread count.
//!
//! Tract runs on a thread pool of its own, never on the caller's thread: its x86-64 assembly
//! kernels return without `vzeroupper`, and a thread whose upper AVX register halves are left
//! dirty runs SSE code (libm's `tanhf`, used by every transfer) about 4x slower afterwards
//! (measured: 4096 `tanh` in 135 us instead of 30 us).

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use lut_filter::ContainerDescription;
use rayon::prelude::*;
use serde::Deserialize;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::{DimFact, Factoid};

use super::{NetError, Transfer, UnitEvaluator, UnitSlot, unit_slots};

/// The description file in a network directory.
pub const DESCRIPTION_FILE: &str = "description.json";
/// The optional per-unit options file in a network directory.
pub const UNITS_FILE: &str = "units.json";
/// Rows per evaluation batch when none is chosen.
pub const DEFAULT_BATCH: usize = 4096;

/// How graphs are typed for evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batch {
    /// Input `[n, inputs]` with `n` fixed; calls are cut into batches of `n` rows, the last one
    /// padded with zeros.
    Fixed(usize),
    /// Input `[N, inputs]` with a symbolic `N`; calls are cut into batches of at most the given
    /// number of rows, the last one shorter.
    Symbolic(usize),
}

impl Batch {
    fn rows(self) -> usize {
        match self {
            Batch::Fixed(n) | Batch::Symbolic(n) => n.max(1),
        }
    }
}

/// Options of [`OnnxNet::load_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OnnxOptions {
    /// Batch typing.
    pub batch: Batch,
    /// Threads of the evaluation pool; 0: rayon's default (`RAYON_NUM_THREADS` or the CPUs).
    pub threads: usize,
}

impl Default for OnnxOptions {
    fn default() -> Self {
        OnnxOptions {
            batch: Batch::Fixed(DEFAULT_BATCH),
            threads: 0,
        }
    }
}

/// Per-unit options in `units.json`.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitOptions {
    #[serde(default)]
    transfer: Transfer,
}

type Plan = Arc<TypedRunnableModel>;

/// One loaded unit.
struct OnnxUnit {
    slot: UnitSlot,
    transfer: Transfer,
    plan: Plan,
}

/// A network whose units are ONNX graphs, ready to evaluate.
pub struct OnnxNet {
    description: ContainerDescription,
    units: BTreeMap<String, OnnxUnit>,
    batch: Batch,
    /// The threads tract runs on (see the module docs).
    pool: rayon::ThreadPool,
}

impl std::fmt::Debug for OnnxNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxNet")
            .field("models", &self.description.models.len())
            .field("units", &self.units.keys().collect::<Vec<_>>())
            .field("batch", &self.batch)
            .finish()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> NetError + '_ {
    move |source| NetError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn unit_err(unit: &str, what: impl Into<String>) -> NetError {
    NetError::Unit {
        unit: unit.to_string(),
        what: what.into(),
    }
}

fn tract_err(path: &Path, e: impl std::fmt::Display) -> NetError {
    NetError::Onnx(format!("{}: {e:#}", path.display()))
}

/// The file of unit `unit` in network directory `dir`: the unit name plus `.onnx`, its `/`
/// separated parts as directories. Names whose parts are empty, `.`, `..` or hold a path
/// separator are refused.
pub fn unit_path(dir: &Path, unit: &str) -> Result<PathBuf, NetError> {
    let mut path = dir.to_path_buf();
    for part in unit.split('/') {
        let plain = matches!(
            Path::new(part).components().collect::<Vec<_>>()[..],
            [Component::Normal(_)]
        );
        if !plain || part.contains(['\\', '/']) || part.contains(':') {
            return Err(unit_err(unit, "name cannot be used as a file path"));
        }
        path.push(part);
    }
    path.set_extension("onnx");
    Ok(path)
}

/// The concrete value of a dimension fact of the ONNX declaration, if any.
fn declared(dim: Option<DimFact>) -> Option<i64> {
    dim.and_then(|d| d.concretize())
        .and_then(|d| d.to_i64().ok())
}

/// Loads, checks and optimises one unit graph.
fn load_unit(path: &Path, slot: &UnitSlot, batch: Batch) -> Result<Plan, NetError> {
    let name = slot.name.as_str();
    if !path.is_file() {
        return Err(unit_err(
            name,
            format!("ONNX file {} is missing", path.display()),
        ));
    }
    let mut model = tract_onnx::onnx()
        .model_for_path(path)
        .map_err(|e| tract_err(path, e))?;
    let ins = model.input_outlets().map_err(|e| tract_err(path, e))?.len();
    let outs = model
        .output_outlets()
        .map_err(|e| tract_err(path, e))?
        .len();
    if ins != 1 || outs != 1 {
        return Err(unit_err(
            name,
            format!("the graph has {ins} inputs and {outs} outputs, a unit needs one of each"),
        ));
    }
    // Width checks on the declared facts first: clearer than a type-inference failure.
    for (what, fact, want) in [
        ("input", model.input_fact(0), slot.inputs),
        ("output", model.output_fact(0), slot.outputs),
    ] {
        let fact = fact.map_err(|e| tract_err(path, e))?;
        if let Some(rank) = fact.shape.rank().concretize()
            && rank != 2
        {
            return Err(unit_err(
                name,
                format!("the {what} has rank {rank}, a unit needs [batch, {want}]"),
            ));
        }
        if let Some(w) = declared(fact.shape.dim(1))
            && w != want as i64
        {
            return Err(unit_err(
                name,
                format!("the {what} is {w} wide, the description needs {want}"),
            ));
        }
    }
    let rows = match batch {
        Batch::Fixed(n) => n.max(1).to_dim(),
        Batch::Symbolic(_) => model.sym("N").to_dim(),
    };
    let fact = InferenceFact::dt_shape(f32::datum_type(), [rows.clone(), slot.inputs.to_dim()]);
    model
        .set_input_fact(0, fact)
        .map_err(|e| tract_err(path, e))?;
    // The declared output fact may name the batch differently ("batch"): let tract infer it.
    model
        .set_output_fact(0, InferenceFact::default())
        .map_err(|e| tract_err(path, e))?;
    let typed = model.into_optimized().map_err(|e| tract_err(path, e))?;
    let out = typed.output_fact(0).map_err(|e| tract_err(path, e))?;
    let shape: Vec<TDim> = out.shape.iter().cloned().collect();
    if out.datum_type != f32::datum_type() || shape.len() != 2 || shape[0] != rows {
        return Err(unit_err(
            name,
            format!(
                "the output is {:?} {shape:?}, a unit needs f32 [{rows}, {}]",
                out.datum_type, slot.outputs
            ),
        ));
    }
    if shape[1] != slot.outputs.to_dim() {
        return Err(unit_err(
            name,
            format!(
                "the output is {} wide, the description needs {}",
                shape[1], slot.outputs
            ),
        ));
    }
    typed.into_runnable().map_err(|e| tract_err(path, e))
}

impl OnnxNet {
    /// Loads the network directory `dir` with the default options (see the module docs).
    pub fn load(dir: &Path) -> Result<OnnxNet, NetError> {
        Self::load_with(dir, &OnnxOptions::default())
    }

    /// Loads the network directory `dir`: reads and checks the description, the optional unit
    /// options and every unit's graph (present, one input and one output of the widths the
    /// description needs), then optimises the graphs for evaluation.
    pub fn load_with(dir: &Path, options: &OnnxOptions) -> Result<OnnxNet, NetError> {
        let desc_path = dir.join(DESCRIPTION_FILE);
        let text = std::fs::read_to_string(&desc_path).map_err(io_err(&desc_path))?;
        let description: ContainerDescription = serde_json::from_str(&text)
            .map_err(|e| NetError::Metadata(format!("{}: {e}", desc_path.display())))?;
        let mut slots = Vec::new();
        for m in &description.models {
            lut_filter::plan::check_description(m).map_err(|e| {
                NetError::Metadata(format!("{}: model '{}': {e}", desc_path.display(), m.name))
            })?;
            slots.extend(unit_slots(m));
        }
        let units_path = dir.join(UNITS_FILE);
        let mut opts: HashMap<String, UnitOptions> = if units_path.exists() {
            let text = std::fs::read_to_string(&units_path).map_err(io_err(&units_path))?;
            serde_json::from_str(&text)
                .map_err(|e| NetError::Metadata(format!("{}: {e}", units_path.display())))?
        } else {
            HashMap::new()
        };
        let paths = slots
            .iter()
            .map(|s| unit_path(dir, &s.name))
            .collect::<Result<Vec<_>, _>>()?;
        let pool = rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("tract-{i}"))
            .num_threads(options.threads)
            .build()
            .map_err(|e| NetError::Onnx(format!("cannot start evaluation threads: {e}")))?;
        let plans = pool.install(|| {
            slots
                .par_iter()
                .zip(&paths)
                .map(|(slot, path)| load_unit(path, slot, options.batch))
                .collect::<Result<Vec<_>, _>>()
        })?;
        let mut units = BTreeMap::new();
        for (slot, plan) in slots.into_iter().zip(plans) {
            let transfer = opts.remove(&slot.name).unwrap_or_default().transfer;
            units.insert(
                slot.name.clone(),
                OnnxUnit {
                    slot,
                    transfer,
                    plan,
                },
            );
        }
        if let Some(name) = opts.into_keys().min() {
            return Err(unit_err(
                &name,
                format!("listed in {UNITS_FILE} but not a unit of any model"),
            ));
        }
        Ok(OnnxNet {
            description,
            units,
            batch: options.batch,
            pool,
        })
    }

    /// The models (graphs).
    pub fn description(&self) -> &ContainerDescription {
        &self.description
    }

    /// The units, in name order.
    pub fn slots(&self) -> impl Iterator<Item = &UnitSlot> {
        self.units.values().map(|u| &u.slot)
    }

    fn unit(&self, unit: &str) -> Result<&OnnxUnit, NetError> {
        self.units
            .get(unit)
            .ok_or_else(|| unit_err(unit, "not in this network"))
    }

    /// Evaluates one batch of `rows` rows (`rows <= self.batch.rows()`).
    fn eval_batch(&self, u: &OnnxUnit, inputs: &[f32], out: &mut [f32]) -> Result<(), NetError> {
        let (n_in, n_out) = (u.slot.inputs, u.slot.outputs);
        let rows = inputs.len() / n_in;
        let err = |e: TractError| NetError::Onnx(format!("unit '{}': {e:#}", u.slot.name));
        let tensor = match self.batch {
            Batch::Fixed(n) if rows < n => {
                let mut padded = vec![0.0f32; n * n_in];
                padded[..inputs.len()].copy_from_slice(inputs);
                Tensor::from_shape(&[n, n_in], &padded)
            }
            _ => Tensor::from_shape(&[rows, n_in], inputs),
        }
        .map_err(err)?;
        let result = u.plan.run(tvec!(tensor.into())).map_err(err)?;
        let view = result[0].try_as_plain_ram().map_err(err)?;
        let y = view.as_slice::<f32>().map_err(err)?;
        out.copy_from_slice(&y[..rows * n_out]);
        Ok(())
    }
}

impl UnitEvaluator for OnnxNet {
    fn eval(&self, unit: &str, inputs: &[f32], out: &mut [f32]) -> Result<(), NetError> {
        let u = self.unit(unit)?;
        let (n_in, n_out) = (u.slot.inputs, u.slot.outputs);
        let rows = inputs.len() / n_in;
        if !inputs.len().is_multiple_of(n_in) || out.len() != rows * n_out {
            return Err(unit_err(
                unit,
                format!(
                    "{} input values and {} output values do not make whole rows of {n_in} -> {n_out}",
                    inputs.len(),
                    out.len()
                ),
            ));
        }
        let b = self.batch.rows();
        if rows == 0 {
            return Ok(());
        }
        self.pool.install(|| {
            inputs
                .par_chunks(b * n_in)
                .zip(out.par_chunks_mut(b * n_out))
                .try_for_each(|(i, o)| self.eval_batch(u, i, o))
        })
    }

    fn transfer(&self, unit: &str) -> Result<Transfer, NetError> {
        Ok(self.unit(unit)?.transfer)
    }
}
