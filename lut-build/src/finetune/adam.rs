//! Adam (Kingma & Ba, 2015) with bias correction, over a dense parameter vector.

/// Adam's state and hyper-parameters.
#[derive(Clone, Debug)]
pub struct Adam {
    /// Step size.
    pub learning_rate: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Denominator guard.
    pub epsilon: f64,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    /// A fresh optimiser for `n` parameters with the usual betas (0.9, 0.999) and epsilon 1e-8.
    pub fn new(n: usize, learning_rate: f64) -> Adam {
        Adam {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> i32 {
        self.t
    }

    /// One step: `params -= lr * m_hat / (sqrt(v_hat) + eps)`.
    pub fn step(&mut self, params: &mut [f64], grad: &[f64]) {
        assert_eq!(params.len(), self.m.len(), "parameter count");
        assert_eq!(grad.len(), self.m.len(), "gradient length");
        self.t += 1;
        let c1 = 1.0 - self.beta1.powi(self.t);
        let c2 = 1.0 - self.beta2.powi(self.t);
        for i in 0..params.len() {
            let g = grad[i];
            self.m[i] = self.beta1 * self.m[i] + (1.0 - self.beta1) * g;
            self.v[i] = self.beta2 * self.v[i] + (1.0 - self.beta2) * g * g;
            let m_hat = self.m[i] / c1;
            let v_hat = self.v[i] / c2;
            params[i] -= self.learning_rate * m_hat / (v_hat.sqrt() + self.epsilon);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_by_the_learning_rate_against_the_gradient() {
        let mut a = Adam::new(3, 0.1);
        let mut p = vec![1.0, -2.0, 0.5];
        a.step(&mut p, &[4.0, -0.01, 0.0]);
        assert!((p[0] - 0.9).abs() < 1e-6);
        assert!((p[1] + 1.9).abs() < 1e-4);
        assert_eq!(p[2], 0.5);
        assert_eq!(a.steps(), 1);
    }

    #[test]
    fn minimises_a_quadratic() {
        let mut a = Adam::new(2, 0.05);
        let mut p = vec![3.0, -1.0];
        for _ in 0..2000 {
            let g = [2.0 * (p[0] - 1.0), 20.0 * (p[1] + 0.5)];
            a.step(&mut p, &g);
        }
        assert!(
            (p[0] - 1.0).abs() < 1e-2 && (p[1] + 0.5).abs() < 1e-2,
            "{p:?}"
        );
    }
}
