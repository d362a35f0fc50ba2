//! End-to-end tests of `lut-filter look` and of PNG/JPEG stills in `lut-filter filter`:
//! pictures written and readable, summaries against hand computations, colour round trips,
//! and bad inputs (clear message, non-zero exit, no output left behind). The round-trip loss
//! on real frames of the corpus is measured when `../shared/data` is present.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{Rgb, RgbImage};
use lut_filter::description::presets;
use lut_filter::look::{ColorSpec, Matrix, Range, color};
use lut_filter::{ChromaFormat, Component, ContainerWriter, Picture, Plane, TableLayout};

const BIN: &str = env!("CARGO_BIN_EXE_lut-filter");
const SHARED_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data");

// ---------------------------------------------------------------------------------------------
// Helpers

fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run lut-filter")
}

fn ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "lut-filter failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

fn args(list: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    list.iter().map(|a| a.as_ref().to_os_string()).collect()
}

/// Planes Y, U, V of one 4:2:0 frame.
type Planes = [Vec<u16>; 3];

/// Smooth luma with a little texture and near-neutral chroma, at `depth`.
fn frame(seed: u16, w: usize, h: usize, depth: u8) -> Planes {
    let s = 1u16 << (depth - 8);
    let luma = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as u16, (i / w) as u16);
            (40 + x * 2 + y + (x * 7 + y * 13 + seed) % 9) * s
        })
        .collect();
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let chroma = |base: u16| {
        (0..cw * ch)
            .map(|i| (base + (i as u16 + seed) % 5) * s)
            .collect()
    };
    [luma, chroma(126), chroma(129)]
}

/// A 4:2:0 Y4M file (`C420jpeg` at 8 bit, `C420p10` at 10 bit).
fn write_y4m(path: &Path, w: usize, h: usize, depth: u8, frames: &[Planes]) {
    let tag = if depth > 8 { "C420p10" } else { "C420jpeg" };
    let mut bytes = format!("YUV4MPEG2 W{w} H{h} F25:1 Ip A1:1 {tag}\n").into_bytes();
    for f in frames {
        bytes.extend_from_slice(b"FRAME\n");
        for p in f {
            for &s in p {
                if depth > 8 {
                    bytes.extend_from_slice(&s.to_le_bytes());
                } else {
                    bytes.push(s as u8);
                }
            }
        }
    }
    std::fs::write(path, bytes).unwrap();
}

/// The planes of the frames of a 4:2:0 Y4M file.
fn read_y4m(path: &Path) -> (String, Vec<Planes>) {
    let bytes = std::fs::read(path).unwrap();
    let end = bytes.iter().position(|&b| b == b'\n').unwrap();
    let header = String::from_utf8(bytes[..end].to_vec()).unwrap();
    let num = |p: char| -> usize {
        header
            .split(' ')
            .find_map(|t| t.strip_prefix(p).and_then(|v| v.parse().ok()))
            .unwrap()
    };
    let (w, h) = (num('W'), num('H'));
    let wide = header.contains("p10") || header.contains("p12");
    let sizes = [
        w * h,
        w.div_ceil(2) * h.div_ceil(2),
        w.div_ceil(2) * h.div_ceil(2),
    ];
    let mut pos = end + 1;
    let mut frames = Vec::new();
    while pos < bytes.len() {
        assert_eq!(&bytes[pos..pos + 6], b"FRAME\n");
        pos += 6;
        let planes = sizes.map(|n| {
            let v: Vec<u16> = if wide {
                bytes[pos..pos + 2 * n]
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect()
            } else {
                bytes[pos..pos + n].iter().map(|&b| u16::from(b)).collect()
            };
            pos += if wide { 2 * n } else { n };
            v
        });
        frames.push(planes);
    }
    (header, frames)
}

fn dfc() -> TableLayout {
    TableLayout::Dfc {
        dims: 4,
        dw: 3,
        si: 5,
    }
}

/// An identity container (zero tables): filtering changes nothing.
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

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn psnr(sse: u64, n: usize, depth: u8) -> f64 {
    let peak = f64::from(255u32 << (depth - 8));
    10.0 * (peak * peak * n as f64 / sse as f64).log10()
}

fn sse(a: &[u16], b: &[u16]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)).pow(2))
        .sum()
}

