//! End-to-end tests of the `lut-filter` binary: filtering (identity default and a random
//! non-identity container checked against the library API), PSNR against hand computations,
//! inspection, and bad inputs (clear message, non-zero exit, no output left behind).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lut_filter::description::presets;
use lut_filter::{
    ChromaFormat, Component, Container, ContainerWriter, ModelDescription, Node, Picture, Plane,
    PlaneMut, Sample, TableLayout,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const BIN: &str = env!("CARGO_BIN_EXE_lut-filter");
const SHARED_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data");

// ---------------------------------------------------------------------------------------------
// Helpers

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(BIN)
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("run lut-filter")
}

fn ok(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "lut-filter failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// A Y4M colourspace: header tag, chroma format, bit depth.
#[derive(Clone, Copy, Debug)]
struct Format {
    tag: &'static str,
    chroma: ChromaFormat,
    depth: u8,
}

const C420JPEG: Format = Format {
    tag: "C420jpeg",
    chroma: ChromaFormat::Yuv420,
    depth: 8,
};
const C420P10: Format = Format {
    tag: "C420p10",
    chroma: ChromaFormat::Yuv420,
    depth: 10,
};

impl Format {
    fn sizes(&self, w: usize, h: usize) -> [(usize, usize); 3] {
        let c = self.chroma.chroma_size(w, h);
        [(w, h), c, c]
    }
}

/// Frames as u16 planes (8-bit files hold values < 256).
type Frames = Vec<[Vec<u16>; 3]>;

fn random_frames(seed: u64, f: Format, w: usize, h: usize, n: usize) -> Frames {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let max = (1u32 << f.depth) - 1;
    (0..n)
        .map(|_| {
            f.sizes(w, h).map(|(pw, ph)| {
                // Smooth-ish content with noise, so look-ups hit the DFC band and outside it.
                (0..pw * ph)
                    .map(|i| {
                        let base = ((i % pw) * 7 + (i / pw.max(1)) * 3) as u32 * (max / 64);
                        (base + rng.gen_range(0..=max / 8)).min(max) as u16
                    })
                    .collect()
            })
        })
        .collect()
}

fn y4m_bytes(f: Format, w: usize, h: usize, frames: &Frames) -> Vec<u8> {
    let mut out = format!("YUV4MPEG2 W{w} H{h} F25:1 Ip A1:1 {}\n", f.tag).into_bytes();
    for frame in frames {
        out.extend_from_slice(b"FRAME\n");
        for plane in frame {
            for &s in plane {
                if f.depth > 8 {
                    out.extend_from_slice(&s.to_le_bytes());
                } else {
                    out.push(s as u8);
                }
            }
        }
    }
    out
}

fn write_y4m(path: &Path, f: Format, w: usize, h: usize, frames: &Frames) -> Vec<u8> {
    let bytes = y4m_bytes(f, w, h, frames);
    std::fs::write(path, &bytes).unwrap();
    bytes
}

/// Parses a Y4M written by [`y4m_bytes`] or by the binary (no FRAME parameters).
fn parse_y4m(bytes: &[u8], f: Format, w: usize, h: usize) -> Frames {
    let header_end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let bps = if f.depth > 8 { 2 } else { 1 };
    let sizes = f.sizes(w, h);
    let frame_len: usize = 6 + sizes.iter().map(|(a, b)| a * b * bps).sum::<usize>();
    let body = &bytes[header_end..];
    assert_eq!(body.len() % frame_len, 0, "whole frames");
    body.chunks(frame_len)
        .map(|chunk| {
            assert_eq!(&chunk[..6], b"FRAME\n");
            let mut pos = 6;
            sizes.map(|(pw, ph)| {
                let n = pw * ph;
                let plane = (0..n)
                    .map(|i| {
                        if bps == 2 {
                            u16::from_le_bytes([chunk[pos + 2 * i], chunk[pos + 2 * i + 1]])
                        } else {
                            u16::from(chunk[pos + i])
                        }
                    })
                    .collect();
                pos += n * bps;
                plane
            })
        })
        .collect()
}

/// Filters with the library API: the reference the binary must match.
fn library_filter(
    container: &Container,
    f: Format,
    w: usize,
    h: usize,
    frames: &Frames,
    qp: i32,
) -> Frames {
    fn one<T: Sample>(
        container: &Container,
        f: Format,
        w: usize,
        h: usize,
        planes: [Vec<T>; 3],
        qp: i32,
    ) -> [Vec<T>; 3] {
        let sizes = f.sizes(w, h);
        let mono = f.chroma == ChromaFormat::Yuv400;
        let plane = |i: usize| Plane::new(&planes[i], sizes[i].0, sizes[i].0, sizes[i].1).unwrap();
        let pic = Picture::new(
            plane(0),
            (!mono).then(|| plane(1)),
            (!mono).then(|| plane(2)),
            f.chroma,
            f.depth,
        )
        .unwrap();
        let mut out = planes.clone();
        for c in Component::ALL {
            if mono && c != Component::Y {
                continue;
            }
            if let Some(model) = container.select(c, qp) {
                let (pw, ph) = sizes[c.index()];
                let mut dst = PlaneMut::new(&mut out[c.index()], pw, pw, ph).unwrap();
                model.filter_plane(&pic, &mut dst).unwrap();
            }
        }
        out
    }
    frames
        .iter()
        .map(|fr| {
            if f.depth > 8 {
                one(container, f, w, h, fr.clone(), qp)
            } else {
                let p8 = fr
                    .clone()
                    .map(|p| p.into_iter().map(|s| s as u8).collect::<Vec<u8>>());
                one(container, f, w, h, p8, qp).map(|p| p.into_iter().map(u16::from).collect())
            }
        })
        .collect()
}

fn random_table(rng: &mut ChaCha8Rng, len: usize) -> Vec<i8> {
    (0..len).map(|_| rng.gen_range(-127..=127)).collect()
}

fn dfc() -> TableLayout {
    TableLayout::Dfc {
        dims: 4,
        dw: 3,
        si: 5,
    }
}

/// A container with random int8 tables: two luma models (QP 0-29 and 30-63), a
/// cross-component U model, a one-stage V model.
fn random_writer(seed: u64) -> ContainerWriter {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut w = ContainerWriter::new();
    let models: Vec<ModelDescription> = vec![
        presets::cascade("y-lo", Component::Y, [0, 29], 1, dfc(), 1 << 12, 16),
        presets::cascade(
            "y-hi",
            Component::Y,
            [30, 63],
            2,
            TableLayout::Regular,
            1 << 12,
            16,
        ),
        presets::chroma_cross_component("u", Component::U, [0, 63], dfc(), 1 << 12, 16),
        presets::cascade("v", Component::V, [0, 63], 1, dfc(), 3 << 11, 16),
    ];
    for m in models {
        w.add_model(m, |req| random_table(&mut rng, req.shape.iter().product()))
            .unwrap();
    }
    w
}

fn small_writer(seed: u64) -> ContainerWriter {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut w = ContainerWriter::new();
    let m = presets::cascade("y", Component::Y, [0, 63], 1, dfc(), 1 << 12, 16);
    w.add_model(m, |req| random_table(&mut rng, req.shape.iter().product()))
        .unwrap();
    w
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn psnr_json(a: &Path, b: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"psnr", &a, &b, &"--json"];
    for e in extra {
        args.push(e);
    }
    serde_json::from_str(&ok(&args)).expect("psnr --json is JSON")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

// ---------------------------------------------------------------------------------------------
// Identity container

/// Writes an identity container (zero tables, scale 0, one single-stage model per component).
fn identity_lut(dir: &Path) -> PathBuf {
    let mut w = ContainerWriter::new();
    for c in Component::ALL {
        let m = presets::cascade(&format!("id-{c}"), c, [0, 63], 1, dfc(), 0, 0);
        w.add_model(m, |req| vec![0i8; req.shape.iter().product()])
            .unwrap();
    }
    let path = dir.join("identity.lut");
    w.write(&path).unwrap();
    path
}

#[test]
fn identity_container_reproduces_8_and_10_bit_input() {
    let dir = tempfile::tempdir().unwrap();
    let id = identity_lut(dir.path());
    for (i, (f, w, h)) in [
        (C420JPEG, 16, 8),
        (C420JPEG, 17, 9),
        (C420P10, 16, 8),
        (C420P10, 17, 9),
    ]
    .into_iter()
    .enumerate()
    {
        let input = dir.path().join(format!("in{i}.y4m"));
        let output = dir.path().join(format!("out{i}.y4m"));
        let bytes = write_y4m(&input, f, w, h, &random_frames(i as u64, f, w, h, 3));
        let summary = ok(&[&"filter", &input, &output, &"--lut", &id]);
        assert!(summary.contains("3 frames"), "{summary}");
        assert!(summary.contains("ns/sample"), "{summary}");
        assert_eq!(std::fs::read(&output).unwrap(), bytes, "{f:?} {w}x{h}");
        let v = psnr_json(&input, &output, &[]);
        for c in ["y", "u", "v", "yuv"] {
            assert_lossless(&v["mean"][c], c);
        }
        let table = ok(&[&"psnr", &input, &output]);
        assert!(table.contains("999.99"), "{table}");
        assert!(
            table.lines().any(|l| l.trim_start().starts_with("mean")),
            "{table}"
        );
    }
    // Quiet runs print nothing; only the output file and inputs exist (no temporary file).
    let input = dir.path().join("in0.y4m");
    let output = dir.path().join("quiet.y4m");
    assert_eq!(
        ok(&[&"filter", &input, &output, &"--quiet", &"--lut", &id]),
        ""
    );
    assert!(files_in(dir.path()).iter().all(|f| !f.ends_with(".tmp")));
    // The embedded default runs on the same files (identity or not).
    ok(&[&"filter", &input, &output, &"--quiet"]);
}

/// `--slice-type` picks the default's inter models for P/B pictures and the models for every
/// picture for I pictures and by default; the summary names them.
#[test]
fn slice_type_selects_the_inter_models() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (48, 32);
    let input = dir.path().join("in.y4m");
    write_y4m(&input, C420P10, w, h, &random_frames(5, C420P10, w, h, 1));
    let out = |name: &str, extra: &[&str]| {
        let path = dir.path().join(name);
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
            vec![&"filter", &input, &path, &"--qp", &"37"];
        args.extend(extra.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        let summary = ok(&args);
        (summary, std::fs::read(&path).unwrap())
    };
    let (plain, plain_bytes) = out("plain.y4m", &[]);
    let (intra, intra_bytes) = out("i.y4m", &["--slice-type", "i"]);
    let (inter, inter_bytes) = out("b.y4m", &["--slice-type", "b"]);
    assert!(plain.contains("y: y-qp33-37"), "{plain}");
    assert!(inter.contains("y: y-inter-qp33-37"), "{inter}");
    assert!(inter.contains("u: u-inter-qp33-37"), "{inter}");
    assert_eq!(plain_bytes, intra_bytes, "{intra}");
    assert_ne!(plain_bytes, inter_bytes);
}

#[test]
fn header_and_frame_parameters_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (8, 4);
    let frames = random_frames(3, C420JPEG, w, h, 2);
    let plain = y4m_bytes(C420JPEG, w, h, &frames);
    // Rewrite with an X comment in the header and FRAME parameters.
    let text_end = plain.iter().position(|&b| b == b'\n').unwrap();
    let mut bytes = plain[..text_end].to_vec();
    bytes.extend_from_slice(b" XYSCSS=420JPEG\n");
    let frame_len = (plain.len() - text_end - 1) / 2;
    for k in 0..2 {
        let chunk = &plain[text_end + 1 + k * frame_len..text_end + 1 + (k + 1) * frame_len];
        bytes.extend_from_slice(b"FRAME Ixyz\n");
        bytes.extend_from_slice(&chunk[6..]);
    }
    let input = dir.path().join("in.y4m");
    let output = dir.path().join("out.y4m");
    std::fs::write(&input, &bytes).unwrap();
    let id = identity_lut(dir.path());
    ok(&[&"filter", &input, &output, &"-q", &"--lut", &id]);
    assert_eq!(std::fs::read(&output).unwrap(), bytes);
}

#[test]
fn help_and_inspect_state_the_placeholder() {
    let help = ok(&[&"--help"]);
    let filter_help = ok(&[&"filter", &"--help"]);
    let inspect = ok(&[&"inspect"]);
    for text in [&help, &filter_help, &inspect] {
        assert_eq!(
            text.contains("IDENTITY PLACEHOLDER"),
            lut_filter::default_model::IS_IDENTITY_PLACEHOLDER,
            "{text}"
        );
    }
    let default = lut_filter::default_model::open().unwrap();
    assert!(
        inspect.contains(&format!("crc32:{:08x}", default.checksum())),
        "{inspect}"
    );
    for m in default.models() {
        assert!(inspect.contains(&format!("model '{}'", m.description().name)));
        assert!(inspect.contains(&format!("table bytes: {}", m.table_bytes())));
    }
    let json: serde_json::Value =
        serde_json::from_str(&ok(&[&"inspect", &"--json", &"--tensors"])).unwrap();
    assert_eq!(json["size"].as_u64(), Some(default.size() as u64));
    assert_eq!(
        json["identity_placeholder"].as_bool(),
        Some(lut_filter::default_model::IS_IDENTITY_PLACEHOLDER)
    );
    assert_eq!(
        json["tensors"].as_array().unwrap().len(),
        default.tensors().count()
    );
    assert_eq!(
        json["models"].as_array().unwrap().len(),
        default.models().count()
    );
}

// ---------------------------------------------------------------------------------------------
// Non-identity container against the library

#[test]
fn random_container_matches_library_for_every_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let lut = dir.path().join("random.lut");
    random_writer(7).write(&lut).unwrap();
    let container = Container::open(&lut).unwrap();
    for (i, (f, w, h)) in [(C420JPEG, 17, 9), (C420P10, 17, 9), (C420P10, 24, 16)]
        .into_iter()
        .enumerate()
    {
        let frames = random_frames(10 + i as u64, f, w, h, 2);
        let input = dir.path().join(format!("in{i}.y4m"));
        write_y4m(&input, f, w, h, &frames);
        for qp in [22, 37] {
            let expected = library_filter(&container, f, w, h, &frames, qp);
            assert_ne!(expected, frames, "the random model changes the picture");
            for threads in ["1", "2"] {
                let output = dir.path().join(format!("out{i}_{qp}_{threads}.y4m"));
                let qp_text = qp.to_string();
                let extra: &[&dyn AsRef<std::ffi::OsStr>] = if threads == "1" {
                    &[&"--read-into-memory"]
                } else {
                    &[]
                };
                let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
                    &"filter",
                    &input,
                    &output,
                    &"--lut",
                    &lut,
                    &"--qp",
                    &qp_text,
                    &"--threads",
                    &threads,
                ];
                args.extend_from_slice(extra);
                let summary = ok(&args);
                assert!(
                    summary.contains(&format!("threads {threads}:")),
                    "{summary}"
                );
                let got = parse_y4m(&std::fs::read(&output).unwrap(), f, w, h);
                assert_eq!(got, expected, "{f:?} {w}x{h} qp {qp} threads {threads}");
            }
        }
        // Filtering only some components copies the others.
        let output = dir.path().join(format!("out{i}_u.y4m"));
        ok(&[
            &"filter",
            &input,
            &output,
            &"--lut",
            &lut,
            &"--components",
            &"u",
            &"-q",
        ]);
        let got = parse_y4m(&std::fs::read(&output).unwrap(), f, w, h);
        let all = library_filter(&container, f, w, h, &frames, 32);
        for (g, (a, orig)) in got.iter().zip(all.iter().zip(&frames)) {
            assert_eq!(g[0], orig[0]);
            assert_eq!(g[1], a[1]);
            assert_eq!(g[2], orig[2]);
        }
    }
}

