//! Network -> LUT transfer and direct network evaluation.
//!
//! * traversal exactness: every grid node of every table is `Transfer::quantise` of the
//!   network's output at that node (tables read back from the written container);
//! * forward vs LUT: for a network whose units are affine with integer table values (which
//!   simplex and trilinear interpolation reproduce exactly), the LUT runtime and the direct
//!   network evaluation agree on a random 10-bit picture; on a general random network they are
//!   close.

use lut_build::net::forward::forward_plane;
use lut_build::net::traverse::{TransferOptions, grid_input, transfer};
use lut_build::net::{
    Activation, Layer, NetFile, Transfer, UnitEvaluator, UnitSpec, UnitWeights, unit_slots,
};
use lut_filter::description::presets;
use lut_filter::tables::{DfcGeometry, REGULAR_ROWS};
use lut_filter::{
    ChromaFormat, Component, Container, ContainerDescription, Picture, Plane, PlaneMut, TableLayout,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::SafeTensors;

const DFC: TableLayout = TableLayout::Dfc {
    dims: 4,
    dw: 3,
    si: 5,
};

/// A 2-stage luma cascade and a cross-component U model (and V when `with_v`).
fn description(layout: TableLayout, with_v: bool) -> ContainerDescription {
    let mut models = vec![
        presets::cascade("y", Component::Y, [0, 63], 2, layout, 1, 6),
        presets::chroma_cross_component("u", Component::U, [0, 63], layout, 1, 6),
    ];
    if with_v {
        models.push(presets::chroma_cross_component(
            "v",
            Component::V,
            [0, 63],
            layout,
            3,
            7,
        ));
    }
    ContainerDescription { models }
}

/// The int8 values of tensor `name` of a container.
fn tensor(st: &SafeTensors<'_>, name: &str) -> Vec<i8> {
    let t = st
        .tensor(name)
        .unwrap_or_else(|_| panic!("no tensor {name}"));
    assert_eq!(t.dtype(), safetensors::Dtype::I8, "{name}");
    t.data().iter().map(|&b| b as i8).collect()
}

/// The table the network defines for a unit: `quantise(forward(node))` at every grid node,
/// computed with the plain forward pass (the definition), and its clipped count.
fn expected_table(net: &NetFile, unit: &str) -> (Vec<i8>, usize) {
    let u = &net.units[unit];
    let n_in = u.spec.inputs;
    let rows = if n_in == 4 {
        REGULAR_ROWS
    } else {
        17 * 17 * 17
    };
    let x: Vec<f32> = (0..rows)
        .flat_map(|r| grid_input(r, n_in).into_iter().take(n_in))
        .collect();
    let mut y = vec![0f32; rows * u.spec.outputs];
    u.forward(&x, &mut y);
    let q: Vec<(i8, bool)> = y.iter().map(|&v| u.spec.transfer.quantise(v)).collect();
    (
        q.iter().map(|p| p.0).collect(),
        q.iter().filter(|p| p.1).count(),
    )
}

#[test]
fn traversal_is_exact_for_regular_and_dfc_tables() {
    let desc = description(TableLayout::Regular, false);
    let mut net = NetFile::random(desc.clone(), &[8, 8], Transfer::Tanh, 4.0, 11);
    // Some units with the clamp transfer, so both transfers (and their clipping) are covered.
    for (i, u) in net.units.values_mut().enumerate() {
        if i.is_multiple_of(3) {
            u.spec.transfer = Transfer::Clamp;
        }
    }
    for layout in [None, Some(DFC)] {
        let opts = TransferOptions {
            layout,
            progress: false,
        };
        let (bytes, report) = transfer(&net.description, &net, &opts).unwrap();
        let container = Container::from_bytes(bytes.clone()).unwrap();
        assert_eq!(container.size(), report.container_bytes);
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let mut checked = 0;
        let mut clipped_total = 0;
        for (m, rep) in net.description.models.iter().zip(&report.models) {
            assert_eq!(container.models().count(), 2);
            let slots = unit_slots(m);
            assert_eq!(rep.units.len(), slots.len());
            for (slot, u) in slots.iter().zip(&rep.units) {
                let (want, clipped) = expected_table(&net, &slot.name);
                assert_eq!(u.clipped, clipped, "{}", slot.name);
                assert_eq!(u.rows * u.outputs, want.len());
                clipped_total += clipped;
                if slot.inputs == 3 || layout.is_none() {
                    // Channel tables, and regular spatial tables: every node.
                    assert_eq!(tensor(&st, &slot.name), want, "{}", slot.name);
                } else {
                    let g = DfcGeometry {
                        dims: 4,
                        dw: 3,
                        si: 5,
                    };
                    let (fine, _, coarse) = g.compact(&want, slot.outputs);
                    assert_eq!(tensor(&st, &format!("{}/fine", slot.name)), fine);
                    assert_eq!(tensor(&st, &format!("{}/coarse", slot.name)), coarse);
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 6 + 16);
        assert!(clipped_total > 0, "the test network should clip somewhere");
        if layout.is_some() {
            assert!(
                report
                    .models
                    .iter()
                    .all(|m| m.table_bytes < m.regular_bytes / 3)
            );
        }
    }
}

/// A unit computing, per output j, `y_j = (k_j0 + sum_i k_ji * 16 u_i) / 127` through one ReLU
/// layer that passes its (non-negative) inputs through: with the clamp transfer its table value
/// at node n is the integer `k_j0 + sum_i k_ji n_i`, an affine function interpolation reproduces.
fn affine_unit(inputs: usize, outputs: usize, rng: &mut ChaCha8Rng) -> UnitWeights {
    let mut identity = vec![0f32; inputs * inputs];
    for i in 0..inputs {
        identity[i * inputs + i] = 1.0;
    }
    let mut weight = Vec::new();
    let mut bias = Vec::new();
    for _ in 0..outputs {
        bias.push(rng.gen_range(-30i32..=30) as f32 / 127.0);
        for _ in 0..inputs {
            weight.push(16.0 * rng.gen_range(-1i32..=1) as f32 / 127.0);
        }
    }
    UnitWeights {
        spec: UnitSpec {
            inputs,
            outputs,
            hidden: vec![inputs],
            activation: Activation::Relu,
            transfer: Transfer::Clamp,
        },
        layers: vec![
            Layer {
                inputs,
                outputs: inputs,
                weight: identity,
                bias: vec![0.0; inputs],
            },
            Layer {
                inputs,
                outputs,
                weight,
                bias,
            },
        ],
    }
}

fn affine_net(desc: ContainerDescription, seed: u64) -> NetFile {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut units = std::collections::BTreeMap::new();
    for m in &desc.models {
        for s in unit_slots(m) {
            units.insert(s.name, affine_unit(s.inputs, s.outputs, &mut rng));
        }
    }
    let net = NetFile {
        description: desc,
        units,
    };
    net.validate().unwrap();
    net
}

/// A 10-bit 4:2:0 picture: a smooth pattern plus noise of amplitude `noise`.
fn picture(w: usize, h: usize, noise: i32, seed: u64) -> [Vec<u16>; 3] {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut plane = |w: usize, h: usize, f: f64| -> Vec<u16> {
        (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f64, (i / w) as f64);
                let base = 512.0 + 300.0 * ((x * f).sin() * (y * f * 0.7).cos());
                let n = if noise > 0 {
                    rng.gen_range(-noise..=noise)
                } else {
                    0
                };
                (base as i32 + n).clamp(0, 1023) as u16
            })
            .collect()
    };
    [plane(w, h, 0.11), plane(cw, ch, 0.17), plane(cw, ch, 0.23)]
}

/// Filters plane `c` both ways: (LUT runtime, network forward).
fn both(
    net: &NetFile,
    container: &Container,
    planes: &[Vec<u16>; 3],
    w: usize,
    h: usize,
    c: Component,
) -> (Vec<i32>, Vec<i32>) {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let pic = Picture::new(
        Plane::new(&planes[0], w, w, h).unwrap(),
        Some(Plane::new(&planes[1], cw, cw, ch).unwrap()),
        Some(Plane::new(&planes[2], cw, cw, ch).unwrap()),
        ChromaFormat::Yuv420,
        10,
    )
    .unwrap();
    let model = container.select(c, 32).unwrap();
    let (pw, ph) = if c == Component::Y { (w, h) } else { (cw, ch) };
    let mut dst = vec![0u16; pw * ph];
    model
        .filter_plane(&pic, &mut PlaneMut::new(&mut dst, pw, pw, ph).unwrap())
        .unwrap();
    let desc = net
        .description
        .models
        .iter()
        .find(|m| m.name == model.description().name)
        .unwrap();
    let direct = forward_plane(net as &dyn UnitEvaluator, desc, &pic).unwrap();
    (dst.iter().map(|&v| i32::from(v)).collect(), direct)
}

#[test]
fn forward_equals_lut_on_affine_networks() {
    let (w, h) = (45, 38);
    let planes = picture(w, h, 200, 5);
    for layout in [TableLayout::Regular, DFC] {
        let net = affine_net(description(layout, true), 21);
        let (bytes, report) =
            transfer(&net.description, &net, &TransferOptions::default()).unwrap();
        assert!(
            report.models.iter().all(|m| m.clipped() == 0),
            "affine tables must not clip"
        );
        let container = Container::from_bytes(bytes).unwrap();
        for c in Component::ALL {
            let (lut, direct) = both(&net, &container, &planes, w, h, c);
            let src: Vec<i32> = planes[c.index()].iter().map(|&v| i32::from(v)).collect();
            let changed = lut.iter().zip(&src).filter(|(a, b)| a != b).count();
            assert!(
                changed > lut.len() / 2,
                "{c}: the model should change most samples"
            );
            let worst = lut
                .iter()
                .zip(&direct)
                .map(|(a, b)| (a - b).abs())
                .max()
                .unwrap();
            let differ = lut.iter().zip(&direct).filter(|(a, b)| a != b).count();
            // Float sums could in principle land a requantisation on the other side of a
            // half-way tie (one code); on this picture every sample agrees exactly.
            assert_eq!(
                (differ, worst),
                (0, 0),
                "{layout:?} {c}: LUT and network differ on {differ} of {} samples, by up to {worst}",
                lut.len()
            );
        }
    }
}

fn psnr(a: &[i32], b: &[i32]) -> f64 {
    let ssd: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum();
    if ssd == 0.0 {
        999.99
    } else {
        10.0 * (1020.0f64.powi(2) * a.len() as f64 / ssd).log10()
    }
}

#[test]
fn forward_is_close_to_lut_on_a_random_network() {
    let (w, h) = (40, 34);
    let original = picture(w, h, 0, 9);
    let noisy = picture(w, h, 12, 9);
    let mut net = NetFile::random(
        description(TableLayout::Regular, true),
        &[16, 16],
        Transfer::Tanh,
        6.0,
        3,
    );
    for m in &mut net.description.models {
        m.output.scale = 1;
        m.output.scale_shift = 2;
    }
    let (bytes, _) = transfer(&net.description, &net, &TransferOptions::default()).unwrap();
    let container = Container::from_bytes(bytes).unwrap();
    for c in Component::ALL {
        let (lut, direct) = both(&net, &container, &noisy, w, h, c);
        let orig: Vec<i32> = original[c.index()].iter().map(|&v| i32::from(v)).collect();
        let src: Vec<i32> = noisy[c.index()].iter().map(|&v| i32::from(v)).collect();
        let moved = psnr(&src, &direct);
        let agree = psnr(&lut, &direct);
        let gap = psnr(&orig, &direct) - psnr(&orig, &lut);
        eprintln!(
            "{c}: network moves the picture to {moved:.2} dB of its input; LUT vs network {agree:.2} dB; gap {gap:+.3} dB"
        );
        assert!(moved < 45.0, "{c}: the network should change the picture");
        assert!(agree > moved + 6.0, "{c}: LUT vs network {agree:.2} dB");
        assert!(gap.abs() < 0.2, "{c}: PSNR gap {gap:.3} dB");
    }
}

/// Speed of the batched evaluator against the plain forward pass on a 4-64-64-64-1 unit
/// (a measurement, not a check: run with
/// `cargo test --release -p lut-build --test net -- --ignored --nocapture batch_speed`).
#[test]
#[ignore = "timing measurement"]
fn batch_speed() {
    use lut_build::net::batch::forward_batch;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let spec = UnitSpec {
        inputs: 4,
        outputs: 1,
        hidden: vec![64, 64, 64],
        activation: Activation::Relu,
        transfer: Transfer::Tanh,
    };
    let u = UnitWeights::random(spec, &mut rng, 1.0);
    let rows = 1 << 16;
    let x: Vec<f32> = (0..rows * 4).map(|_| rng.gen_range(0.0..1.0)).collect();
    let mut a = vec![0f32; rows];
    let mut b = vec![0f32; rows];
    let t = std::time::Instant::now();
    u.forward(&x, &mut a);
    let plain = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    forward_batch(&u, &x, &mut b);
    let fast = t.elapsed().as_secs_f64();
    assert_eq!(a, b);
    let gmac = (rows * u.macs()) as f64 / 1e9;
    eprintln!(
        "{rows} rows, {} MAC/row, one thread: plain {:.1} ns/row ({:.2} GMAC/s), batched {:.1} ns/row ({:.2} GMAC/s), {:.1}x",
        u.macs(),
        plain * 1e9 / rows as f64,
        gmac / plain,
        fast * 1e9 / rows as f64,
        gmac / fast,
        plain / fast
    );
}

#[test]
fn nan_outputs_are_refused() {
    let desc = ContainerDescription {
        models: vec![presets::cascade(
            "y",
            Component::Y,
            [0, 63],
            1,
            TableLayout::Regular,
            1,
            6,
        )],
    };
    let mut net = NetFile::random(desc, &[4], Transfer::Tanh, 1.0, 1);
    net.units.get_mut("y/s1/d").unwrap().layers[1].bias[0] = f32::NAN;
    let err = transfer(&net.description, &net, &TransferOptions::default()).unwrap_err();
    assert!(err.to_string().contains("y/s1/d"), "{err}");
    let planes = picture(16, 16, 10, 1);
    let pic = Picture::new(
        Plane::new(&planes[0], 16, 16, 16).unwrap(),
        None,
        None,
        ChromaFormat::Yuv400,
        10,
    )
    .unwrap();
    let m = &net.description.models[0];
    assert!(forward_plane(&net, m, &pic).is_err());
}

/// The commands end to end: `init-net`, `from-net` (both layouts), `inspect` (both kinds) and,
/// when the corpus is present, a small `verify`.
#[test]
fn commands_run_end_to_end() {
    let exe = env!("CARGO_BIN_EXE_lut-build");
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("n.net");
    let lut = dir.path().join("n.lut");
    let run = |args: &[&std::ffi::OsStr]| -> String {
        let out = std::process::Command::new(exe).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let s = |x: &str| std::ffi::OsString::from(x);
    run(&[
        &s("init-net"),
        &s("--out"),
        net.as_os_str(),
        &s("--arch"),
        &s("cascade2,chroma-cc"),
        &s("--hidden"),
        &s("6"),
    ]);
    let text = run(&[&s("inspect"), net.as_os_str()]);
    assert!(text.contains("3 models, 38 units"), "{text}");
    assert!(text.contains("unit u-cc/c"), "{text}");
    for layout in ["regular", "dfc"] {
        let text = run(&[
            &s("from-net"),
            &s("--net"),
            net.as_os_str(),
            &s("--out"),
            lut.as_os_str(),
            &s("--layout"),
            &s(layout),
        ]);
        assert!(text.contains("38 units, 3016582 grid rows"), "{text}");
        let c = Container::open(&lut).unwrap();
        assert_eq!(c.models().count(), 3);
        let text = run(&[&s("inspect"), lut.as_os_str(), &s("--json")]);
        assert!(text.contains("y-cascade2/s1/s"), "{text}");
        assert!(text.contains("\"models\""), "{text}");
    }
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    if !data.join("manifest.tsv").exists() {
        eprintln!("skipping verify: no corpus at {}", data.display());
        return;
    }
    let text = run(&[
        &s("verify"),
        &s("--net"),
        net.as_os_str(),
        &s("--lut"),
        lut.as_os_str(),
        &s("--data"),
        data.as_os_str(),
        &s("--frames"),
        &s("1"),
        &s("--crop"),
        &s("32"),
        &s("--runs"),
        &s("1"),
    ]);
    for c in ["y ", "u ", "v "] {
        assert!(text.lines().any(|l| l.starts_with(c)), "{text}");
    }
}

/// `lut-build inspect X | head -1`: the reader closes the pipe after one line; the command
/// stops quietly with success instead of panicking ("failed printing to stdout").
#[test]
fn inspect_into_a_closed_pipe_stops_quietly() {
    use std::io::{BufRead, BufReader};
    let exe = env!("CARGO_BIN_EXE_lut-build");
    let dir = tempfile::tempdir().unwrap();
    // 36 models and their description JSON: more output than a pipe buffer holds.
    let lut = dir.path().join("many.lut");
    std::fs::write(&lut, lut_filter::default_model::bytes()).unwrap();
    let mut child = std::process::Command::new(exe)
        .args([
            std::ffi::OsStr::new("inspect"),
            lut.as_os_str(),
            "--json".as_ref(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("LUT container"), "{first}");
    // The reader is dropped here: the pipe is closed.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
