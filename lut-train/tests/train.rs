//! Training on tiny synthetic problems: an interrupted and resumed run equals the
//! uninterrupted one, results do not depend on the thread count, and the loss falls.

use std::path::Path;

use lut_filter::Component;
use lut_train::arch::Arch;
use lut_train::checkpoint;
use lut_train::data::{FrameSet, synthetic_frames};
use lut_train::train::{RunOptions, TrainConfig, train};

fn tiny(arch: Arch, steps: u64) -> TrainConfig {
    let mut c = TrainConfig::new(arch, Component::Y, [30, 40]);
    c.hidden = vec![8, 8];
    c.steps = steps;
    c.batch = 2;
    c.crop = 12;
    c.warmup = 2;
    c.lr = 5e-3;
    c.val_every = 3;
    c.val_crops = 2;
    c.val_crop = 16;
    c.checkpoint_every = 0;
    c
}

fn run(out: &Path, resume: bool, stop_at: Option<u64>) -> RunOptions {
    RunOptions {
        out: out.to_owned(),
        resume,
        stop_at,
        progress: false,
        data_note: "synthetic".into(),
    }
}

fn assert_same_state(a: &Path, b: &Path) {
    let ca = checkpoint::load(&a.join("checkpoint.safetensors")).unwrap();
    let cb = checkpoint::load(&b.join("checkpoint.safetensors")).unwrap();
    assert_eq!(ca.step, cb.step);
    assert_eq!(ca.adam_step, cb.adam_step);
    assert!(ca.params == cb.params, "weights differ");
    assert!(ca.m == cb.m, "Adam first moments differ");
    assert!(ca.v == cb.v, "Adam second moments differ");
    let na = lut_build::net::NetFile::read(a.join("net.net")).unwrap();
    let nb = lut_build::net::NetFile::read(b.join("net.net")).unwrap();
    assert!(na == nb, "network files differ");
}

#[test]
fn resumed_run_equals_the_uninterrupted_run() {
    let train_set = FrameSet::new(synthetic_frames(3, 40, 32, 1));
    let val_set = FrameSet::new(synthetic_frames(1, 32, 32, 2));
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let c = tiny(Arch::Cascade2, 6);
    let sa = train(&c, &train_set, Some(&val_set), &run(&a, false, None)).unwrap();
    assert_eq!(sa.steps, 6);
    let sb = train(&c, &train_set, Some(&val_set), &run(&b, false, Some(4))).unwrap();
    assert_eq!(sb.steps, 4);
    // Different options are refused on resume.
    let mut other = c.clone();
    other.lr = 1e-2;
    assert!(train(&other, &train_set, Some(&val_set), &run(&b, true, None)).is_err());
    let sb = train(&c, &train_set, Some(&val_set), &run(&b, true, None)).unwrap();
    assert_eq!(sb.steps, 6);
    assert_same_state(&a, &b);
    // The resumed log holds every update once.
    let log = std::fs::read_to_string(b.join("log.jsonl")).unwrap();
    let steps: Vec<u64> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("loss").is_some())
        .map(|v| v["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, vec![1, 2, 3, 4, 5, 6]);
    assert!(log.contains("\"summary\""));
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let train_set = FrameSet::new(synthetic_frames(2, 48, 48, 3));
    let dir = tempfile::tempdir().unwrap();
    let mut c = tiny(Arch::Cascade1, 3);
    c.batch = 3;
    c.crop = 40; // 4800 rows per pattern: several chunks of the fused unit
    c.val_crops = 0;
    for (threads, sub) in [(1, "t1"), (2, "t2")] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            train(
                &c,
                &train_set,
                None,
                &run(&dir.path().join(sub), false, None),
            )
        })
        .unwrap();
    }
    assert_same_state(&dir.path().join("t1"), &dir.path().join("t2"));
}

#[test]
fn loss_falls_on_a_tiny_synthetic_problem() {
    // The synthetic reconstruction has a level offset and blocky quantisation: a single stage
    // learns to remove much of it.
    let train_set = FrameSet::new(synthetic_frames(4, 64, 64, 5));
    let val_set = FrameSet::new(synthetic_frames(2, 64, 64, 6));
    let dir = tempfile::tempdir().unwrap();
    let mut c = tiny(Arch::Cascade1, 60);
    c.hidden = vec![16, 16];
    c.batch = 4;
    c.crop = 24;
    c.lr = 1e-2;
    c.val_every = 0;
    c.val_crops = 4;
    c.val_crop = 32;
    let s = train(
        &c,
        &train_set,
        Some(&val_set),
        &run(dir.path(), false, None),
    )
    .unwrap();
    let log = std::fs::read_to_string(dir.path().join("log.jsonl")).unwrap();
    let losses: Vec<f64> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("loss").and_then(|x| x.as_f64()))
        .collect();
    assert_eq!(losses.len(), 60);
    let first: f64 = losses[..10].iter().sum::<f64>() / 10.0;
    let last: f64 = losses[50..].iter().sum::<f64>() / 10.0;
    eprintln!(
        "loss {first:.2} -> {last:.2}, validation {:?}",
        s.validation
    );
    assert!(last < 0.92 * first, "loss {first} -> {last}");
    let v = s.validation.unwrap();
    assert!(v.delta_psnr_db > 0.5, "validation gain {v:?}");
    // The written network is a valid lut-ilf-net file with the trained description.
    let net = lut_build::net::NetFile::read(dir.path().join("net.net")).unwrap();
    assert_eq!(net.description.models[0].name, "y-qp30-40");
    assert_eq!(net.description.models[0].output.scale_shift, 4);
    assert!(net.description.models[0].notes.contains("60 of 60 updates"));
}

#[test]
fn a_run_started_from_another_models_network_takes_its_weights() {
    let train_set = FrameSet::new(synthetic_frames(2, 40, 32, 7));
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let mut ca = tiny(Arch::Cascade2, 3);
    ca.val_crops = 0;
    train(&ca, &train_set, None, &run(&a, false, None)).unwrap();
    // Another QP range (another model name), started from a's network and stopped before
    // its first update: its network is a's, unit for unit.
    let mut cb = TrainConfig::new(Arch::Cascade2, Component::Y, [10, 20]);
    cb.hidden = ca.hidden.clone();
    cb.val_crops = 0;
    cb.init = Some(a.join("net.net"));
    train(&cb, &train_set, None, &run(&b, false, Some(0))).unwrap();
    let na = lut_build::net::NetFile::read(a.join("net.net")).unwrap();
    let nb = lut_build::net::NetFile::read(b.join("net.net")).unwrap();
    assert_eq!(nb.description.models[0].name, "y-qp10-20");
    assert_eq!(na.units.len(), nb.units.len());
    for (name, w) in &nb.units {
        let source = name.replacen("y-qp10-20/", "y-qp30-40/", 1);
        assert!(na.units[&source] == *w, "{name} differs from {source}");
    }
    // A network of other widths is refused with a message naming the unit.
    cb.hidden = vec![4, 4];
    let err = train(
        &cb,
        &train_set,
        None,
        &run(&dir.path().join("c"), false, Some(0)),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("initial unit y-qp30-40/s1/"), "{err}");
}