#[test]
fn other_chroma_formats_and_depths_match_library() {
    let dir = tempfile::tempdir().unwrap();
    let lut = dir.path().join("random.lut");
    random_writer(11).write(&lut).unwrap();
    let container = Container::open(&lut).unwrap();
    let formats = [
        Format {
            tag: "C422",
            chroma: ChromaFormat::Yuv422,
            depth: 8,
        },
        Format {
            tag: "C444p10",
            chroma: ChromaFormat::Yuv444,
            depth: 10,
        },
        Format {
            tag: "C420p12",
            chroma: ChromaFormat::Yuv420,
            depth: 12,
        },
        Format {
            tag: "C420mpeg2",
            chroma: ChromaFormat::Yuv420,
            depth: 8,
        },
        Format {
            tag: "Cmono",
            chroma: ChromaFormat::Yuv400,
            depth: 8,
        },
        Format {
            tag: "Cmono12",
            chroma: ChromaFormat::Yuv400,
            depth: 12,
        },
    ];
    for (i, f) in formats.into_iter().enumerate() {
        let (w, h) = (13, 10);
        let frames = random_frames(20 + i as u64, f, w, h, 2);
        let input = dir.path().join(format!("in{i}.y4m"));
        let output = dir.path().join(format!("out{i}.y4m"));
        write_y4m(&input, f, w, h, &frames);
        ok(&[&"filter", &input, &output, &"--lut", &lut, &"-q"]);
        let got = parse_y4m(&std::fs::read(&output).unwrap(), f, w, h);
        assert_eq!(
            got,
            library_filter(&container, f, w, h, &frames, 32),
            "{f:?}"
        );
    }
}

