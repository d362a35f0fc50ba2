//! The network being trained: one MLP per unit (ReLU hidden layers, linear output) held as
//! candle [`Var`]s, and its forward pass on a [`Batch`], computing what the LUT runtime
//! computes (`lut_filter::reference`) up to table quantisation:
//!
//! * a spatial node sums `127 * tanh(y)` over patterns and rotations, each unit reading its 4
//!   taps normalised so that grid node `n` is `n / 16` (codec sample `x / 1024`, feature
//!   `f / 256`);
//! * between nodes a sum becomes the feature `clamp(round(sum / terms) + 127, 0, 255)`, the
//!   rounding (half up) passed straight through in the backward pass;
//! * the output is `clip(x + round(S * scale / 2^scale_shift), 0, 1023)` (10-bit codes, `S` the
//!   sum of the output terms in table units, rounding straight-through); the loss is the MSE
//!   against the original.

use std::collections::BTreeMap;

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{Linear, Module};
use lut_build::net::{Activation, Layer, NetFile, Transfer, UnitSpec, UnitWeights};
use lut_filter::ContainerDescription;
use rand::SeedableRng;

use crate::TrainError;
use crate::batch::Batch;
use crate::graph::{Graph, MapRef, NodeKind};
use crate::unit_op::{UnitOp, layer_offsets, param_count};

/// One unit: an MLP `inputs -> hidden... -> outputs`, its parameters in one flat variable
/// (per layer: weight `[out, in]` row-major, then bias; see [`crate::unit_op`]).
#[derive(Debug)]
pub struct Mlp {
    /// Shape.
    pub spec: UnitSpec,
    /// Flat parameters.
    pub params: Var,
}

impl Mlp {
    /// Layer sizes: inputs, hidden..., outputs.
    pub fn dims(&self) -> Vec<usize> {
        let mut d = vec![self.spec.inputs];
        d.extend(&self.spec.hidden);
        d.push(self.spec.outputs);
        d
    }

    /// From native weights.
    pub fn from_weights(w: &UnitWeights, device: &Device) -> Result<Mlp, TrainError> {
        let flat: Vec<f32> = w
            .layers
            .iter()
            .flat_map(|l| l.weight.iter().chain(&l.bias).copied())
            .collect();
        let n = flat.len();
        let mlp = Mlp {
            spec: w.spec.clone(),
            params: Var::from_vec(flat, n, device)?,
        };
        if n != param_count(&mlp.dims()) {
            return Err(TrainError::Model(
                "unit weights do not match their spec".into(),
            ));
        }
        Ok(mlp)
    }

    /// To native weights.
    pub fn to_weights(&self) -> Result<UnitWeights, TrainError> {
        let p: Vec<f32> = self.params.as_tensor().to_vec1()?;
        let layers = layer_offsets(&self.dims())
            .into_iter()
            .map(|(w, b, i, o)| Layer {
                inputs: i,
                outputs: o,
                weight: p[w..w + i * o].to_vec(),
                bias: p[b..b + o].to_vec(),
            })
            .collect();
        Ok(UnitWeights {
            spec: self.spec.clone(),
            layers,
        })
    }

    fn params(&self, detached: bool) -> Tensor {
        if detached {
            self.params.as_detached_tensor()
        } else {
            self.params.as_tensor().clone()
        }
    }

