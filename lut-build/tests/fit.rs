//! Least-squares fit (`lut_build::fit`): what the fit believes it explains is what the runtime
//! computes from the written container, for plain and cross-component chroma models.

use lut_build::fit::{CrossPlanes, CrossSource, FitOptions, PlanePair, Weighting, fit_cascade};
use lut_filter::{
    ChromaFormat, Component, Container, ContainerWriter, Picture, Plane, PlaneMut, TableLayout,
};

/// Deterministic pseudo-random generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Synthetic {
    luma: Vec<u16>,
    u: Vec<u16>,
    v: Vec<u16>,
    u_orig: Vec<u16>,
    w: usize,
    h: usize,
}

/// A 4:2:0 10-bit picture whose U residual is a function of the co-located luma detail (which
/// U itself cannot see) plus a little of V.
fn synthetic(seed: u64, w: usize, h: usize) -> Synthetic {
    let mut rng = Rng(seed);
    // Smooth-ish luma: random walk along rows plus noise.
    let mut luma = vec![0u16; w * h];
    for y in 0..h {
        let mut v = 300 + rng.below(400) as i64;
        for x in 0..w {
            v = (v + rng.below(81) as i64 - 40).clamp(64, 960);
            luma[y * w + x] = v as u16;
        }
    }
    let (cw, ch) = (w / 2, h / 2);
    let u: Vec<u16> = (0..cw * ch).map(|_| 400 + rng.below(200) as u16).collect();
    let v: Vec<u16> = (0..cw * ch).map(|_| 400 + rng.below(200) as u16).collect();
    let u_orig = (0..cw * ch)
        .map(|i| {
            let (y, x) = (i / cw, i % cw);
            let l = |dy: usize, dx: usize| i64::from(luma[(2 * y + dy) * w + 2 * x + dx]);
            let detail = (l(0, 1) + l(1, 1) - l(0, 0) - l(1, 0)) / 4;
            let r = detail / 2 + (i64::from(v[i]) - 500) / 8;
            (i64::from(u[i]) + r).clamp(0, 1023) as u16
        })
        .collect();
    Synthetic {
        luma,
        u,
        v,
        u_orig,
        w,
        h,
    }
}

/// MSE of the container's U output against the original, run by the runtime.
fn runtime_mse(container: &Container, s: &Synthetic) -> f64 {
    let (cw, ch) = (s.w / 2, s.h / 2);
    let pic = Picture::new(
        Plane::new(&s.luma, s.w, s.w, s.h).unwrap(),
        Some(Plane::new(&s.u, cw, cw, ch).unwrap()),
        Some(Plane::new(&s.v, cw, cw, ch).unwrap()),
        ChromaFormat::Yuv420,
        10,
    )
    .unwrap();
    let model = container.select(Component::U, 30).expect("a U model");
    let mut out = s.u.clone();
    model
        .filter_plane(&pic, &mut PlaneMut::new(&mut out, cw, cw, ch).unwrap())
        .unwrap();
    let se: f64 = out
        .iter()
        .zip(&s.u_orig)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum();
    se / out.len() as f64
}

/// The U training pair of `s`, with its luma and V planes as cross-component inputs.
fn u_pair(s: &Synthetic) -> PlanePair<'_> {
    PlanePair {
        recon: &s.u,
        orig: &s.u_orig,
        width: s.w / 2,
        height: s.h / 2,
        cross: CrossPlanes {
            luma: Some((&s.luma, s.w, s.h)),
            other_chroma: Some(&s.v),
        },
    }
}

/// Fits a U model on `s` and writes it: the container, and the training MSE before the fit and
/// after its last part.
fn fit_u(s: &Synthetic, cross: Vec<CrossSource>, colour_gain: bool) -> (Container, f64, f64) {
    let pair = u_pair(s);
    let opts = FitOptions {
        layout: TableLayout::Dfc {
            dims: 4,
            dw: 3,
            si: 5,
        },
        lambda: 1.0,
        level_lambda: 50.0,
        iterations: 30,
        step: 1,
        cross,
        colour_gain,
        ..FitOptions::default()
    };
    let fitted = fit_cascade("u", Component::U, [0, 63], &[pair], &opts, &|_, _| {});
    let before = fitted.train_mse[0].0;
    let after = fitted.train_mse.last().unwrap().1;
    (written(fitted), before, after)
}