#[test]
fn inspect_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let lut = dir.path().join("random.lut");
    random_writer(5).write(&lut).unwrap();
    let container = Container::open(&lut).unwrap();
    let text = ok(&[&"inspect", &lut, &"--tensors"]);
    assert!(!text.contains("PLACEHOLDER"), "{text}");
    assert!(text.contains(&format!("crc32:{:08x}", container.checksum())));
    for m in container.models() {
        assert!(text.contains(&format!("model '{}'", m.description().name)));
        assert!(text.contains(&format!("table bytes: {}", m.table_bytes())));
        assert!(text.contains(&format!("margin: {} samples", m.margin())));
    }
    for (name, ..) in container.tensors() {
        assert!(text.contains(name), "{name}");
    }
    assert!(text.contains("chroma_from_luma"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&[&"inspect", &lut, &"--json"])).unwrap();
    assert_eq!(json["models"][1]["description"]["name"], "y-hi");
    assert_eq!(
        json["models"][1]["description"]["qp_range"],
        serde_json::json!([30, 63])
    );
}

// ---------------------------------------------------------------------------------------------
// PSNR

#[test]
fn psnr_matches_hand_computation() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (4, 4); // chroma 2x2
    let a: Frames = vec![[vec![100; 16], vec![100; 4], vec![100; 4]]; 2];
    let mut b = a.clone();
    // Frame 0: Y all +2 (MSE 4), U exact, V one sample +4 (SSE 16 over 4: MSE 4).
    b[0][0] = vec![102; 16];
    b[0][2][3] = 104;
    // Frame 1: Y one sample -1 (SSE 1 over 16), U one sample +1 (SSE 1 over 4), V exact.
    b[1][0][5] = 99;
    b[1][1][0] = 101;
    let pa = dir.path().join("a.y4m");
    let pb = dir.path().join("b.y4m");
    write_y4m(&pa, C420JPEG, w, h, &a);
    write_y4m(&pb, C420JPEG, w, h, &b);

    let p = |peak: f64, sse: f64, n: f64| 10.0 * (peak * peak * n / sse).log10();
    let y0 = p(255.0, 64.0, 16.0);
    let y1 = p(255.0, 1.0, 16.0);
    let u1 = p(255.0, 1.0, 4.0);
    let v0 = p(255.0, 16.0, 4.0);
    let expect = [
        [y0, 999.99, v0, (6.0 * y0 + 999.99 + v0) / 8.0],
        [y1, u1, 999.99, (6.0 * y1 + u1 + 999.99) / 8.0],
    ];
    // At 8 bit and at 10 bit (both shifted left by 2, peak 1020) the values are the same.
    for extra in [&[][..], &["--bit-depth", "10"][..]] {
        let v = psnr_json(&pa, &pb, extra);
        for (k, c) in ["y", "u", "v", "yuv"].into_iter().enumerate() {
            for (f, e) in expect.iter().enumerate() {
                let got = v["frames"][f][c].as_f64().unwrap();
                assert!(close(got, e[k]), "frame {f} {c}: {got} vs {}", e[k]);
            }
            let mean = v["mean"][c].as_f64().unwrap();
            assert!(
                close(mean, (expect[0][k] + expect[1][k]) / 2.0),
                "{c}: {mean}"
            );
        }
    }
    assert_eq!(
        psnr_json(&pa, &pb, &["--bit-depth", "10"])["peak"].as_f64(),
        Some(1020.0)
    );
    let table = ok(&[&"psnr", &pa, &pb]);
    assert!(table.contains(&format!("{y0:.4}")), "{table}");
    assert!(
        table.contains(&format!("{:.4}", (y0 + y1) / 2.0)),
        "{table}"
    );
}

