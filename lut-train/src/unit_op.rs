//! A unit's MLP as one fused candle operation, forward and backward: rows `[R, in]` and the
//! unit's flat parameters in, table values out, summed over `groups` consecutive blocks of
//! `R / groups` rows (the rotations of a spatial node).
//!
//! The rows are processed in chunks of about [`CHUNK_ROWS`] rows (all groups of a range of
//! outputs together), in parallel: a chunk's activations stay in cache, nothing large is
//! allocated, and the backward pass recomputes a chunk's forward instead of storing it. The
//! hidden-layer products go through candle's `matmul` (gemm, run-time dispatched SIMD; at this
//! size single-threaded); bias, ReLU, the transfer and their derivatives are plain loops.
//! Parameter gradients are summed chunk by chunk in chunk order, so every result is
//! independent of the thread count.
//!
//! Flat parameter layout (per layer `l`): `W_l` (`[out_l, in_l]`, row-major) then `b_l`.

use candle_core::{CpuStorage, CustomOp2, Device, Layout, Shape, Tensor};
use lut_build::net::Transfer;
use rayon::prelude::*;

/// Rows per chunk (gemm stays single-threaded below 48 * 48 * 256 multiply-adds per product).
pub const CHUNK_ROWS: usize = 512;

/// Offsets of each layer's weight and bias in the flat parameters: `(w, b, in, out)`.
pub fn layer_offsets(dims: &[usize]) -> Vec<(usize, usize, usize, usize)> {
    let mut off = 0;
    dims.windows(2)
        .map(|d| {
            let (i, o) = (d[0], d[1]);
            let w = off;
            off += i * o;
            let b = off;
            off += o;
            (w, b, i, o)
        })
        .collect()
}

/// Number of flat parameters of an MLP with layer sizes `dims`.
pub fn param_count(dims: &[usize]) -> usize {
    dims.windows(2).map(|d| d[0] * d[1] + d[1]).sum()
}

/// The fused unit (see the module documentation).
#[derive(Debug, Clone)]
pub struct UnitOp {
    /// Layer sizes: inputs, hidden..., outputs.
    pub dims: Vec<usize>,
    /// Output transfer.
    pub transfer: Transfer,
    /// Consecutive row blocks summed into the output.
    pub groups: usize,
}

fn cerr(s: impl Into<String>) -> candle_core::Error {
    candle_core::Error::Msg(s.into())
}

fn slice<'a>(s: &'a CpuStorage, l: &Layout) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        return Err(cerr("unit op: f32 tensors only"));
    };
    let (a, b) = l
        .contiguous_offsets()
        .ok_or_else(|| cerr("unit op: contiguous tensors only"))?;
    Ok(&v[a..b])
}

/// Reads a tensor's values (contiguous f32 on the CPU) without copying and applies `f`.
fn with_values<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> candle_core::Result<R> {
    let t = t.contiguous()?;
    let (s, l) = t.storage_and_layout();
    match &*s {
        candle_core::Storage::Cpu(c) => Ok(f(slice(c, l)?)),
        _ => Err(cerr("unit op: CPU tensors only")),
    }
}

/// `a [r, n] = b [r, k] x c`, with `c` a `[k, n]` tensor (possibly a transposed view).
fn product(b: &[f32], k: usize, c: &Tensor) -> candle_core::Result<Vec<f32>> {
    let bt = Tensor::from_slice(b, (b.len() / k, k), &Device::Cpu)?;
    bt.matmul(c)?.flatten_all()?.to_vec1()
}

/// One chunk's forward: activations `a_0 = x, a_1, ...` (post-ReLU) and raw outputs `y`.
struct ChunkForward {
    acts: Vec<Vec<f32>>,
    y: Vec<f32>,
}

/// Per-chunk parameter gradients and input gradients.
struct ChunkBackward {
    params: Vec<f32>,
    x: Vec<f32>,
}

impl UnitOp {
    /// A fused unit with layer sizes `dims` summing `groups` row blocks.
    pub fn new(dims: Vec<usize>, transfer: Transfer, groups: usize) -> Self {
        UnitOp {
            dims,
            transfer,
            groups,
        }
    }

    /// Output rows per chunk.
    fn chunk_outputs(&self) -> usize {
        (CHUNK_ROWS / self.groups).max(1)
    }

