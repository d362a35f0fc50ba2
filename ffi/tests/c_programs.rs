//! Builds and runs the C11 and C++17 test programs in `tests/c/` against the static and the
//! shared library, with the embedded default container and with a non-identity container
//! written here; then checks the C program's filtered output bit for bit against the Rust API.
//!
//! Where the libraries come from: `cargo test` compiles this package's library target once,
//! with every crate type of `[lib] crate-type` (lib, staticlib, cdylib), into the `deps/`
//! folder next to this test executable (and copies them one level up). So the test finds
//! `liblutfilter.a` / `liblutfilter.so` in `deps/` from `std::env::current_exe()` — always the
//! build of the current sources, for any profile or `--target` (the copies one level up are
//! refreshed only by `cargo build` and may be stale) — and never runs a nested cargo (which
//! would wait forever on the build-directory lock held by the outer `cargo test`).
//!
//! Compilers: `$CC` / `$CXX`, else `gcc` / `g++`. Set `LUTF_SKIP_C_TESTS=1` to skip where no C
//! compiler is installed.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Command;

use lut_filter::description::presets;
use lut_filter::{
    ChromaFormat, Component, Container, ContainerWriter, Picture, Plane, PlaneMut, TableLayout,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const STRICT: &[&str] = &[
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
    "-Wundef",
    "-O1",
    "-g",
];

/// Native libraries a Rust static library needs on this platform (`rustc --print
/// native-static-libs`).
fn native_libs() -> &'static [&'static str] {
    if cfg!(target_os = "macos") {
        &["-lSystem", "-lc", "-lm"]
    } else {
        &["-lpthread", "-ldl", "-lm"]
    }
}

fn shared_name() -> &'static str {
    if cfg!(target_os = "macos") {
        "liblutfilter.dylib"
    } else {
        "liblutfilter.so"
    }
}

/// The folder holding this build's `liblutfilter.a` and shared library.
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps folder").to_path_buf();
    for dir in [
        deps.clone(),
        deps.parent().expect("profile folder").to_path_buf(),
    ] {
        if dir.join("liblutfilter.a").is_file() && dir.join(shared_name()).is_file() {
            return dir;
        }
    }
    panic!(
        "liblutfilter.a / {} not found next to {} (cargo builds them with the library \
         target; run `cargo build -p lut-filter-ffi` with the same profile)",
        shared_name(),
        exe.display()
    );
}

/// A command running a test program that loads the shared library from `lib_dir` only.
///
/// `cargo test` puts the profile folder on `LD_LIBRARY_PATH`, and that folder may hold an older
/// `liblutfilter.so` (only `cargo build` refreshes it): the loader would prefer it to the
/// program's rpath. So the search path is replaced by the folder the program was linked with.
fn program(exe: &Path, lib_dir: &Path) -> Command {
    let mut cmd = Command::new(exe);
    cmd.env("LD_LIBRARY_PATH", lib_dir)
        .env("DYLD_LIBRARY_PATH", lib_dir);
    cmd
}

fn skip() -> bool {
    if std::env::var_os("LUTF_SKIP_C_TESTS").is_some() {
        eprintln!("LUTF_SKIP_C_TESTS is set: C/C++ programs not built");
        return true;
    }
    false
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (set LUTF_SKIP_C_TESTS=1 to skip)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{text}",
        out.status
    );
    text
}

#[derive(Clone, Copy, Debug)]
enum Link {
    Static,
    Shared,
}

/// Compiles `source` (C11 or C++17 by extension) against the library; returns the executable.
fn build(source: &str, link: Link, out_dir: &Path) -> PathBuf {
    build_with(source, link, out_dir, &[])
}