#[test]
fn psnr_mixed_bit_depths_use_the_larger() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (4, 4);
    let a: Frames = vec![[vec![100; 16], vec![100; 4], vec![100; 4]]];
    let mut b: Frames = vec![[vec![400; 16], vec![400; 4], vec![400; 4]]];
    b[0][0][0] = 401; // 100 << 2 = 400: one luma sample off by 1 at 10 bit
    let pa = dir.path().join("a.y4m");
    let pb = dir.path().join("b.y4m");
    write_y4m(&pa, C420JPEG, w, h, &a);
    write_y4m(&pb, C420P10, w, h, &b);
    let v = psnr_json(&pa, &pb, &[]);
    assert_eq!(v["bit_depth"].as_u64(), Some(10));
    let y = 10.0 * (1020.0f64 * 1020.0 * 16.0).log10();
    assert!(close(v["mean"]["y"].as_f64().unwrap(), y));
    assert_lossless(&v["mean"]["u"], "u");
    // At 12 bit: both shifted again by 2, the error by 4 and the peak by 4: the same value.
    let v12 = psnr_json(&pa, &pb, &["--bit-depth", "12"]);
    assert!(close(v12["mean"]["y"].as_f64().unwrap(), y));
}

// ---------------------------------------------------------------------------------------------
// Bad inputs