/// A gradient photo-like R'G'B' image.
fn rgb_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (20 + x * 3 + (x * y) % 7) as u8,
            (30 + y * 4) as u8,
            (200 - x - y) as u8,
        ])
    })
}

// ---------------------------------------------------------------------------------------------
// look

#[test]
fn look_writes_three_pngs_and_a_summary_matching_hand_computation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (w, h) = (48, 40);
    // 8-bit original; 10-bit reconstruction = original + 8 codes; filtered repairs the left
    // half and adds error on the bottom-right block row.
    let originals: Vec<Planes> = (0..3).map(|i| frame(i, w, h, 8)).collect();
    let recons: Vec<Planes> = originals
        .iter()
        .map(|f| f.clone().map(|p| p.iter().map(|&s| s * 4 + 8).collect()))
        .collect();
    let filtered: Vec<Planes> = recons
        .iter()
        .map(|f| {
            let mut f = f.clone();
            for (i, s) in f[0].iter_mut().enumerate() {
                let (x, y) = (i % w, i / w);
                if x < 24 {
                    *s -= 8;
                } else if y >= 32 {
                    *s += 4;
                }
            }
            f
        })
        .collect();
    write_y4m(&d.join("o.y4m"), w, h, 8, &originals);
    write_y4m(&d.join("r.y4m"), w, h, 10, &recons);
    write_y4m(&d.join("f.y4m"), w, h, 10, &filtered);
    let out = d.join("pics");
    let text = ok(&args(&[
        &"look",
        &"--original",
        &d.join("o.y4m"),
        &"--reconstruction",
        &d.join("r.y4m"),
        &"--filtered",
        &d.join("f.y4m"),
        &"--frame",
        &"2",
        &"--block",
        &"8",
        &"--crop",
        &"16",
        &"--out",
        &out,
        &"--json",
    ]));
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON summary");
    assert_eq!(
        files_in(&out),
        ["difference.png", "error_map.png", "side_by_side.png"]
    );
    for name in ["difference.png", "error_map.png", "side_by_side.png"] {
        let img = image::open(out.join(name)).expect("readable PNG").to_rgb8();
        assert!(
            img.width() as usize > w && img.height() as usize > h,
            "{name}"
        );
    }
    let s = &json["summary"];
    assert_eq!(json["frame"], 2);
    assert_eq!(s["bit_depth"], 10);
    let o10: Vec<u16> = originals[2][0].iter().map(|&v| v * 4).collect();
    let expect_r = psnr(sse(&o10, &recons[2][0]), w * h, 10);
    let expect_f = psnr(sse(&o10, &filtered[2][0]), w * h, 10);
    let got = |k: &str| s[k]["y"].as_f64().unwrap();
    assert!((got("psnr_reconstruction") - expect_r).abs() < 1e-9);
    assert!((got("psnr_filtered") - expect_f).abs() < 1e-9);
    assert!((got("psnr_delta") - (expect_f - expect_r)).abs() < 1e-9);
    // 6x5 blocks of 8: the left 3 columns better, the bottom row of the right 3 worse.
    assert_eq!(s["blocks_better"], 15);
    assert_eq!(s["blocks_worse"], 3);
    assert_eq!(s["blocks_unchanged"], 12);
    // The zoom window sits where the change is largest: the left half (8 per sample) rather
    // than the bottom right (4 per sample).
    assert!(s["crop"]["x"].as_u64().unwrap() + 16 <= 24);
    // The text report says the same.
    let text = ok(&args(&[
        &"look",
        &"--original",
        &d.join("o.y4m"),
        &"--reconstruction",
        &d.join("r.y4m"),
        &"--filtered",
        &d.join("f.y4m"),
        &"--out",
        &out,
    ]));
    assert!(
        text.contains("PSNR dB") && text.contains("wrote "),
        "{text}"
    );
    assert!(text.contains("15 better, 3 worse"), "{text}");
}