/// [`build`] with extra compiler arguments (e.g. `-pthread`).
fn build_with(source: &str, link: Link, out_dir: &Path, extra: &[&str]) -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib_dir = library_dir();
    let cpp = source.ends_with(".cpp");
    let compiler = if cpp {
        std::env::var("CXX").unwrap_or_else(|_| "g++".into())
    } else {
        std::env::var("CC").unwrap_or_else(|_| "gcc".into())
    };
    let exe = out_dir.join(format!(
        "{}-{}",
        source.replace('.', "_"),
        format!("{link:?}").to_lowercase()
    ));
    let mut cmd = Command::new(&compiler);
    cmd.arg(if cpp { "-std=c++17" } else { "-std=c11" })
        .args(STRICT)
        .args(extra)
        .arg("-I")
        .arg(crate_dir.join("include"))
        .arg(crate_dir.join("tests/c").join(source))
        .arg("-o")
        .arg(&exe);
    match link {
        Link::Static => {
            cmd.arg(lib_dir.join("liblutfilter.a")).args(native_libs());
        }
        Link::Shared => {
            cmd.arg("-L")
                .arg(&lib_dir)
                .arg("-llutfilter")
                .arg(format!("-Wl,-rpath,{}", lib_dir.display()));
        }
    }
    run(&mut cmd);
    exe
}

/// A container whose models change the picture: the three architectures of the family with
/// random tables, two QP ranges for luma and V.
fn write_random_container(path: &Path) {
    let mut rng = ChaCha8Rng::seed_from_u64(0x1f_f1);
    let dfc = TableLayout::Dfc {
        dims: 4,
        dw: 3,
        si: 5,
    };
    let (scale, shift) = (1 << 12, 16);
    let models = vec![
        presets::luma_reference("y-rf1", [30, 40], dfc, scale, shift),
        presets::cascade(
            "y-fast",
            Component::Y,
            [0, 29],
            2,
            TableLayout::Regular,
            scale,
            shift,
        ),
        presets::chroma_cross_component("u-cc", Component::U, [0, 63], dfc, scale, shift),
        presets::chroma_cross_component("v-cc", Component::V, [30, 63], dfc, scale, shift),
        presets::cascade("v-fast", Component::V, [0, 29], 3, dfc, scale, shift),
    ];
    let mut w = ContainerWriter::new();
    for m in models {
        w.add_model(m, |req| {
            let n: usize = req.shape.iter().product();
            (0..n).map(|_| rng.gen_range(-127i8..=127)).collect()
        })
        .expect("valid model");
    }
    w.write(path).expect("container written");
}

/// Checks the C program's dump against `Container::open` + `select` + `filter_plane`.
fn compare_dump(container: &Path, dump: &Path) {
    let bytes = std::fs::read(dump).expect("dump written by the C program");
    let int = |i: usize| i32::from_ne_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap());
    let (w, h, format, bit_depth, qp) = (
        int(0) as usize,
        int(1) as usize,
        int(2),
        int(3) as u8,
        int(4),
    );
    assert_eq!(format, 1, "the C program writes 4:2:0");
    let format = ChromaFormat::Yuv420;
    let (cw, ch) = format.chroma_size(w, h);
    let sizes = [(w, h), (cw, ch), (cw, ch)];
    let mut samples = bytes[20..]
        .chunks_exact(2)
        .map(|b| i16::from_ne_bytes([b[0], b[1]]));
    let mut take =
        |(pw, ph): (usize, usize)| -> Vec<i16> { samples.by_ref().take(pw * ph).collect() };
    let input: Vec<Vec<i16>> = sizes.iter().map(|&s| take(s)).collect();
    let output: Vec<Vec<i16>> = sizes.iter().map(|&s| take(s)).collect();
    assert!(samples.next().is_none(), "dump longer than expected");
    for (c, plane) in output.iter().enumerate() {
        assert_eq!(plane.len(), sizes[c].0 * sizes[c].1, "dump too short");
    }

    let planes: Vec<Plane<'_, i16>> = input
        .iter()
        .zip(sizes)
        .map(|(d, (pw, ph))| Plane::new(d, pw, pw, ph).unwrap())
        .collect();
    let pic = Picture::new(
        planes[0],
        Some(planes[1]),
        Some(planes[2]),
        format,
        bit_depth,
    )
    .unwrap();
    let container = Container::open(container).unwrap();
    let mut changed = 0;
    for (c, comp) in Component::ALL.into_iter().enumerate() {
        let (pw, ph) = sizes[c];
        let mut expected = vec![0i16; pw * ph];
        let model = container.select(comp, qp).expect("a model per component");
        model
            .filter_plane(&pic, &mut PlaneMut::new(&mut expected, pw, pw, ph).unwrap())
            .unwrap();
        let first_diff = expected.iter().zip(&output[c]).position(|(a, b)| a != b);
        assert!(
            first_diff.is_none(),
            "component {comp}: C output differs from the Rust API at sample {:?}",
            first_diff.map(|i| (i % pw, i / pw))
        );
        changed += expected
            .iter()
            .zip(&input[c])
            .filter(|(a, b)| a != b)
            .count();
    }
    assert!(
        changed > 0,
        "the random container should change the picture"
    );
}