struct Case {
    name: &'static str,
    args: Vec<std::ffi::OsString>,
    expect: &'static str,
    /// 1 for bad data, 2 for a bad command line.
    code: i32,
}

fn case(name: &'static str, args: Vec<std::ffi::OsString>, expect: &'static str) -> Case {
    Case {
        name,
        args,
        expect,
        code: 1,
    }
}

fn usage(name: &'static str, args: Vec<std::ffi::OsString>, expect: &'static str) -> Case {
    Case {
        name,
        args,
        expect,
        code: 2,
    }
}

#[test]
fn bad_inputs_fail_cleanly_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out_dir = d.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("out.y4m");
    let p = |name: &str| d.join(name);

    // Inputs.
    let frames = random_frames(1, C420JPEG, 16, 8, 3);
    let good = write_y4m(&p("good.y4m"), C420JPEG, 16, 8, &frames);
    std::fs::write(p("truncated.y4m"), &good[..good.len() - 50]).unwrap();
    let mut colour = good.clone();
    let at = colour.windows(8).position(|w| w == b"C420jpeg").unwrap();
    colour.splice(at..at + 8, b"C411".iter().copied());
    std::fs::write(p("c411.y4m"), colour).unwrap();
    write_y4m(
        &p("big.y4m"),
        C420JPEG,
        18,
        8,
        &random_frames(2, C420JPEG, 18, 8, 3),
    );
    write_y4m(&p("two.y4m"), C420JPEG, 16, 8, &frames[..2].to_vec());
    let f444 = Format {
        tag: "C444",
        chroma: ChromaFormat::Yuv444,
        depth: 8,
    };
    write_y4m(
        &p("c444.y4m"),
        f444,
        16,
        8,
        &random_frames(3, f444, 16, 8, 3),
    );
    write_y4m(
        &p("ten.y4m"),
        C420P10,
        16,
        8,
        &random_frames(4, C420P10, 16, 8, 3),
    );
    std::fs::write(p("empty.y4m"), b"").unwrap();
    std::fs::write(p("text.y4m"), b"hello, world\n").unwrap();
    std::fs::write(p("header_only.y4m"), b"YUV4MPEG2 W16 H8 F25:1 C420jpeg\n").unwrap();

    // Containers.
    std::fs::write(p("empty.lut"), b"").unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    std::fs::write(
        p("random.lut"),
        random_table(&mut rng, 256)
            .iter()
            .map(|&v| v as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let mut bytes = small_writer(1).to_bytes().unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(p("checksum.lut"), bytes).unwrap();
    let mut w = small_writer(2);
    if let Node::Spatial(s) = &mut w.description_mut().models[0].nodes[0] {
        s.outputs = 2;
    }
    std::fs::write(p("shape.lut"), w.to_bytes_unchecked(None).unwrap()).unwrap();
    let mut w = small_writer(3);
    let first = lut_filter::plan::required_tensors(&w.description().models[0])[0]
        .name
        .clone();
    w.remove_tensor(&first);
    std::fs::write(p("missing_tensor.lut"), w.to_bytes_unchecked(None).unwrap()).unwrap();
    std::fs::write(
        p("version.lut"),
        small_writer(4).to_bytes_unchecked(Some("9.0")).unwrap(),
    )
    .unwrap();
    let data = [1u8, 2, 3, 4];
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::I8, vec![4], &data).unwrap();
    std::fs::write(
        p("plain.safetensors"),
        safetensors::serialize([("t", view)], None).unwrap(),
    )
    .unwrap();
    let mut w = small_writer(5);
    w.description_mut().models[0].bit_depths = [10, 10];
    w.write(p("ten_only.lut")).unwrap();

    let os = |v: &[&dyn AsRef<std::ffi::OsStr>]| -> Vec<std::ffi::OsString> {
        v.iter().map(|a| a.as_ref().to_owned()).collect()
    };
    let filter = |input: &str| os(&[&"filter", &p(input), &out]);
    let with_lut = |lut: &str| os(&[&"filter", &p("good.y4m"), &out, &"--lut", &p(lut)]);
    let cases = vec![
        case(
            "truncated Y4M (cut mid-frame)",
            filter("truncated.y4m"),
            "truncated Y4M file: frame 2 is incomplete",
        ),
        case(
            "unsupported colourspace",
            filter("c411.y4m"),
            "unsupported Y4M colourspace 'C411'",
        ),
        case("empty input file", filter("empty.y4m"), "the file is empty"),
        case("not a Y4M file", filter("text.y4m"), "not a Y4M file"),
        case(
            "Y4M without frames",
            filter("header_only.y4m"),
            "holds no frame",
        ),
        case(
            "missing input file",
            filter("nope.y4m"),
            "cannot open: No such file or directory",
        ),
        case(
            "output into a missing directory",
            os(&[&"filter", &p("good.y4m"), &d.join("no/such/dir/out.y4m")]),
            "No such file or directory",
        ),
        usage(
            "bad --components",
            os(&[&"filter", &p("good.y4m"), &out, &"--components", &"y,w"]),
            "unknown component 'w'",
        ),
        usage(
            "bad --qp",
            os(&[&"filter", &p("good.y4m"), &out, &"--qp", &"99"]),
            "invalid value '99' for '--qp",
        ),
        usage(
            "--threads 0",
            os(&[&"filter", &p("good.y4m"), &out, &"--threads", &"0"]),
            "invalid value '0' for '--threads",
        ),
        case(
            "missing container file",
            with_lut("nope.lut"),
            "nope.lut: No such file or directory",
        ),
        case("empty container file", with_lut("empty.lut"), "is empty"),
        case(
            "corrupt container header",
            with_lut("random.lut"),
            "not a valid LUT container",
        ),
        case(
            "wrong checksum",
            with_lut("checksum.lut"),
            "container checksum mismatch",
        ),
        case(
            "table shape mismatch",
            with_lut("shape.lut"),
            "has shape [4583, 1], the description needs [4583, 2]",
        ),
        case(
            "missing tensor",
            with_lut("missing_tensor.lut"),
            "missing (the description needs it)",
        ),
        case(
            "unknown format version",
            with_lut("version.lut"),
            "container format version 9.0 is not supported",
        ),
        case(
            "plain safetensors file",
            with_lut("plain.safetensors"),
            "metadata key 'format' is missing",
        ),
        case(
            "model bit depths exclude the file",
            with_lut("ten_only.lut"),
            "supports bit depths 10..=10, but",
        ),
        case(
            "inspect a corrupt container",
            os(&[&"inspect", &p("checksum.lut")]),
            "container checksum mismatch",
        ),
        case(
            "psnr: size mismatch",
            os(&[&"psnr", &p("good.y4m"), &p("big.y4m")]),
            "picture sizes differ",
        ),
        case(
            "psnr: frame-count mismatch",
            os(&[&"psnr", &p("good.y4m"), &p("two.y4m")]),
            "frame counts differ",
        ),
        case(
            "psnr: chroma format mismatch",
            os(&[&"psnr", &p("good.y4m"), &p("c444.y4m")]),
            "chroma formats differ",
        ),
        usage(
            "psnr: --bit-depth below a file's",
            os(&[&"psnr", &p("good.y4m"), &p("ten.y4m"), &"--bit-depth", &"8"]),
            "--bit-depth 8 is below",
        ),
        case(
            "psnr: truncated file",
            os(&[&"psnr", &p("good.y4m"), &p("truncated.y4m")]),
            "truncated Y4M file",
        ),
    ];
    assert!(cases.len() >= 12);
    let before = files_in(d);
    let mut report = String::from("| bad input | message | exit code |\n|---|---|---|\n");
    for case in &cases {
        let o = Command::new(BIN).args(&case.args).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        let code = o.status.code();
        assert!(!o.status.success(), "{}: succeeded", case.name);
        assert_eq!(code, Some(case.code), "{}: exit status", case.name);
        assert!(
            stderr.contains(case.expect),
            "{}: stderr {stderr:?} lacks {:?}",
            case.name,
            case.expect
        );
        assert!(stderr.starts_with("error: "), "{}: {stderr:?}", case.name);
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{}: one line: {stderr:?}",
            case.name
        );
        assert!(!stderr.contains("panicked"), "{}: {stderr}", case.name);
        assert!(
            o.stdout.is_empty(),
            "{}: stdout {:?}",
            case.name,
            String::from_utf8_lossy(&o.stdout)
        );
        assert_eq!(
            files_in(&out_dir),
            Vec::<String>::new(),
            "{}: output left behind",
            case.name
        );
        assert_eq!(files_in(d), before, "{}: files left behind", case.name);
        report.push_str(&format!(
            "| {} | `{}` | {} |\n",
            case.name,
            stderr.trim_end().replace(d.to_str().unwrap(), "$TMP"),
            code.unwrap()
        ));
    }
    println!("{report}");

    // A failure mid-way leaves an existing output untouched.
    std::fs::write(&out, b"previous content").unwrap();
    let o = Command::new(BIN)
        .args(filter("truncated.y4m"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read(&out).unwrap(), b"previous content");
    assert_eq!(files_in(&out_dir), vec!["out.y4m".to_string()]);
}

