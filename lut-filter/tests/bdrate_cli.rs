//! `lut-filter bdrate`: BD-rates from CSV points and from folders of encoder logs, and its
//! errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lut_filter::bdrate::{Comparison, Method, compare, read_points_csv};

const BIN: &str = env!("CARGO_BIN_EXE_lut-filter");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bdrate")
        .join(name)
}

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(BIN)
        .arg("bdrate")
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("run lut-filter")
}

#[test]
fn csv_points_give_the_library_result_as_table_csv_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, t) = (fixture("anchor.csv"), fixture("test.csv"));
    let (json, csv) = (tmp.path().join("bd.json"), tmp.path().join("bd.csv"));
    let out = run(&[
        &"--anchor",
        &a,
        &"--test",
        &t,
        &"--json",
        &json,
        &"--csv",
        &csv,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = compare(
        &read_points_csv(&a).unwrap(),
        &read_points_csv(&t).unwrap(),
        Method::Pchip,
    )
    .unwrap();
    let got: Comparison = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(got, expected);
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), expected.to_csv());
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains(&format!("{:+.2} %", expected.overall.y)),
        "{table}"
    );
    assert!(table.contains("| seqT1 | C |"), "{table}");
    // Another method gives another result.
    let out = run(&[&"--anchor", &a, &"--test", &t, &"--method", &"cubic"]);
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout).unwrap().contains("cubic"));
}

/// Folders of `<sequence>_qp<QP>.log` from the corpus: a log set against itself is 0 %.
#[test]
fn log_folders_from_the_corpus() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/vvc/ai");
    if !data.is_dir() {
        println!("skipped: ../shared/data absent");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    std::fs::create_dir_all(&dir).unwrap();
    for seq in ["foreman", "vid4_city"] {
        for qp in [22, 27, 32, 37, 42] {
            let name = format!("{seq}_qp{qp}.log");
            std::fs::copy(data.join(&name), dir.join(&name)).unwrap();
        }
    }
    let json = tmp.path().join("bd.json");
    let out = run(&[
        &"--anchor",
        &dir,
        &"--test",
        &dir,
        &"--qps",
        &"22,27,32,37",
        &"--json",
        &json,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Comparison = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(got.sequences.len(), 2);
    for s in &got.sequences {
        assert_eq!(s.anchor_points, 4);
        assert!(s.y.abs() < 1e-9 && s.yuv.abs() < 1e-9, "{s:?}");
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let a = fixture("anchor.csv");
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let badname = tmp.path().join("foreman.log");
    std::fs::copy(fixture("vtm_foreman_qp37.log"), &badname).unwrap();
    let cases: [(&[&dyn AsRef<std::ffi::OsStr>], &str); 5] = [
        (&[&"--anchor", &a, &"--test", &"missing.csv"], "missing.csv"),
        (&[&"--anchor", &a, &"--test", &empty], "no .log file"),
        (
            &[&"--anchor", &a, &"--test", &badname],
            "<sequence>_qp<QP>.log",
        ),
        (
            &[&"--anchor", &a, &"--test", &a, &"--qps", &"22"],
            "computing BD-rates",
        ),
        (
            &[&"--anchor", &a, &"--test", &a, &"--method", &"spline"],
            "spline",
        ),
    ];
    for (args, needle) in cases {
        let out = run(args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "expected {needle:?} in {err}");
    }
}