/// The fitted model as a container the runtime reads.
fn written(fitted: lut_build::fit::FittedModel) -> Container {
    let mut writer = ContainerWriter::new();
    writer
        .add_model(fitted.description, |req| fitted.tables[&req.name].clone())
        .unwrap();
    Container::from_bytes(writer.to_bytes().unwrap()).unwrap()
}

#[test]
fn cross_component_fit_is_what_the_runtime_computes() {
    let s = synthetic(7, 48, 32);
    let (own, before, own_after) = fit_u(&s, Vec::new(), false);
    let (cross, before2, cross_after) =
        fit_u(&s, vec![CrossSource::Luma, CrossSource::OtherChroma], false);
    assert_eq!(before, before2);
    let own_rt = runtime_mse(&own, &s);
    let cross_rt = runtime_mse(&cross, &s);
    eprintln!(
        "unfiltered {before:.2}; own plane: fit {own_after:.2} runtime {own_rt:.2}; \
         cross: fit {cross_after:.2} runtime {cross_rt:.2}"
    );
    // The residual depends on luma and V, which U alone cannot predict (on this small picture
    // the own-plane tables partly memorise it); the joint fit explains nearly all of it.
    assert!(cross_after < 0.02 * before, "{cross_after} vs {before}");
    assert!(
        cross_after < 0.1 * own_after,
        "{cross_after} vs {own_after}"
    );
    // The runtime reproduces what the fit explained: the only differences are its integer
    // rounding of the residual (at most 1/4 code^2 on average) and clipping.
    for (fit, rt) in [(own_after, own_rt), (cross_after, cross_rt)] {
        assert!(
            (rt - fit).abs() < 0.35 + 0.02 * fit,
            "fit {fit} runtime {rt}"
        );
    }
    // The description names the cross-component nodes as the runtime reads them.
    let d = &cross.description().models[0];
    let inputs: Vec<(&str, &str)> = d
        .nodes
        .iter()
        .map(|n| match n {
            lut_filter::Node::Spatial(s) => (s.name.as_str(), s.input.as_str()),
            lut_filter::Node::Channel(c) => (c.name.as_str(), ""),
        })
        .collect();
    assert_eq!(inputs, [("s1", "in.u"), ("l1", "in.y"), ("o1", "in.v")]);
    assert_eq!(d.output.terms, ["s1.0", "l1.0", "o1.0"]);
}

#[test]
fn luma_models_ignore_cross_sources() {
    let s = synthetic(3, 32, 32);
    let pair = PlanePair {
        recon: &s.luma,
        orig: &s.luma,
        width: s.w,
        height: s.h,
        cross: CrossPlanes::default(),
    };
    let opts = FitOptions {
        iterations: 2,
        step: 2,
        cross: vec![CrossSource::Luma],
        ..FitOptions::default()
    };
    let fitted = fit_cascade("y", Component::Y, [0, 63], &[pair], &opts, &|_, _| {});
    assert_eq!(fitted.description.nodes.len(), 1);
    assert_eq!(fitted.description.output.terms, ["s1.0"]);
}

/// A luma picture whose residual is `gain` times the sign of the horizontal gradient.
fn edge_pair(seed: u64, w: usize, h: usize, gain: i64) -> (Vec<u16>, Vec<u16>) {
    let mut rng = Rng(seed);
    let recon: Vec<u16> = (0..w * h).map(|_| 200 + rng.below(600) as u16).collect();
    let orig = (0..w * h)
        .map(|i| {
            let x = i % w;
            let right = if x + 1 < w { recon[i + 1] } else { recon[i] };
            let g = (i64::from(right) - i64::from(recon[i])).signum();
            (i64::from(recon[i]) + gain * g).clamp(0, 1023) as u16
        })
        .collect();
    (recon, orig)
}