// ---------------------------------------------------------------------------------------------
// Shared data

#[test]
fn foreman_through_identity_and_default_containers() {
    let data = Path::new(SHARED_DATA);
    let input: PathBuf = data.join("orig/foreman.y4m");
    if !input.exists() {
        eprintln!(
            "skipped: ../shared/data absent ({} not found)",
            input.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("foreman.y4m");
    let id = identity_lut(dir.path());
    let summary = ok(&[&"filter", &input, &output, &"--lut", &id]);
    assert!(summary.contains("10 frames"), "{summary}");
    assert!(
        std::fs::read(&output).unwrap() == std::fs::read(&input).unwrap(),
        "identity output differs from foreman.y4m"
    );
    let v = psnr_json(&input, &output, &[]);
    assert_eq!(v["frames"].as_array().unwrap().len(), 10);
    for c in ["y", "u", "v", "yuv"] {
        assert_lossless(&v["mean"][c], c);
    }
    // The embedded default (trained, or the placeholder) on real video: every frame comes out,
    // and a mild in-loop filter leaves an original close to itself.
    let summary = ok(&[&"filter", &input, &output]);
    assert!(summary.contains("10 frames"), "{summary}");
    let v = psnr_json(&input, &output, &[]);
    assert_eq!(v["frames"].as_array().unwrap().len(), 10);
    for c in ["y", "u", "v"] {
        assert!(v["mean"][c].as_f64().unwrap() > 40.0, "{c}: {v}");
    }
}

/// A sequence mean of lossless pictures: 999.99 dB up to the rounding of the sum (the mean is
/// computed as VTM does, sum / count, which need not return 999.99 exactly).
fn assert_lossless(v: &serde_json::Value, c: &str) {
    let x = v
        .as_f64()
        .unwrap_or_else(|| panic!("{c}: not a number: {v}"));
    assert!((x - 999.99).abs() < 1e-9, "{c}: {x}");
}

#[test]
fn bench_runs_per_plane_and_per_ctu() {
    for (extra, expect) in [
        (&[][..], "one call per plane"),
        (&["--ctu", "64"][..], "one call per 64x64 CTU"),
        // B pictures run the default's inter models.
        (
            &["--slice-type", "b"][..],
            "models y-inter-qp28-32, u-inter-qp28-32",
        ),
    ] {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"bench",
            &"--size",
            &"200x120",
            &"--runs",
            &"1",
            &"--threads",
            &"1",
        ];
        args.extend(extra.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        let out = ok(&args);
        assert!(out.contains(expect), "{out}");
        assert!(out.contains("1 thread(s): median"), "{out}");
        assert!(out.contains("x the bound"), "{out}");
        // The bound counts 5 table rows per simplex look-up and 8 per trilinear one.
        let number_before = |tail: &str| -> f64 {
            let head = &out[..out.find(tail).unwrap_or_else(|| panic!("{tail}: {out}"))];
            let word = head.split_whitespace().last().expect("a number");
            word.parse().unwrap_or_else(|_| panic!("{word}: {out}"))
        };
        let lookups = number_before(" look-ups per sample");
        let rows = number_before(" table rows per sample");
        assert!(
            (5.0 * lookups - 0.5..=8.0 * lookups + 0.5).contains(&rows),
            "{lookups} look-ups, {rows} rows: {out}"
        );
    }
}
