//! The three curve models behind the Bjøntegaard integrals.
//!
//! * [`PiecewiseCubic::pchip`]: piecewise cubic Hermite interpolation with the Fritsch-Carlson
//!   (weighted harmonic mean) interior slopes and the three-point end slopes of SciPy's
//!   `PchipInterpolator` (identical to `pchipend` in the JVET common-test-conditions spreadsheet).
//! * [`PiecewiseCubic::akima`]: SciPy's `Akima1DInterpolator` with `method="akima"` (the original
//!   1970 weights, with the two extrapolated secant slopes at each end).
//! * [`Polynomial::fit_cubic`]: the least-squares third-order polynomial of VCEG-M33 (NumPy's
//!   `polyfit(x, y, 3)`).
//!
//! Everything here is plain `f64` arithmetic on already validated, strictly increasing abscissae.

/// A piecewise cubic on strictly increasing breakpoints.
///
/// On `[x[i], x[i+1]]` the value is `c0 + c1 s + c2 s^2 + c3 s^3` with `s = t - x[i]`; outside
/// the breakpoints the end pieces are extended (as SciPy's `extrapolate=True`).
#[derive(Debug, Clone, PartialEq)]
pub struct PiecewiseCubic {
    x: Vec<f64>,
    coef: Vec<[f64; 4]>,
}

impl PiecewiseCubic {
    /// The cubic Hermite spline through `(x[i], y[i])` with derivatives `d[i]`.
    ///
    /// `x` must be strictly increasing and all three slices of the same length (>= 2).
    fn hermite(x: &[f64], y: &[f64], d: &[f64]) -> Self {
        let coef = (0..x.len() - 1)
            .map(|i| {
                let h = x[i + 1] - x[i];
                let delta = (y[i + 1] - y[i]) / h;
                [
                    y[i],
                    d[i],
                    (3.0 * delta - 2.0 * d[i] - d[i + 1]) / h,
                    (d[i] + d[i + 1] - 2.0 * delta) / (h * h),
                ]
            })
            .collect();
        Self {
            x: x.to_vec(),
            coef,
        }
    }

    /// Monotone piecewise cubic Hermite interpolation (SciPy `PchipInterpolator`).
    ///
    /// `x` strictly increasing, `x.len() == y.len() >= 2`.
    pub fn pchip(x: &[f64], y: &[f64]) -> Self {
        let n = x.len();
        let h: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
        let m: Vec<f64> = (0..n - 1).map(|i| (y[i + 1] - y[i]) / h[i]).collect();
        let mut d = vec![0.0; n];
        if n == 2 {
            d[0] = m[0];
            d[1] = m[0];
            return Self::hermite(x, y, &d);
        }
        for k in 1..n - 1 {
            let (m0, m1) = (m[k - 1], m[k]);
            if sign(m0) != sign(m1) || m0 == 0.0 || m1 == 0.0 {
                d[k] = 0.0;
            } else {
                let w1 = 2.0 * h[k] + h[k - 1];
                let w2 = h[k] + 2.0 * h[k - 1];
                d[k] = (w1 + w2) / (w1 / m0 + w2 / m1);
            }
        }
        d[0] = pchip_end(h[0], h[1], m[0], m[1]);
        d[n - 1] = pchip_end(h[n - 2], h[n - 3], m[n - 2], m[n - 3]);
        Self::hermite(x, y, &d)
    }

