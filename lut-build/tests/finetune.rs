//! Fine-tuning: the float forward equals the runtime bit for bit, the backward matches finite
//! differences, training lowers the loss, and results do not depend on the thread count.

use lut_build::corpus::Picture10;
use lut_build::finetune::{
    Crop, CropBox, FinetuneOptions, Graph, Mode, ModelTables, TrainFrame, container_writer,
    finetune,
};
use lut_filter::description::{ChannelNode, OutputDescription, SpatialNode, presets};
use lut_filter::{Component, Container, ModelDescription, Node, Pattern, Sampling, TableLayout};

const DFC: TableLayout = TableLayout::Dfc {
    dims: 4,
    dw: 2,
    si: 5,
};

/// A deterministic pseudo-random generator (tests only).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
    fn uniform(&mut self) -> f64 {
        f64::from(self.next()) / f64::from(u32::MAX >> 1)
    }
}

/// A textured 10-bit 4:2:0 picture: smooth gradients, edges and noise.
fn picture(w: usize, h: usize, seed: u64) -> Picture10 {
    let mut rng = Lcg(seed);
    let mut p = Picture10::zeroed(w, h);
    for c in 0..3 {
        let (pw, ph) = p.plane_size(c);
        let (a, b) = (rng.uniform() * 6.0, rng.uniform() * 6.0);
        let plane = p.plane_mut(c);
        for y in 0..ph {
            for x in 0..pw {
                let base = 512.0
                    + 300.0 * ((x as f64 / pw as f64 * a).sin() * (y as f64 / ph as f64 * b).cos());
                let edge = if (x + 2 * y) % 11 < 4 { 120.0 } else { 0.0 };
                let noise = f64::from(rng.next() % 61) - 30.0;
                plane[y * pw + x] = (base + edge + noise).clamp(0.0, 1023.0) as u16;
            }
        }
    }
    p
}

fn spatial(
    name: &str,
    input: &str,
    patterns: Vec<Pattern>,
    rotations: u8,
    outputs: u8,
    table: TableLayout,
) -> Node {
    Node::Spatial(SpatialNode {
        name: name.into(),
        input: input.into(),
        patterns,
        rotations,
        outputs,
        sampling: Sampling::Same,
        table,
    })
}

fn model(
    name: &str,
    component: Component,
    nodes: Vec<Node>,
    terms: &[&str],
    scale: i32,
) -> ModelDescription {
    ModelDescription {
        name: name.into(),
        component,
        qp_range: [0, 63],
        pictures: Default::default(),
        bit_depths: [8, 12],
        nodes,
        output: OutputDescription {
            terms: terms.iter().map(|t| t.to_string()).collect(),
            scale,
            scale_shift: 12,
        },
        notes: String::new(),
    }
}

/// A model with a channel node fed by two stage-1 outputs and the plane, a spatial stage after
/// it, and a raw channel output as a second term.
fn channel_model(table: TableLayout) -> ModelDescription {
    model(
        "ch",
        Component::Y,
        vec![
            spatial("s1", "in.y", vec![Pattern::S, Pattern::Y], 4, 2, DFC),
            Node::Channel(ChannelNode {
                name: "c".into(),
                inputs: ["s1.0".into(), "s1.1".into(), "in.y".into()],
                outputs: 2,
            }),
            spatial("f", "c.0", vec![Pattern::D], 2, 1, table),
        ],
        &["f.0", "c.1"],
        150,
    )
}

/// The graph's exact forward equals `lut_filter::reference` on every box sample.
fn check_exact(tables: &ModelTables, pic: &Picture10) {
    let bytes = container_writer(std::slice::from_ref(tables))
        .unwrap()
        .to_bytes()
        .unwrap();
    let container = Container::from_bytes(bytes).unwrap();
    let desc = &tables.description;
    let m = container.models().next().unwrap();
    let view = pic.view().unwrap();
    let expect = lut_filter::reference::filter_plane(&m, &view).unwrap();
    let graph = tables.graph().unwrap();
    let values = graph.values(&tables.parameters(&graph).unwrap(), Mode::Exact);
    let c = desc.component;
    let (pw, ph) = pic.plane_size(c.index());
    let whole = Crop::whole(pic, pic, c, graph.reads());
    let out = graph.run(&values, &whole, Mode::Exact, None).output;
    let got: Vec<i32> = out.iter().map(|&v| v as i32).collect();
    assert_eq!(got, expect, "{}: whole plane", desc.name);
    // Boxes at borders, corners and inside, with the graph's margin.
    for (y, x, h, w) in [
        (0, 0, 8, 8),
        (ph - 7, pw - 9, 7, 9),
        (5, 6, 6, 5),
        (0, pw / 2, 5, 6),
        (ph / 2, 0, 4, 4),
        (3, 3, ph - 6, pw - 6),
    ] {
        let bx = CropBox { y, x, h, w };
        let crop = Crop::new(pic, pic, c, bx, graph.margin(), graph.reads());
        let out = graph.run(&values, &crop, Mode::Exact, None).output;
        for (i, &v) in out.iter().enumerate() {
            let (yy, xx) = (y + i / w, x + i % w);
            assert_eq!(
                v as i32,
                expect[yy * pw + xx],
                "{}: box {bx:?} sample ({yy}, {xx})",
                desc.name
            );
        }
    }
}