/// MSE of the container's luma output against `orig`, run by the runtime.
fn luma_mse(container: &Container, recon: &[u16], orig: &[u16], w: usize, h: usize) -> f64 {
    let pic = Picture::new(
        Plane::new(recon, w, w, h).unwrap(),
        None,
        None,
        ChromaFormat::Yuv400,
        10,
    )
    .unwrap();
    let model = container.select(Component::Y, 30).expect("a luma model");
    let mut out = recon.to_vec();
    model
        .filter_plane(&pic, &mut PlaneMut::new(&mut out, w, w, h).unwrap())
        .unwrap();
    let se: f64 = out
        .iter()
        .zip(orig)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum();
    se / out.len() as f64
}

#[test]
fn picture_weighting_counts_every_pictures_relative_error() {
    // Two pictures want opposite corrections of the same edges: a large one (residual +-12)
    // and a small one (residual -+3, a sixteenth of the first's squared error per sample).
    let (w, h) = (32, 32);
    let big = edge_pair(5, w, h, 12);
    let small = edge_pair(9, w, h, -3);
    let pairs = [&big, &small].map(|(recon, orig)| PlanePair {
        recon,
        orig,
        width: w,
        height: h,
        cross: CrossPlanes::default(),
    });
    let fit = |weighting| {
        let opts = FitOptions {
            lambda: 1.0,
            level_lambda: 50.0,
            iterations: 30,
            step: 1,
            weighting,
            ..FitOptions::default()
        };
        let c = written(fit_cascade(
            "y",
            Component::Y,
            [0, 63],
            &pairs,
            &opts,
            &|_, _| {},
        ));
        let ratio = |(recon, orig): &(Vec<u16>, Vec<u16>), unfiltered: f64| {
            luma_mse(&c, recon, orig, w, h) / unfiltered
        };
        (ratio(&big, 144.0), ratio(&small, 9.0))
    };
    let (big_plain, small_plain) = fit(Weighting::Samples);
    let (big_pic, small_pic) = fit(Weighting::Picture);
    eprintln!(
        "MSE after / before: samples: big {big_plain:.3} small {small_plain:.3}; \
         picture: big {big_pic:.3} small {small_pic:.3}"
    );
    // Plain least squares follows the big picture and makes the small one worse; weighting
    // by picture moves the fit towards the small one, at the big one's expense.
    assert!(small_plain > 1.0, "{small_plain}");
    assert!(
        small_pic < small_plain - 0.5,
        "{small_pic} vs {small_plain}"
    );
    assert!(big_pic > big_plain, "{big_pic} vs {big_plain}");
}

/// Like [`synthetic`], but the U residual is the luma detail times a gain that depends on U:
/// 1.0 in blue-ish samples (U > 512), 0.25 elsewhere.
fn synthetic_colour(seed: u64, w: usize, h: usize) -> Synthetic {
    let mut s = synthetic(seed, w, h);
    let cw = w / 2;
    s.u_orig = (0..s.u.len())
        .map(|i| {
            let (y, x) = (i / cw, i % cw);
            let l = |dy: usize, dx: usize| i64::from(s.luma[(2 * y + dy) * w + 2 * x + dx]);
            let detail = (l(0, 1) + l(1, 1) - l(0, 0) - l(1, 0)) / 2;
            let r = if s.u[i] > 512 { detail } else { detail / 4 };
            (i64::from(s.u[i]) + r).clamp(0, 1023) as u16
        })
        .collect();
    s
}