    /// Akima interpolation (SciPy `Akima1DInterpolator`, `method="akima"`).
    ///
    /// `x` strictly increasing, `x.len() == y.len() >= 2`.
    pub fn akima(x: &[f64], y: &[f64]) -> Self {
        let n = x.len();
        // Secant slopes, padded with two linearly extrapolated slopes at each end.
        let mut m = Vec::with_capacity(n + 3);
        let inner: Vec<f64> = (0..n - 1)
            .map(|i| (y[i + 1] - y[i]) / (x[i + 1] - x[i]))
            .collect();
        let (first, second) = (inner[0], *inner.get(1).unwrap_or(&inner[0]));
        let (last, before) = (
            inner[n - 2],
            *inner.get(n.wrapping_sub(3)).unwrap_or(&inner[0]),
        );
        let mm = 2.0 * first - second;
        let mmm = 2.0 * mm - first;
        let mp = 2.0 * last - before;
        let mpp = 2.0 * mp - last;
        m.push(mmm);
        m.push(mm);
        m.extend_from_slice(&inner);
        m.push(mp);
        m.push(mpp);
        let dm: Vec<f64> = m.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
        let f12: Vec<f64> = (0..n).map(|i| dm[i + 2] + dm[i]).collect();
        let f12_max = f12.iter().copied().fold(0.0_f64, f64::max);
        let d: Vec<f64> = (0..n)
            .map(|i| {
                let (f1, f2) = (dm[i + 2], dm[i]);
                if f12[i] > 1e-9 * f12_max {
                    (f1 * m[i + 1] + f2 * m[i + 2]) / f12[i]
                } else {
                    0.5 * (m[i + 3] + m[i])
                }
            })
            .collect();
        Self::hermite(x, y, &d)
    }

    /// The value at `t` (end pieces extended outside the breakpoints).
    #[cfg(test)]
    pub fn eval(&self, t: f64) -> f64 {
        let i = self.piece(t);
        let s = t - self.x[i];
        let c = &self.coef[i];
        c[0] + s * (c[1] + s * (c[2] + s * c[3]))
    }

    /// The exact integral over `[a, b]` (`a <= b`), piece by piece.
    pub fn integrate(&self, a: f64, b: f64) -> f64 {
        let last = self.coef.len() - 1;
        let mut total = 0.0;
        for (i, c) in self.coef.iter().enumerate() {
            let lo = if i == 0 { a } else { a.max(self.x[i]) };
            let hi = if i == last { b } else { b.min(self.x[i + 1]) };
            if hi > lo {
                let (s0, s1) = (lo - self.x[i], hi - self.x[i]);
                total += antiderivative(c, s1) - antiderivative(c, s0);
            }
        }
        total
    }

    /// Index of the piece used for `t`.
    #[cfg(test)]
    fn piece(&self, t: f64) -> usize {
        let last = self.coef.len() - 1;
        (1..=last).rev().find(|&i| t >= self.x[i]).unwrap_or(0)
    }
}

/// SciPy's `_edge_case`: the one-sided three-point end slope, kept shape-preserving.
fn pchip_end(h0: f64, h1: f64, m0: f64, m1: f64) -> f64 {
    let d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
    if sign(d) != sign(m0) {
        0.0
    } else if sign(m0) != sign(m1) && d.abs() > 3.0 * m0.abs() {
        3.0 * m0
    } else {
        d
    }
}

/// NumPy's `sign`: -1, 0 or 1.
fn sign(v: f64) -> i8 {
    if v > 0.0 {
        1
    } else if v < 0.0 {
        -1
    } else {
        0
    }
}

/// `∫_0^s (c0 + c1 u + c2 u^2 + c3 u^3) du`.
fn antiderivative(c: &[f64; 4], s: f64) -> f64 {
    s * (c[0] + s * (c[1] / 2.0 + s * (c[2] / 3.0 + s * c[3] / 4.0)))
}

/// A cubic `Σ a_k u^k` in the normalised variable `u = (t - center) / scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct Polynomial {
    center: f64,
    scale: f64,
    a: [f64; 4],
}