#[test]
fn c_and_cpp_programs_pass_against_static_and_shared_library() {
    if skip() {
        return;
    }
    let temp = tempfile::tempdir().expect("temporary directory");
    let container = temp.path().join("random.lut");
    write_random_container(&container);

    for link in [Link::Static, Link::Shared] {
        let c = build("api_test.c", link, temp.path());
        let dump = temp.path().join(format!("dump-{link:?}.bin"));
        let out = run(program(&c, &library_dir()).arg(&container).arg(&dump));
        assert!(out.contains("all checks passed"), "{out}");
        compare_dump(&container, &dump);

        let cpp = build("api_test.cpp", link, temp.path());
        let out = run(program(&cpp, &library_dir()).arg(&container));
        assert!(out.contains("all checks passed"), "{out}");
    }
}

/// `tests/c/concurrency_test.c`: 8 pthreads filtering six pictures through one shared context
/// (whole planes, CTUs, strips) while the main thread changes the context's thread count, each
/// result equal to a single-threaded run; then open/filter/close cycles with VmRSS flat. Kept
/// small here (a few seconds); docs/robustness.md has the long runs and the valgrind and
/// sanitizer commands.
#[test]
fn many_threads_share_one_context_and_memory_stays_flat() {
    if skip() {
        return;
    }
    let temp = tempfile::tempdir().expect("temporary directory");
    let container = temp.path().join("random.lut");
    write_random_container(&container);
    // (link, container, worker threads, rounds, open/filter/close cycles)
    let default = std::ffi::OsStr::new("-");
    let runs = [
        (Link::Static, default, "8", "2", "100"),
        (Link::Static, container.as_os_str(), "4", "1", "10"),
        (Link::Shared, default, "8", "1", "20"),
    ];
    let static_exe = build_with(
        "concurrency_test.c",
        Link::Static,
        temp.path(),
        &["-pthread"],
    );
    let shared_exe = build_with(
        "concurrency_test.c",
        Link::Shared,
        temp.path(),
        &["-pthread"],
    );
    for (link, source, threads, rounds, cycles) in runs {
        let exe = match link {
            Link::Static => &static_exe,
            Link::Shared => &shared_exe,
        };
        let start = std::time::Instant::now();
        let out = run(program(exe, &library_dir())
            .arg(source)
            .args([threads, rounds, cycles]));
        eprintln!(
            "{link:?} {source:?}: {:.1} s\n{out}",
            start.elapsed().as_secs_f64()
        );
        assert!(out.contains("0 mismatches, 0 failures"), "{out}");
        assert!(out.contains("all checks passed"), "{out}");
    }
}

#[test]
fn installed_library_links_through_pkg_config() {
    if skip() {
        return;
    }
    if Command::new("pkg-config")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("pkg-config is not installed: install test skipped");
        return;
    }
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let temp = tempfile::tempdir().expect("temporary directory");
    let prefix = temp.path().join("prefix");
    run(Command::new("sh")
        .arg(crate_dir.join("scripts/install.sh"))
        .arg(&prefix)
        .arg(library_dir()));
    let flags = run(Command::new("pkg-config")
        .args(["--cflags", "--libs", "lutfilter"])
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig")));
    assert!(flags.contains("-llutfilter"), "{flags}");
    let exe = temp.path().join("api_test_pc");
    let cc = std::env::var("CC").unwrap_or_else(|_| "gcc".into());
    run(Command::new(cc)
        .arg("-std=c11")
        .args(STRICT)
        .arg(crate_dir.join("tests/c/api_test.c"))
        .arg("-o")
        .arg(&exe)
        .args(flags.split_whitespace())
        .arg(format!("-Wl,-rpath,{}", prefix.join("lib").display())));
    let out = run(&mut program(&exe, &prefix.join("lib")));
    assert!(out.contains("all checks passed"), "{out}");
}