#[test]
fn look_filters_the_reconstruction_with_a_container_at_a_qp() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (w, h) = (64, 48);
    write_y4m(&d.join("o.y4m"), w, h, 10, &[frame(1, w, h, 10)]);
    write_y4m(&d.join("r.y4m"), w, h, 10, &[frame(2, w, h, 10)]);
    let id = identity_lut(d);
    let text = ok(&args(&[
        &"look",
        &"--original",
        &d.join("o.y4m"),
        &"--reconstruction",
        &d.join("r.y4m"),
        &"--lut",
        &id,
        &"--qp",
        &"37",
        &"--out",
        &d.join("id"),
        &"--json",
    ]));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let s = &json["summary"];
    assert_eq!(s["changed_luma_samples"], 0);
    assert_eq!(s["psnr_delta"]["y"].as_f64(), Some(0.0));
    assert_eq!(s["blocks_unchanged"], 48);
    assert!(json["filter"].as_str().unwrap().contains("QP 37"));
    // The embedded default runs too, with every option.
    ok(&args(&[
        &"look",
        &"--original",
        &d.join("o.y4m"),
        &"--reconstruction",
        &d.join("r.y4m"),
        &"--qp",
        &"32",
        &"--out",
        &d.join("default"),
        &"--block",
        &"16",
        &"--zoom",
        &"2",
        &"--downscale",
        &"2",
        &"--luma-only",
        &"--gain",
        &"32",
        &"--title",
        &"a title",
        &"--matrix",
        &"bt601",
        &"--range",
        &"full",
    ]));
    assert_eq!(files_in(&d.join("default")).len(), 3);
}

#[test]
fn look_reads_png_stills() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let img = rgb_image(40, 30);
    img.save(d.join("o.png")).unwrap();
    let mut worse = img.clone();
    for p in worse.pixels_mut() {
        p.0[1] = p.0[1].saturating_add(3);
    }
    worse.save(d.join("r.png")).unwrap();
    for (depth, expect) in [(None, 10), (Some("8"), 8)] {
        let mut a = args(&[
            &"look",
            &"--original",
            &d.join("o.png"),
            &"--reconstruction",
            &d.join("r.png"),
            &"--qp",
            &"30",
            &"--out",
            &d.join("out"),
            &"--json",
        ]);
        if let Some(b) = depth {
            a.extend(["--bit-depth".into(), b.into()]);
        }
        let json: serde_json::Value = serde_json::from_str(&ok(&a)).unwrap();
        assert_eq!(json["summary"]["bit_depth"], expect);
        assert_eq!(json["summary"]["width"], 40);
        assert!(
            json["summary"]["psnr_reconstruction"]["y"]
                .as_f64()
                .unwrap()
                < 60.0
        );
    }
}

// ---------------------------------------------------------------------------------------------
// filter on stills

#[test]
fn filter_converts_png_and_jpeg_stills_to_png_and_y4m() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = identity_lut(d);
    // A grey gradient: neutral chroma, so 4:2:0 loses nothing; full range 8 bit is within 1.
    let grey = RgbImage::from_fn(33, 17, |x, y| {
        let v = (x * 7 + y * 3) as u8;
        Rgb([v, v, v])
    });
    grey.save(d.join("grey.png")).unwrap();
    ok(&args(&[
        &"filter",
        &d.join("grey.png"),
        &d.join("grey_out.png"),
        &"--lut",
        &id,
        &"--bit-depth",
        &"8",
        &"--range",
        &"full",
    ]));
    let back = image::open(d.join("grey_out.png")).unwrap();
    assert_eq!(back.color(), image::ColorType::Rgb8);
    let back = back.to_rgb8();
    assert_eq!(back.dimensions(), (33, 17));
    for (a, b) in grey.as_raw().iter().zip(back.as_raw()) {
        assert!(a.abs_diff(*b) <= 1);
    }

    // To Y4M at the default 10 bit, limited range, BT.709: the library's conversion exactly.
    let img = rgb_image(20, 10);
    img.save(d.join("c.png")).unwrap();
    ok(&args(&[
        &"filter",
        &d.join("c.png"),
        &d.join("c.y4m"),
        &"--lut",
        &id,
        &"--quiet",
    ]));
    let (header, frames) = read_y4m(&d.join("c.y4m"));
    assert_eq!(
        header,
        "YUV4MPEG2 W20 H10 F25:1 Ip A1:1 C420p10 XCOLORRANGE=LIMITED"
    );
    let expect = color::from_rgb8(&img, 10, ChromaFormat::Yuv420, ColorSpec::default()).unwrap();
    assert_eq!(frames, vec![expect.planes.clone()]);

    // A 10-bit one-frame Y4M to a 16-bit PNG, and back: the samples survive.
    write_y4m(&d.join("ten.y4m"), 20, 10, 10, &frames);
    ok(&args(&[
        &"filter",
        &d.join("ten.y4m"),
        &d.join("ten.png"),
        &"--lut",
        &id,
    ]));
    let deep = image::open(d.join("ten.png")).unwrap();
    assert_eq!(deep.color(), image::ColorType::Rgb16);
    ok(&args(&[
        &"filter",
        &d.join("ten.png"),
        &d.join("ten_back.y4m"),
        &"--lut",
        &id,
    ]));
    let (_, again) = read_y4m(&d.join("ten_back.y4m"));
    for (a, b) in frames[0].iter().flatten().zip(again[0].iter().flatten()) {
        assert!(a.abs_diff(*b) <= 1, "{a} vs {b}");
    }

    // JPEG input (magic bytes, whatever the name), filtered by the embedded default.
    img.save_with_format(d.join("photo.data"), image::ImageFormat::Jpeg)
        .unwrap();
    let text = ok(&args(&[
        &"filter",
        &d.join("photo.data"),
        &d.join("photo.png"),
        &"--qp",
        &"37",
        &"--matrix",
        &"bt601",
    ]));
    assert!(text.contains("10-bit") && text.contains("Bt601"), "{text}");
    assert_eq!(
        image::open(d.join("photo.png")).unwrap().color(),
        image::ColorType::Rgb16
    );
}