#[test]
fn exact_forward_equals_the_runtime() {
    let pic = picture(46, 38, 7);
    let cases = vec![
        ModelTables::random(
            presets::cascade("c1", Component::Y, [0, 63], 1, DFC, 300, 12),
            127,
            1,
        ),
        ModelTables::random(
            presets::cascade("c3", Component::V, [0, 63], 3, DFC, 300, 12),
            127,
            2,
        ),
        ModelTables::random(
            presets::cascade(
                "r2",
                Component::Y,
                [0, 63],
                2,
                TableLayout::Regular,
                500,
                12,
            ),
            127,
            3,
        ),
        ModelTables::random(
            presets::chroma_cross_component("cc", Component::U, [0, 63], DFC, 300, 12),
            127,
            4,
        ),
        ModelTables::random(presets::luma_reference("rf", [0, 63], DFC, 200, 12), 127, 5),
        ModelTables::random(channel_model(TableLayout::Regular), 127, 6),
    ];
    for t in &cases {
        check_exact(t, &pic);
    }
}

/// Sum of squared errors of `values` on `crop` (smooth forward).
fn sse(graph: &Graph, values: &[f64], crop: &Crop) -> f64 {
    graph.run(values, crop, Mode::Smooth, None).sse
}

/// Checks the smooth-mode gradient against central differences: per entry (the largest
/// gradients of every table) and along a random direction over all entries.
fn check_gradient(tables: &ModelTables, pic: &Picture10, orig: &Picture10) {
    let graph = tables.graph().unwrap();
    let p = tables.parameters(&graph).unwrap();
    let values = graph.values(&p, Mode::Smooth);
    let crop = Crop::whole(pic, orig, tables.description.component, graph.reads());
    let mut grad = vec![0.0; graph.parameters()];
    graph.run(&values, &crop, Mode::Smooth, Some(&mut grad));
    let eps = 1e-4;
    let fd = |d: &dyn Fn(&mut Vec<f64>, f64)| {
        let (mut a, mut b) = (values.clone(), values.clone());
        d(&mut a, eps);
        d(&mut b, -eps);
        (sse(&graph, &a, &crop) - sse(&graph, &b, &crop)) / (2.0 * eps)
    };
    let mut checked = 0;
    for b in graph.blocks() {
        let mut idx: Vec<usize> = (b.offset..b.offset + b.len).collect();
        idx.sort_by(|&i, &j| grad[j].abs().total_cmp(&grad[i].abs()));
        assert!(
            grad[idx[0]] != 0.0,
            "{}: no gradient reaches {}",
            tables.description.name,
            b.name
        );
        for &i in idx.iter().take(8) {
            let num = fd(&|v: &mut Vec<f64>, e| v[i] += e);
            let tol = 1e-4 * grad[i].abs().max(1.0);
            assert!(
                (num - grad[i]).abs() <= tol,
                "{} entry {i}: analytic {} numeric {num}",
                b.name,
                grad[i]
            );
            checked += 1;
        }
    }
    let mut rng = Lcg(99);
    let dir: Vec<f64> = (0..values.len()).map(|_| rng.uniform() - 0.5).collect();
    let analytic: f64 = grad.iter().zip(&dir).map(|(g, d)| g * d).sum();
    let num = fd(&|v: &mut Vec<f64>, e| {
        for (x, d) in v.iter_mut().zip(&dir) {
            *x += e * d;
        }
    });
    assert!(
        (num - analytic).abs() <= 1e-4 * analytic.abs().max(1.0),
        "{}: directional analytic {analytic} numeric {num}",
        tables.description.name
    );
    assert!(checked > 0);
}