    /// Raw outputs `y` for rows `x` (`[rows, inputs]`) through `candle_nn::Linear` layers: the
    /// plain candle formulation, which the fused [`UnitOp`] is checked against.
    pub fn forward(&self, x: &Tensor, detached: bool) -> Result<Tensor, TrainError> {
        let p = self.params(detached);
        let offs = layer_offsets(&self.dims());
        let mut h = x.clone();
        for (l, &(w, b, i, o)) in offs.iter().enumerate() {
            let weight = p.narrow(0, w, i * o)?.reshape((o, i))?;
            let bias = p.narrow(0, b, o)?;
            h = Linear::new(weight, Some(bias)).forward(&h)?;
            if l + 1 < offs.len() {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    /// Table values (`127 tanh(y)` or `clamp(127 y)`) of rows `x` through
    /// [`Mlp::forward`].
    pub fn table_values(&self, x: &Tensor, detached: bool) -> Result<Tensor, TrainError> {
        let y = self.forward(x, detached)?;
        Ok(match self.spec.transfer {
            Transfer::Tanh => (y.tanh()? * 127.0)?,
            Transfer::Clamp => (y * 127.0)?.clamp(-127f32, 127f32)?,
        })
    }

    /// Table values of rows `x` (`[groups * m, inputs]`) summed over the `groups` blocks of
    /// `m` rows, `[m, outputs]`, through the fused [`UnitOp`].
    pub fn fused(&self, x: &Tensor, groups: usize, detached: bool) -> Result<Tensor, TrainError> {
        let op = UnitOp::new(self.dims(), self.spec.transfer, groups);
        Ok(x.contiguous()?.apply_op2(&self.params(detached), op)?)
    }
}

/// What a forward pass returns.
#[derive(Debug)]
pub struct Forward {
    /// `S`, the sum of the output terms at the scored positions (table units).
    pub sum: Tensor,
    /// The filtered samples at the scored positions (10-bit codes).
    pub filtered: Tensor,
    /// Mean squared error against the original (codes^2), a scalar.
    pub loss: Tensor,
}

/// A model description with one trainable MLP per unit.
#[derive(Debug)]
pub struct Network {
    /// The resolved description.
    pub graph: Graph,
    /// Units in [`Graph::units`] order.
    pub units: Vec<Mlp>,
}

/// `x + (floor(x + 0.5) - x)` with the rounding's gradient taken as 1 (straight-through).
fn round_ste(x: &Tensor) -> Result<Tensor, TrainError> {
    let r = (x + 0.5)?.floor()?;
    Ok((x + (r - x)?.detach())?)
}

impl Network {
    /// Randomly initialised units (PyTorch's `nn.Linear` init), deterministic in `seed`; the
    /// last layer of units whose outputs are model outputs is scaled by `out_gain` (small: the
    /// model starts near the identity), the others by 1.
    pub fn random(
        graph: Graph,
        hidden: &[usize],
        transfer: Transfer,
        out_gain: f32,
        seed: u64,
        device: &Device,
    ) -> Result<Network, TrainError> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let out_nodes: Vec<String> = graph
            .terms
            .iter()
            .map(|&(n, _)| graph.nodes[n].name.clone())
            .collect();
        let units = graph
            .units
            .iter()
            .map(|slot| {
                let spec = UnitSpec {
                    inputs: slot.inputs,
                    outputs: slot.outputs,
                    hidden: hidden.to_vec(),
                    activation: Activation::Relu,
                    transfer,
                };
                let node = slot.name.split('/').nth(1).unwrap_or("");
                let gain = if out_nodes.iter().any(|n| n == node) {
                    out_gain
                } else {
                    1.0
                };
                Mlp::from_weights(&UnitWeights::random(spec, &mut rng, gain), device)
            })
            .collect::<Result<_, _>>()?;
        Ok(Network { graph, units })
    }

    /// The units of `graph` started from another model's trained network (`net`'s first
    /// model: the same architecture for another component or QP range): unit `node/pattern`
    /// of `graph` gets the weights of unit `node/pattern` of that model. Every unit must exist
    /// there with the same shape (inputs, outputs, hidden widths, activation, transfer).
    pub fn from_other_model(
        graph: Graph,
        net: &NetFile,
        hidden: &[usize],
        transfer: Transfer,
        device: &Device,
    ) -> Result<Network, TrainError> {
        let source = net
            .description
            .models
            .first()
            .map(|m| m.name.clone())
            .ok_or_else(|| TrainError::Model("the initial network holds no model".into()))?;
        let own = format!("{}/", graph.desc.name);
        let units = graph
            .units
            .iter()
            .map(|slot| {
                let rest = slot.name.strip_prefix(&own).unwrap_or(&slot.name);
                let w = net.unit(&format!("{source}/{rest}"))?;
                let spec = &w.spec;
                if spec.inputs != slot.inputs
                    || spec.outputs != slot.outputs
                    || spec.hidden != hidden
                    || spec.activation != Activation::Relu
                    || spec.transfer != transfer
                {
                    return Err(TrainError::Model(format!(
                        "initial unit {source}/{rest} has shape {}-{:?}-{} ({:?}, {:?});                          {} needs {}-{hidden:?}-{} (Relu, {transfer:?})",
                        spec.inputs,
                        spec.hidden,
                        spec.outputs,
                        spec.activation,
                        spec.transfer,
                        slot.name,
                        slot.inputs,
                        slot.outputs
                    )));
                }
                Mlp::from_weights(w, device)
            })
            .collect::<Result<_, _>>()?;
        Ok(Network { graph, units })
    }

    /// The units of `graph` taken from a network file.
    pub fn from_net(graph: Graph, net: &NetFile, device: &Device) -> Result<Network, TrainError> {
        let units = graph
            .units
            .iter()
            .map(|slot| Mlp::from_weights(net.unit(&slot.name)?, device))
            .collect::<Result<_, _>>()?;
        Ok(Network { graph, units })
    }

    /// The network file of this model (description as trained, every unit's weights).
    pub fn to_net(&self) -> Result<NetFile, TrainError> {
        let mut units = BTreeMap::new();
        for (slot, u) in self.graph.units.iter().zip(&self.units) {
            units.insert(slot.name.clone(), u.to_weights()?);
        }
        let net = NetFile {
            description: ContainerDescription {
                models: vec![self.graph.desc.clone()],
            },
            units,
        };
        net.validate()?;
        Ok(net)
    }

    /// Every trainable variable with a stable name (the unit's name: its flat parameters).
    pub fn vars(&self) -> Vec<(String, Var)> {
        self.graph
            .units
            .iter()
            .zip(&self.units)
            .map(|(slot, u)| (slot.name.clone(), u.params.clone()))
            .collect()
    }

    /// Number of trainable parameters.
    pub fn parameters(&self) -> usize {
        self.vars().iter().map(|(_, v)| v.elem_count()).sum()
    }

    /// Forward pass on a batch (`detached`: no gradient graph, for evaluation).
    pub fn forward(&self, batch: &Batch, detached: bool) -> Result<Forward, TrainError> {
        let g = &self.graph;
        let desc = &g.desc;
        let mut raws: Vec<Tensor> = Vec::with_capacity(g.nodes.len());
        let mut feats: Vec<Vec<Tensor>> = Vec::with_capacity(g.nodes.len());
        for (n, node) in g.nodes.iter().enumerate() {
            let get = |m: MapRef| -> Result<&Tensor, TrainError> {
                match m {
                    MapRef::Input(c) => batch.inputs[c.index()]
                        .as_ref()
                        .ok_or_else(|| TrainError::Model(format!("input {c} not in the batch"))),
                    MapRef::Node(a, k) => Ok(&feats[a][k]),
                }
            };
            let len = batch.node_len[n];
            let k = node.outputs;
            let raw = match &node.kind {
                NodeKind::Spatial {
                    input,
                    patterns,
                    rotations,
                    ..
                } => {
                    let src = get(*input)?;
                    let mut acc: Option<Tensor> = None;
                    for (p, (_, u)) in patterns.iter().enumerate() {
                        let x = src
                            .index_select(&batch.spatial[n][p], 0)?
                            .reshape((rotations * len, 4))?;
                        let s = self.units[*u].fused(&x, *rotations, detached)?;
                        acc = Some(match acc {
                            None => s,
                            Some(a) => (a + s)?,
                        });
                    }
                    acc.ok_or_else(|| {
                        TrainError::Model(format!("node {} has no pattern", node.name))
                    })?
                }
                NodeKind::Channel { inputs, unit } => {
                    let cols = inputs
                        .iter()
                        .zip(&batch.channel[n])
                        .map(|(m, ids)| {
                            let src = get(*m)?;
                            Ok(match ids {
                                Some(ids) => src.index_select(ids, 0)?,
                                None => src.clone(),
                            })
                        })
                        .collect::<Result<Vec<_>, TrainError>>()?;
                    let x = Tensor::stack(&cols, 1)?;
                    self.units[*unit].fused(&x, 1, detached)?
                }
            };
            let terms = node.terms as f64;
            let mut f = Vec::with_capacity(k);
            for j in 0..k {
                let s = raw.narrow(D::Minus1, j, 1)?.squeeze(D::Minus1)?;
                let q = round_ste(&(s / terms)?)?;
                let q = (q + 127.0)?.clamp(0f32, 255f32)?;
                f.push((q / 256.0)?.contiguous()?);
            }
            feats.push(f);
            raws.push(raw);
        }
        let mut sum: Option<Tensor> = None;
        for (&(n, k), ids) in g.terms.iter().zip(&batch.terms) {
            let s = raws[n].narrow(D::Minus1, k, 1)?.squeeze(D::Minus1)?;
            let s = match ids {
                Some(ids) => s.contiguous()?.index_select(ids, 0)?,
                None => s,
            };
            sum = Some(match sum {
                None => s,
                Some(a) => (a + s)?,
            });
        }
        let sum = sum.ok_or_else(|| TrainError::Model("no output term".into()))?;
        let scale = f64::from(desc.output.scale) / f64::from(1u32 << desc.output.scale_shift);
        let residual = round_ste(&(&sum * scale)?)?;
        let filtered = (&batch.recon + residual)?.clamp(0f32, 1023f32)?;
        let loss = (&filtered - &batch.orig)?.sqr()?.mean_all()?;
        Ok(Forward {
            sum,
            filtered,
            loss,
        })
    }
}

/// Squared error sums of a detached forward: (unfiltered, filtered, positions).
pub fn error_sums(batch: &Batch, f: &Forward) -> Result<(f64, f64, usize), TrainError> {
    let before = (&batch.recon - &batch.orig)?
        .sqr()?
        .sum_all()?
        .to_dtype(DType::F64)?;
    let after = (&f.filtered - &batch.orig)?
        .sqr()?
        .sum_all()?
        .to_dtype(DType::F64)?;
    Ok((
        before.to_scalar::<f64>()?,
        after.to_scalar::<f64>()?,
        batch.outputs(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lut_filter::description::presets;
    use lut_filter::{Component, TableLayout};

    fn rows(n: usize, width: usize) -> Vec<f32> {
        (0..n * width)
            .map(|i| ((i * 37) % 257) as f32 / 256.0)
            .collect()
    }

    #[test]
    fn candle_unit_equals_the_native_forward() {
        let d = presets::cascade("m", Component::Y, [0, 63], 1, TableLayout::Regular, 1, 4);
        let g = Graph::new(&d).unwrap();
        let net = Network::random(g, &[16, 8], Transfer::Tanh, 1.0, 3, &Device::Cpu).unwrap();
        let native = net.to_net().unwrap();
        let r = rows(50, 4);
        let x = Tensor::from_vec(r.clone(), (50, 4), &Device::Cpu).unwrap();
        for (slot, u) in net.graph.units.iter().zip(&net.units) {
            let got: Vec<f32> = u
                .forward(&x, true)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let fused: Vec<f32> = u
                .fused(&x, 1, true)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let mut want = vec![0f32; 50];
            native.unit(&slot.name).unwrap().forward(&r, &mut want);
            for ((a, b), f) in got.iter().zip(&want).zip(&fused) {
                assert!((a - b).abs() < 1e-5, "{}: {a} vs {b}", slot.name);
                let t = Transfer::Tanh.apply(*b);
                assert!((f - t).abs() < 1e-3, "{}: fused {f} vs {t}", slot.name);
            }
        }
    }

    /// The fused unit's gradients equal candle's autograd through `candle_nn::Linear`.
    #[test]
    fn fused_unit_gradients_equal_autograd() {
        for (transfer, hidden, outputs, groups) in [
            (Transfer::Tanh, vec![16, 8], 1, 4),
            (Transfer::Tanh, vec![8], 3, 1),
            (Transfer::Clamp, vec![8, 8, 4], 2, 2),
        ] {
            let spec = UnitSpec {
                inputs: 4,
                outputs,
                hidden,
                activation: Activation::Relu,
                transfer,
            };
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
            let u =
                Mlp::from_weights(&UnitWeights::random(spec, &mut rng, 1.0), &Device::Cpu).unwrap();
            let m = 40;
            let x = Var::from_vec(rows(groups * m, 4), (groups * m, 4), &Device::Cpu).unwrap();
            let weights = Tensor::from_vec(
                (0..m * outputs)
                    .map(|i| ((i % 7) as f32 - 3.0) / 5.0)
                    .collect::<Vec<f32>>(),
                (m, outputs),
                &Device::Cpu,
            )
            .unwrap();
            let fused = u.fused(x.as_tensor(), groups, false).unwrap();
            let plain = u
                .table_values(x.as_tensor(), false)
                .unwrap()
                .reshape((groups, m, outputs))
                .unwrap()
                .sum(0)
                .unwrap();
            let diff: f32 = (&fused - &plain)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar()
                .unwrap();
            assert!(diff < 1e-3, "forward differs by {diff}");
            let gf = (&fused * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let gp = (&plain * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            for t in [u.params.as_tensor(), x.as_tensor()] {
                let a: Vec<f32> = gf.get(t).unwrap().flatten_all().unwrap().to_vec1().unwrap();
                let b: Vec<f32> = gp.get(t).unwrap().flatten_all().unwrap().to_vec1().unwrap();
                let scale = b.iter().fold(1f32, |s, v| s.max(v.abs()));
                for (i, (a, b)) in a.iter().zip(&b).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-4 * scale,
                        "{transfer:?} gradient {i}: {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn network_round_trips_through_the_net_file() {
        let d =
            presets::chroma_cross_component("u", Component::U, [0, 63], TableLayout::Regular, 1, 5);
        let g = Graph::new(&d).unwrap();
        let net = Network::random(g.clone(), &[8], Transfer::Tanh, 0.1, 9, &Device::Cpu).unwrap();
        let file = net.to_net().unwrap();
        let back = Network::from_net(
            g,
            &NetFile::from_bytes(&file.to_bytes().unwrap()).unwrap(),
            &Device::Cpu,
        )
        .unwrap();
        assert_eq!(back.to_net().unwrap(), file);
        assert_eq!(net.parameters(), back.parameters());
    }
}