impl Polynomial {
    /// The least-squares cubic through `(x[i], y[i])` (exact interpolation for four points).
    ///
    /// Solved by Householder QR on the centred and scaled Vandermonde matrix; `None` when the
    /// system is rank deficient (fewer than four distinct abscissae).
    pub fn fit_cubic(x: &[f64], y: &[f64]) -> Option<Self> {
        let n = x.len();
        if n < 4 || y.len() != n {
            return None;
        }
        let (lo, hi) = x
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
        let center = 0.5 * (lo + hi);
        let scale = 0.5 * (hi - lo);
        if scale.is_nan() || scale <= 0.0 || !scale.is_finite() {
            return None;
        }
        // Columns 1, u, u^2, u^3 (column-major), right-hand side y.
        let mut cols: Vec<Vec<f64>> = (0..4)
            .map(|k| x.iter().map(|&t| ((t - center) / scale).powi(k)).collect())
            .collect();
        let mut rhs = y.to_vec();
        for k in 0..4 {
            let norm = cols[k][k..].iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm.is_nan() || norm <= 1e-12 {
                return None;
            }
            let alpha = if cols[k][k] > 0.0 { -norm } else { norm };
            let mut v = cols[k][k..].to_vec();
            v[0] -= alpha;
            let vv: f64 = v.iter().map(|e| e * e).sum();
            if vv.is_nan() || vv <= 0.0 {
                return None;
            }
            let reflect = |col: &mut [f64]| {
                let dot: f64 = v.iter().zip(col[k..].iter()).map(|(a, b)| a * b).sum();
                let f = 2.0 * dot / vv;
                for (c, vi) in col[k..].iter_mut().zip(&v) {
                    *c -= f * vi;
                }
            };
            for col in cols.iter_mut().skip(k) {
                reflect(col);
            }
            reflect(&mut rhs);
        }
        // Back substitution on the upper-triangular R.
        let mut a = [0.0; 4];
        for k in (0..4).rev() {
            let s: f64 = (k + 1..4).map(|j| cols[j][k] * a[j]).sum();
            let r = cols[k][k];
            if r.is_nan() || r.abs() <= 1e-12 {
                return None;
            }
            a[k] = (rhs[k] - s) / r;
        }
        a.iter()
            .all(|v| v.is_finite())
            .then_some(Self { center, scale, a })
    }

    /// The value at `t`.
    #[cfg(test)]
    pub fn eval(&self, t: f64) -> f64 {
        let u = (t - self.center) / self.scale;
        self.a[0] + u * (self.a[1] + u * (self.a[2] + u * self.a[3]))
    }

    /// The exact integral over `[a, b]`.
    pub fn integrate(&self, a: f64, b: f64) -> f64 {
        let prim = |t: f64| {
            let u = (t - self.center) / self.scale;
            antiderivative(&self.a, u) * self.scale
        };
        prim(b) - prim(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pchip_reproduces_linear_data() {
        let x = [0.0, 1.0, 3.0, 4.5];
        let y: Vec<f64> = x.iter().map(|v| 2.0 * v + 1.0).collect();
        let p = PiecewiseCubic::pchip(&x, &y);
        for t in [0.0, 0.3, 2.2, 4.5] {
            assert!((p.eval(t) - (2.0 * t + 1.0)).abs() < 1e-12);
        }
        assert!((p.integrate(0.0, 4.5) - (4.5 * 4.5 + 4.5)).abs() < 1e-12);
    }

    #[test]
    fn akima_reproduces_linear_data() {
        let x = [0.0, 1.0, 3.0, 4.5, 5.0];
        let y: Vec<f64> = x.iter().map(|v| -v + 3.0).collect();
        let p = PiecewiseCubic::akima(&x, &y);
        for t in [0.0, 0.7, 3.3, 5.0] {
            assert!((p.eval(t) - (3.0 - t)).abs() < 1e-12);
        }
    }

    #[test]
    fn cubic_fit_is_exact_for_cubics() {
        let f = |t: f64| 0.5 * t * t * t - 2.0 * t * t + t - 7.0;
        let x = [30.0, 32.5, 35.0, 36.0, 41.0, 44.0];
        let y: Vec<f64> = x.iter().map(|&t| f(t)).collect();
        let p = Polynomial::fit_cubic(&x, &y).expect("full rank");
        assert!((p.eval(33.3) - f(33.3)).abs() < 1e-8);
        let exact = |t: f64| 0.125 * t.powi(4) - 2.0 / 3.0 * t.powi(3) + 0.5 * t * t - 7.0 * t;
        assert!((p.integrate(31.0, 40.0) - (exact(40.0) - exact(31.0))).abs() < 1e-6);
        assert!(Polynomial::fit_cubic(&[1.0, 1.0, 2.0, 2.0], &[0.0; 4]).is_none());
    }
}