#[test]
fn gradients_match_finite_differences() {
    let orig = picture(20, 18, 11);
    let pic = picture(20, 18, 12);
    // Stage 1 DFC (its input, the plane, never moves); stage 2 regular (continuous in its input).
    let cascade = model(
        "cas",
        Component::Y,
        vec![
            spatial("s1", "in.y", vec![Pattern::S, Pattern::D], 4, 1, DFC),
            spatial(
                "s2",
                "s1.0",
                vec![Pattern::S, Pattern::Y],
                4,
                1,
                TableLayout::Regular,
            ),
        ],
        &["s2.0", "s1.0"],
        400,
    );
    check_gradient(&ModelTables::random(cascade, 100, 21), &pic, &orig);
    check_gradient(
        &ModelTables::random(channel_model(TableLayout::Regular), 100, 22),
        &pic,
        &orig,
    );
}

/// Synthetic pairs: the reconstruction is a blurred, offset original (a filter can undo part).
fn synthetic_pairs(n: usize) -> Vec<(Picture10, Picture10)> {
    (0..n)
        .map(|s| {
            let orig = picture(64, 48, 100 + s as u64);
            let mut rec = orig.clone();
            for c in 0..3 {
                let (w, h) = orig.plane_size(c);
                let src = orig.plane(c);
                let dst = rec.plane_mut(c);
                for y in 0..h {
                    for x in 0..w {
                        let at = |dy: i64, dx: i64| {
                            let yy = (y as i64 + dy).clamp(0, h as i64 - 1) as usize;
                            let xx = (x as i64 + dx).clamp(0, w as i64 - 1) as usize;
                            f64::from(src[yy * w + xx])
                        };
                        let blur =
                            (4.0 * at(0, 0) + at(-1, 0) + at(1, 0) + at(0, -1) + at(0, 1)) / 8.0;
                        dst[y * w + x] = (blur + 6.0).clamp(0.0, 1023.0) as u16;
                    }
                }
            }
            (rec, orig)
        })
        .collect()
}

fn frames(pairs: &[(Picture10, Picture10)]) -> Vec<TrainFrame<'_>> {
    pairs
        .iter()
        .map(|(r, o)| TrainFrame {
            recon: r,
            original: o,
        })
        .collect()
}

#[test]
fn training_lowers_the_loss() {
    let pairs = synthetic_pairs(3);
    let frames = frames(&pairs);
    let opts = FinetuneOptions {
        iterations: 40,
        batch: 8,
        crop: 16,
        learning_rate: 0.02,
        eval_crops: 32,
        ..FinetuneOptions::default()
    };
    for (desc, amplitude) in [
        (
            presets::cascade("y1", Component::Y, [0, 63], 1, DFC, 64, 12),
            0,
        ),
        (
            presets::cascade("u2", Component::U, [0, 63], 2, TableLayout::Regular, 64, 12),
            3,
        ),
    ] {
        let tables = ModelTables::random(desc, amplitude, 5);
        let graph = tables.graph().unwrap();
        let mut p = tables.parameters(&graph).unwrap();
        let r = finetune(&graph, &mut p, &frames, &opts, &|_, _| {}).unwrap();
        assert_eq!(r.losses.len(), 40);
        assert!(
            r.eval_after < 0.8 * r.eval_before,
            "{}: eval MSE {} -> {}",
            tables.description.name,
            r.eval_before,
            r.eval_after
        );
        let first: f64 = r.losses[..5].iter().sum();
        let last: f64 = r.losses[35..].iter().sum();
        assert!(
            last < first,
            "{}: batch losses {first} -> {last}",
            tables.description.name
        );
        // The written tables reproduce the trained model's loss.
        let mut trained = tables.clone();
        trained.set_parameters(&graph, &p);
        let again = trained.parameters(&graph).unwrap();
        let eval = |q: &[f64]| {
            let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(3);
            let s = lut_build::finetune::train::sample_boxes(
                &mut rng,
                &frames,
                graph.description().component.index(),
                16,
                16,
            );
            lut_build::finetune::train::evaluate(&graph, q, &frames, &s)
        };
        assert_eq!(eval(&p), eval(&again));
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let pairs = synthetic_pairs(2);
    let frames = frames(&pairs);
    let opts = FinetuneOptions {
        iterations: 6,
        batch: 12,
        crop: 12,
        learning_rate: 0.01,
        chunk: 3,
        eval_crops: 8,
        ..FinetuneOptions::default()
    };
    let tables = ModelTables::random(channel_model(DFC), 30, 8);
    let graph = tables.graph().unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut p = tables.parameters(&graph).unwrap();
            let r = finetune(&graph, &mut p, &frames, &opts, &|_, _| {}).unwrap();
            (p, r.losses, r.eval_after)
        })
    };
    let one = run(1);
    let two = run(2);
    assert_eq!(one.0, two.0, "parameters differ");
    assert_eq!(one.1, two.1, "losses differ");
    assert_eq!(one.2, two.2);
    assert!(
        one.0 != tables.parameters(&graph).unwrap(),
        "training changed nothing"
    );
}