    /// The rows of output range `[e0, e1)` of all groups (`m` outputs per group).
    fn gather(&self, x: &[f32], m: usize, e0: usize, e1: usize) -> Vec<f32> {
        let i = self.dims[0];
        let mut v = Vec::with_capacity(self.groups * (e1 - e0) * i);
        for g in 0..self.groups {
            v.extend_from_slice(&x[(g * m + e0) * i..(g * m + e1) * i]);
        }
        v
    }

    fn forward_chunk(
        &self,
        x: Vec<f32>,
        p: &[f32],
        wt: &[Tensor],
    ) -> candle_core::Result<ChunkForward> {
        let offs = layer_offsets(&self.dims);
        let rows = x.len() / self.dims[0];
        let mut acts = vec![x];
        for (l, &(w, b, i, o)) in offs.iter().enumerate() {
            let last = l + 1 == offs.len();
            let bias = &p[b..b + o];
            let a = &acts[l];
            let z = if l == 0 {
                // 3 or 4 inputs: z = b + sum_k x_k W[:, k], vectorised over the outputs.
                let wv = &p[w..w + i * o];
                let wcol: Vec<f32> = (0..i * o).map(|t| wv[(t % o) * i + t / o]).collect();
                let mut z = vec![0f32; rows * o];
                for (d, s) in z.chunks_exact_mut(o).zip(a.chunks_exact(i)) {
                    d.copy_from_slice(bias);
                    for (xv, col) in s.iter().zip(wcol.chunks_exact(o)) {
                        for (dj, wj) in d.iter_mut().zip(col) {
                            *dj += xv * wj;
                        }
                    }
                    if !last {
                        for dj in d.iter_mut() {
                            *dj = dj.max(0.0);
                        }
                    }
                }
                z
            } else {
                let mut z = product(a, i, &wt[l])?;
                for row in z.chunks_exact_mut(o) {
                    for (v, b) in row.iter_mut().zip(bias) {
                        *v += b;
                        if !last {
                            *v = v.max(0.0);
                        }
                    }
                }
                z
            };
            if last {
                return Ok(ChunkForward { acts, y: z });
            }
            acts.push(z);
        }
        Err(cerr("unit op: no layer"))
    }

    fn backward_chunk(
        &self,
        x: Vec<f32>,
        p: &[f32],
        wt: &[Tensor],
        w: &[Tensor],
        grad: &[f32],
    ) -> candle_core::Result<ChunkBackward> {
        let offs = layer_offsets(&self.dims);
        let f = self.forward_chunk(x, p, wt)?;
        let k = *self.dims.last().ok_or_else(|| cerr("unit op: no layer"))?;
        let per_group = grad.len();
        let mut dy: Vec<f32> =
            f.y.iter()
                .enumerate()
                .map(|(e, &y)| grad[e % per_group] * self.transfer(y).1)
                .collect();
        let mut gp = vec![0f32; param_count(&self.dims)];
        let mut o = k;
        for l in (0..offs.len()).rev() {
            let (wo, bo, i, _) = offs[l];
            let a = &f.acts[l];
            // dW = dy^T a, db = column sums of dy.
            let dyt = Tensor::from_slice(&dy, (dy.len() / o, o), &Device::Cpu)?;
            let at = Tensor::from_slice(a, (a.len() / i, i), &Device::Cpu)?;
            let gw: Vec<f32> = dyt.t()?.matmul(&at)?.flatten_all()?.to_vec1()?;
            gp[wo..wo + i * o].copy_from_slice(&gw);
            for row in dy.chunks_exact(o) {
                for (g, d) in gp[bo..bo + o].iter_mut().zip(row) {
                    *g += d;
                }
            }
            let mut dh = product(&dy, o, &w[l])?;
            if l > 0 {
                for (d, h) in dh.iter_mut().zip(a) {
                    if *h <= 0.0 {
                        *d = 0.0;
                    }
                }
            }
            dy = dh;
            o = i;
        }
        Ok(ChunkBackward { params: gp, x: dy })
    }

    /// Table value of raw output `y` and its derivative.
    #[inline]
    fn transfer(&self, y: f32) -> (f32, f32) {
        match self.transfer {
            Transfer::Tanh => {
                let t = y.tanh();
                (127.0 * t, 127.0 * (1.0 - t * t))
            }
            Transfer::Clamp => {
                let v = 127.0 * y;
                if v.abs() < 127.0 {
                    (v, 127.0)
                } else {
                    (v.clamp(-127.0, 127.0), 0.0)
                }
            }
        }
    }

