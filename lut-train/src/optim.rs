//! Adam with its moments in plain vectors (so that a checkpoint holds them exactly), and the
//! learning-rate schedules.

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// Adam (Kingma & Ba) with bias correction.
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator epsilon.
    pub eps: f64,
    /// Updates done.
    pub step: u64,
    /// First moments, one vector per variable.
    pub m: Vec<Vec<f32>>,
    /// Second moments.
    pub v: Vec<Vec<f32>>,
}

impl Adam {
    /// Zero moments for `vars` (betas 0.9 / 0.999, eps 1e-8).
    pub fn new(vars: &[(String, Var)]) -> Self {
        let zeros = || {
            vars.iter()
                .map(|(_, v)| vec![0f32; v.elem_count()])
                .collect()
        };
        Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            step: 0,
            m: zeros(),
            v: zeros(),
        }
    }

    /// One update of every variable with its gradient in `grads` (variables without one are
    /// left alone) at learning rate `lr`. Returns the global gradient norm.
    pub fn update(
        &mut self,
        vars: &[(String, Var)],
        grads: &GradStore,
        lr: f64,
    ) -> Result<f64, TrainError> {
        self.step += 1;
        let t = self.step as i32;
        let c1 = 1.0 - self.beta1.powi(t);
        let c2 = 1.0 - self.beta2.powi(t);
        let mut norm2 = 0f64;
        for (i, (_, var)) in vars.iter().enumerate() {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let g: Vec<f32> = g.flatten_all()?.to_vec1()?;
            let mut p: Vec<f32> = var.as_tensor().flatten_all()?.to_vec1()?;
            let (m, v) = (&mut self.m[i], &mut self.v[i]);
            for j in 0..p.len() {
                let gj = f64::from(g[j]);
                norm2 += gj * gj;
                let mj = self.beta1 * f64::from(m[j]) + (1.0 - self.beta1) * gj;
                let vj = self.beta2 * f64::from(v[j]) + (1.0 - self.beta2) * gj * gj;
                m[j] = mj as f32;
                v[j] = vj as f32;
                let upd = lr * (mj / c1) / ((vj / c2).sqrt() + self.eps);
                p[j] = (f64::from(p[j]) - upd) as f32;
            }
            let shape = var.as_tensor().shape().clone();
            var.set(&Tensor::from_vec(p, shape, var.device())?)?;
        }
        Ok(norm2.sqrt())
    }
}

/// Learning-rate schedule over the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Cosine decay from the base rate to `min_ratio` times it.
    Cosine,
    /// x0.3 at 50 %, 75 % and 90 % of the run.
    Step,
    /// The base rate throughout.
    Constant,
}

impl std::str::FromStr for Schedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cosine" => Ok(Schedule::Cosine),
            "step" => Ok(Schedule::Step),
            "constant" => Ok(Schedule::Constant),
            o => Err(format!("unknown schedule '{o}' (cosine, step, constant)")),
        }
    }
}

impl Schedule {
    /// Learning rate of update `step` (0-based) of `total`, after a linear warm-up of `warmup`
    /// updates.
    pub fn lr(self, step: u64, total: u64, base: f64, warmup: u64, min_ratio: f64) -> f64 {
        if step < warmup {
            return base * (step + 1) as f64 / warmup as f64;
        }
        let span = total.saturating_sub(warmup).max(1) as f64;
        let frac = ((step - warmup) as f64 / span).min(1.0);
        match self {
            Schedule::Cosine => {
                let min = base * min_ratio;
                min + (base - min) * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos())
            }
            Schedule::Step => {
                let passed = [0.5, 0.75, 0.9].iter().filter(|&&m| frac >= m).count();
                base * 0.3f64.powi(passed as i32)
            }
            Schedule::Constant => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn schedules_start_warm_and_decay() {
        let s = Schedule::Cosine;
        assert!((s.lr(0, 1000, 1e-3, 10, 0.01) - 1e-4).abs() < 1e-12);
        assert!((s.lr(10, 1000, 1e-3, 10, 0.01) - 1e-3).abs() < 1e-12);
        assert!((s.lr(1000, 1000, 1e-3, 10, 0.01) - 1e-5).abs() < 1e-12);
        assert!(Schedule::Step.lr(999, 1000, 1.0, 0, 0.0) < 0.03);
        assert_eq!(Schedule::Constant.lr(500, 1000, 0.5, 0, 0.0), 0.5);
    }

    #[test]
    fn adam_minimises_a_quadratic() {
        let x = Var::from_vec(vec![3f32, -2.0], 2, &Device::Cpu).unwrap();
        let vars = vec![("x".to_string(), x.clone())];
        let mut adam = Adam::new(&vars);
        for _ in 0..300 {
            let loss = x.as_tensor().sqr().unwrap().sum_all().unwrap();
            let g = loss.backward().unwrap();
            adam.update(&vars, &g, 0.05).unwrap();
        }
        let v: Vec<f32> = x.as_tensor().to_vec1().unwrap();
        assert!(v.iter().all(|a| a.abs() < 0.05), "{v:?}");
        assert_eq!(adam.step, 300);
    }
}