// ---------------------------------------------------------------------------------------------
// Bad inputs

struct Case {
    name: &'static str,
    args: Vec<OsString>,
    expect: &'static str,
    code: i32,
}

#[test]
fn bad_inputs_fail_cleanly_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = |n: &str| d.join(n);
    write_y4m(
        &p("a.y4m"),
        32,
        16,
        8,
        &[frame(0, 32, 16, 8), frame(1, 32, 16, 8)],
    );
    write_y4m(&p("small.y4m"), 16, 16, 8, &[frame(0, 16, 16, 8)]);
    let mut c444 = b"YUV4MPEG2 W32 H16 F25:1 C444\nFRAME\n".to_vec();
    c444.extend(std::iter::repeat_n(100u8, 32 * 16 * 3));
    std::fs::write(p("c444.y4m"), c444).unwrap();
    std::fs::write(p("text.png"), "this is not a picture\n").unwrap();
    rgb_image(32, 16).save(p("still.png")).unwrap();
    let png = std::fs::read(p("still.png")).unwrap();
    std::fs::write(p("cut.png"), &png[..png.len() / 2]).unwrap();
    std::fs::write(p("a_file"), "x").unwrap();
    let out = p("out");
    let look = |o: &str, r: &str, extra: &[&str]| -> Vec<OsString> {
        let mut v = args(&[
            &"look",
            &"--original",
            &p(o),
            &"--reconstruction",
            &p(r),
            &"--out",
            &out,
        ]);
        // File arguments name files in the test folder.
        v.extend(extra.iter().map(|e| {
            if e.ends_with(".y4m") {
                p(e).into_os_string()
            } else {
                OsString::from(e)
            }
        }));
        v
    };
    let filter = |i: &str, o: &str, extra: &[&str]| -> Vec<OsString> {
        let mut v = args(&[&"filter", &p(i), &out.join(o)]);
        v.extend(extra.iter().map(OsString::from));
        v
    };
    let cases = vec![
        Case {
            name: "mismatched sizes",
            args: look("a.y4m", "small.y4m", &["--filtered", "small.y4m"]),
            expect: "picture sizes differ: the original is 32x16, the reconstruction 16x16",
            code: 1,
        },
        Case {
            name: "mismatched chroma formats",
            args: look("a.y4m", "c444.y4m", &["--filtered", "c444.y4m"]),
            expect: "chroma formats differ",
            code: 1,
        },
        Case {
            name: "frame out of range",
            args: look("a.y4m", "a.y4m", &["--qp", "32", "--frame", "2"]),
            expect: "--frame 2 is out of range",
            code: 2,
        },
        Case {
            name: "frame of a still",
            args: look("still.png", "still.png", &["--qp", "32", "--frame", "1"]),
            expect: "is a still picture (frame 0 only)",
            code: 2,
        },
        Case {
            name: "non-image file",
            args: look("text.png", "a.y4m", &["--qp", "32"]),
            expect: "not a readable PNG or JPEG image",
            code: 1,
        },
        Case {
            name: "truncated PNG",
            args: look("cut.png", "still.png", &["--qp", "32"]),
            expect: "not a readable PNG or JPEG image",
            code: 1,
        },
        Case {
            name: "no way to get the filtered picture",
            args: look("a.y4m", "a.y4m", &[]),
            expect: "give --filtered FILE, or --qp N",
            code: 2,
        },
        Case {
            name: "--filtered with --qp",
            args: look("a.y4m", "a.y4m", &["--qp", "32", "--filtered", "x.y4m"]),
            expect: "cannot be used with",
            code: 2,
        },
        Case {
            name: "bad block size",
            args: look("a.y4m", "a.y4m", &["--qp", "32", "--block", "12"]),
            expect: "invalid value '12' for '--block <N>'",
            code: 2,
        },
        Case {
            name: "out is a file",
            args: {
                let mut v = look("a.y4m", "a.y4m", &["--qp", "32"]);
                let at = v.iter().position(|a| a == "--out").unwrap();
                v[at + 1] = p("a_file").into();
                v
            },
            expect: "writing pictures into",
            code: 1,
        },
        Case {
            name: "still to an unknown output",
            args: filter("still.png", "x.yuv", &[]),
            expect: "must end in .png or .y4m",
            code: 2,
        },
        Case {
            name: "video to PNG",
            args: filter("a.y4m", "x.png", &[]),
            expect: "holds 2 frames; PNG output takes a Y4M file of one frame",
            code: 2,
        },
        Case {
            name: "--bit-depth with Y4M input",
            args: filter("a.y4m", "x.y4m", &["--bit-depth", "8"]),
            expect: "--bit-depth applies to PNG/JPEG input only",
            code: 2,
        },
        Case {
            name: "--range with Y4M in and out",
            args: filter("a.y4m", "x.y4m", &["--range", "full"]),
            expect: "--matrix and --range apply to PNG/JPEG input or output only",
            code: 2,
        },
        Case {
            name: "filter a non-image .png",
            args: filter("text.png", "x.png", &[]),
            expect: "not a readable PNG or JPEG image",
            code: 1,
        },
        Case {
            name: "bad still bit depth",
            args: filter("still.png", "x.png", &["--bit-depth", "16"]),
            expect: "invalid value '16' for '--bit-depth <B>'",
            code: 2,
        },
    ];
    for case in cases {
        // `filter` writes into `out/`, which exists; `look` must not create it.
        if case.args[0] == "filter" {
            std::fs::create_dir_all(&out).unwrap();
        } else if out.exists() {
            std::fs::remove_dir_all(&out).unwrap();
        }
        let before = files_in(d);
        let o = run(&case.args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(case.code), "{}: {stderr}", case.name);
        assert!(
            stderr.contains(case.expect),
            "{}: expected '{}' in: {stderr}",
            case.name,
            case.expect
        );
        assert!(
            stderr.lines().count() == 1 || case.code == 2,
            "{}: {stderr}",
            case.name
        );
        assert_eq!(files_in(d), before, "{}: files left behind", case.name);
        if case.args[0] == "filter" {
            assert!(files_in(&out).is_empty(), "{}: output left", case.name);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Round-trip loss on real frames (measured; printed with --nocapture)

/// The first frame of an 8-bit 4:2:0 corpus original.
fn corpus_frame(name: &str) -> Option<(usize, usize, Planes)> {
    let path = Path::new(SHARED_DATA)
        .join("orig")
        .join(format!("{name}.y4m"));
    if !path.exists() {
        return None;
    }
    let (_, frames) = read_y4m(&path);
    let header = std::fs::read(&path).unwrap();
    let line =
        String::from_utf8_lossy(&header[..header.iter().position(|&b| b == b'\n')?]).into_owned();
    let num = |p: char| -> Option<usize> {
        line.split(' ')
            .find_map(|t| t.strip_prefix(p).and_then(|v| v.parse().ok()))
    };
    Some((num('W')?, num('H')?, frames.into_iter().next()?))
}

/// Prints max / mean |error| of R'G'B' 8-bit -> Y'CbCr -> R'G'B' 8-bit over `rgbs` for each
/// range, chroma format and bit depth (BT.601); checks the 4:4:4 bounds.
fn measure_round_trip(what: &str, rgbs: &[RgbImage]) {
    eprintln!("R'G'B' 8-bit -> Y'CbCr (BT.601) -> R'G'B' 8-bit, over {what}:");
    eprintln!(
        "{:<8} {:<7} {:>5} {:>9} {:>9} {:>12}",
        "range", "chroma", "bits", "max |e|", "mean |e|", "share e != 0"
    );
    for (range, chroma, depth, bound) in [
        (Range::Full, ChromaFormat::Yuv444, 8, Some(1)),
        (Range::Limited, ChromaFormat::Yuv444, 8, Some(2)),
        (Range::Full, ChromaFormat::Yuv444, 10, Some(1)),
        (Range::Limited, ChromaFormat::Yuv444, 10, Some(1)),
        (Range::Full, ChromaFormat::Yuv420, 8, None),
        (Range::Limited, ChromaFormat::Yuv420, 8, None),
        (Range::Full, ChromaFormat::Yuv420, 10, None),
        (Range::Limited, ChromaFormat::Yuv420, 10, None),
    ] {
        let spec = ColorSpec {
            matrix: Matrix::Bt601,
            range,
        };
        let (mut max, mut sum, mut wrong, mut n) = (0u8, 0u64, 0u64, 0u64);
        for rgb in rgbs {
            let yuv = color::from_rgb8(rgb, depth, chroma, spec).unwrap();
            let back = color::to_rgb8(&yuv.picture().unwrap(), spec).unwrap();
            for (a, b) in rgb.as_raw().iter().zip(back.as_raw()) {
                let e = a.abs_diff(*b);
                max = max.max(e);
                sum += u64::from(e);
                wrong += u64::from(e > 0);
                n += 1;
            }
        }
        eprintln!(
            "{:<8} {:<7} {depth:>5} {max:>9} {:>9.4} {:>11.2}%",
            format!("{range:?}"),
            format!("{chroma:?}"),
            sum as f64 / n as f64,
            100.0 * wrong as f64 / n as f64
        );
        if let Some(bound) = bound {
            assert!(
                max <= bound,
                "{range:?} {chroma:?} {depth}: max error {max}"
            );
        }
    }
}

#[test]
fn round_trip_loss_on_real_frames() {
    // Real R'G'B' photos, when named in LUT_LOOK_PNGS (paths separated by ':').
    if let Some(list) = std::env::var_os("LUT_LOOK_PNGS") {
        let rgbs: Vec<RgbImage> = std::env::split_paths(&list)
            .map(|p| {
                image::open(&p)
                    .expect("LUT_LOOK_PNGS names images")
                    .to_rgb8()
            })
            .collect();
        measure_round_trip(&format!("{list:?}"), &rgbs);
    }
    let names = [
        "foreman",
        "vid4_city",
        "skimage_coffee",
        "wesaturate_bliznaca",
    ];
    // The corpus' 8-bit originals are BT.601 limited range 4:2:0: their R'G'B' (chroma
    // repeated over each 2x2 block) stands in for a photo. It flatters limited range and 4:2:0.
    let source = ColorSpec {
        matrix: Matrix::Bt601,
        range: Range::Limited,
    };
    let mut rgbs = Vec::new();
    for name in names {
        let Some((w, h, planes)) = corpus_frame(name) else {
            eprintln!("skipped: {SHARED_DATA}/orig/{name}.y4m is absent");
            return;
        };
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let pic = Picture::new(
            Plane::new(&planes[0], w, w, h).unwrap(),
            Some(Plane::new(&planes[1], cw, cw, ch).unwrap()),
            Some(Plane::new(&planes[2], cw, cw, ch).unwrap()),
            ChromaFormat::Yuv420,
            8,
        )
        .unwrap();
        rgbs.push(color::to_rgb8(&pic, source).unwrap());
    }
    measure_round_trip(&format!("frame 0 of the corpus originals {names:?}"), &rgbs);
}