    /// Weight tensors `W_l` and their transposes.
    fn weights(&self, p: &[f32]) -> candle_core::Result<(Vec<Tensor>, Vec<Tensor>)> {
        let mut w = Vec::new();
        let mut wt = Vec::new();
        for (wo, _, i, o) in layer_offsets(&self.dims) {
            let t = Tensor::from_slice(&p[wo..wo + i * o], (o, i), &Device::Cpu)?;
            wt.push(t.t()?);
            w.push(t);
        }
        Ok((w, wt))
    }

    /// Checks shapes; returns (rows, outputs per group).
    fn check(&self, l1: &Layout, params: usize) -> candle_core::Result<(usize, usize)> {
        let n_in = self.dims[0];
        if self.dims.len() < 2 || l1.dims().len() != 2 || l1.dims()[1] != n_in {
            return Err(cerr("unit op: input shape does not match the unit"));
        }
        if params != param_count(&self.dims) {
            return Err(cerr("unit op: parameter count does not match the unit"));
        }
        let rows = l1.dims()[0];
        if self.groups == 0 || !rows.is_multiple_of(self.groups) {
            return Err(cerr("unit op: rows not a multiple of the groups"));
        }
        Ok((rows, rows / self.groups))
    }
}

impl CustomOp2 for UnitOp {
    fn name(&self) -> &'static str {
        "lut-unit"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (x, p) = (slice(s1, l1)?, slice(s2, l2)?);
        let (_, m) = self.check(l1, p.len())?;
        let k = self.dims[self.dims.len() - 1];
        let (_, wt) = self.weights(p)?;
        let e = self.chunk_outputs();
        let chunks: Vec<Vec<f32>> = (0..m.div_ceil(e))
            .into_par_iter()
            .map(|c| {
                let (e0, e1) = (c * e, ((c + 1) * e).min(m));
                let f = self.forward_chunk(self.gather(x, m, e0, e1), p, &wt)?;
                let n = (e1 - e0) * k;
                let mut out = vec![0f32; n];
                for g in 0..self.groups {
                    for (o, &y) in out.iter_mut().zip(&f.y[g * n..(g + 1) * n]) {
                        *o += self.transfer(y).0;
                    }
                }
                Ok(out)
            })
            .collect::<candle_core::Result<_>>()?;
        let out: Vec<f32> = chunks.into_iter().flatten().collect();
        Ok((CpuStorage::F32(out), Shape::from((m, k))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        params: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let p: Vec<f32> = params.detach().to_vec1()?;
        let (w, wt) = self.weights(&p)?;
        let (rows, m) = self.check(x.layout(), p.len())?;
        let n_in = self.dims[0];
        let k = self.dims[self.dims.len() - 1];
        let e = self.chunk_outputs();
        let parts = with_values(x, |xs| {
            with_values(grad, |g| {
                (0..m.div_ceil(e))
                    .into_par_iter()
                    .map(|c| {
                        let (e0, e1) = (c * e, ((c + 1) * e).min(m));
                        self.backward_chunk(
                            self.gather(xs, m, e0, e1),
                            &p,
                            &wt,
                            &w,
                            &g[e0 * k..e1 * k],
                        )
                    })
                    .collect::<candle_core::Result<Vec<_>>>()
            })
        })???;
        let mut gp = vec![0f64; p.len()];
        let mut gx = vec![0f32; rows * n_in];
        for (c, part) in parts.into_iter().enumerate() {
            for (a, v) in gp.iter_mut().zip(&part.params) {
                *a += f64::from(*v);
            }
            let (e0, e1) = (c * e, ((c + 1) * e).min(m));
            let n = (e1 - e0) * n_in;
            for g in 0..self.groups {
                gx[(g * m + e0) * n_in..(g * m + e1) * n_in]
                    .copy_from_slice(&part.x[g * n..(g + 1) * n]);
            }
        }
        let gp: Vec<f32> = gp.into_iter().map(|v| v as f32).collect();
        let n = gp.len();
        Ok((
            Some(Tensor::from_vec(gx, (rows, n_in), &Device::Cpu)?),
            Some(Tensor::from_vec(gp, n, &Device::Cpu)?),
        ))
    }
}