#[test]
fn colour_gain_scales_the_luma_correction_by_colour() {
    let s = synthetic_colour(11, 64, 64);
    let fit = |colour_gain| {
        let cross = vec![CrossSource::Luma, CrossSource::OtherChroma];
        let (c, _, fit_after) = fit_u(&s, cross, colour_gain);
        (runtime_mse(&c, &s), fit_after, c)
    };
    let (plain_rt, plain_fit, _) = fit(false);
    let (gain_rt, gain_fit, c) = fit(true);
    eprintln!(
        "cross-component: fit {plain_fit:.2} runtime {plain_rt:.2}; with colour gain: fit \
         {gain_fit:.2} runtime {gain_rt:.2}"
    );
    // The runtime computes what the fit explained (integer rounding of the residual aside).
    assert!(
        (gain_rt - gain_fit).abs() < 0.35 + 0.02 * gain_fit,
        "{gain_fit} {gain_rt}"
    );
    // The colour-dependent gain explains much of what the sum of look-ups could not.
    assert!(gain_rt < 0.9 * plain_rt, "{gain_rt} vs {plain_rt}");
    let d = &c.description().models[0];
    let last = d.nodes.last().unwrap();
    match last {
        lut_filter::Node::Channel(n) => {
            assert_eq!(n.name, "c1");
            assert_eq!(n.inputs, ["l1.0", "in.u", "in.v"]);
        }
        other => panic!("expected the channel node, got {other:?}"),
    }
    assert!(d.output.terms.iter().any(|t| t == "c1.0"));
}

/// The container's output for component `c` of the 4:2:0 picture (`luma`, `u`, `v`).
fn filtered(container: &Container, c: Component, s: &Synthetic, u: &[u16], v: &[u16]) -> Vec<u16> {
    let (cw, ch) = (s.w / 2, s.h / 2);
    let pic = Picture::new(
        Plane::new(&s.luma, s.w, s.w, s.h).unwrap(),
        Some(Plane::new(u, cw, cw, ch).unwrap()),
        Some(Plane::new(v, cw, cw, ch).unwrap()),
        ChromaFormat::Yuv420,
        10,
    )
    .unwrap();
    let model = container.select(c, 30).expect("a model for the component");
    let mut out = if c == Component::U {
        u.to_vec()
    } else {
        v.to_vec()
    };
    model
        .filter_plane(&pic, &mut PlaneMut::new(&mut out, cw, cw, ch).unwrap())
        .unwrap();
    out
}

#[test]
fn mirrored_chroma_filters_v_as_the_u_model_filters_u() {
    // A U model with every kind of node (own plane, luma, other chroma, colour-gain channel).
    let s = synthetic_colour(13, 48, 32);
    let pair = u_pair(&s);
    let opts = FitOptions {
        lambda: 1.0,
        level_lambda: 50.0,
        iterations: 10,
        step: 1,
        cross: vec![CrossSource::Luma, CrossSource::OtherChroma],
        colour_gain: true,
        ..FitOptions::default()
    };
    let u_model = fit_cascade("u-m", Component::U, [0, 63], &[pair], &opts, &|_, _| {});
    let v_model = u_model.mirrored_chroma("v-m").expect("a chroma model");
    assert!(v_model.mirrored_chroma("u-m").is_some());
    let inputs = |m: &lut_build::fit::FittedModel| -> Vec<String> {
        m.description
            .nodes
            .iter()
            .flat_map(|n| match n {
                lut_filter::Node::Spatial(s) => vec![s.input.clone()],
                lut_filter::Node::Channel(c) => c.inputs.to_vec(),
            })
            .collect()
    };
    assert_eq!(
        inputs(&u_model),
        ["in.u", "in.y", "in.v", "l1.0", "in.u", "in.v"]
    );
    assert_eq!(
        inputs(&v_model),
        ["in.v", "in.y", "in.u", "l1.0", "in.v", "in.u"]
    );
    assert_eq!(v_model.description.component, Component::V);
    let mut writer = ContainerWriter::new();
    for m in [u_model, v_model] {
        writer
            .add_model(m.description, |req| m.tables[&req.name].clone())
            .unwrap();
    }
    let both = Container::from_bytes(writer.to_bytes().unwrap()).unwrap();
    // V of the picture with its chroma planes swapped is U of the original, sample for sample.
    let u_out = filtered(&both, Component::U, &s, &s.u, &s.v);
    assert_ne!(u_out, s.u, "the U model changes the picture");
    assert_eq!(filtered(&both, Component::V, &s, &s.v, &s.u), u_out);
}
