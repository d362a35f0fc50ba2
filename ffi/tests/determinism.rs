//! The C ABI (called through its Rust `extern "C"` functions) gives bit-for-bit the Rust API's
//! output: for the embedded default and a random non-identity container, `int16_t`, `uint16_t`
//! and `uint8_t` samples, every chroma format, strides wider than the planes, whole planes and
//! CTU by CTU, for context thread settings 1, 2, 3 and 8.

use std::ffi::CStr;

use lut_filter::description::presets;
use lut_filter::{
    ChromaFormat, Component, Container, ContainerWriter, Picture, Plane, PlaneMut, Region, Sample,
    TableLayout,
};
use lutfilter::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// An open C context, closed on drop.
struct Ctx(*mut lutf_ctx);

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: the pointer came from a lutf_open_* call and is closed once.
        unsafe { lutf_close(self.0) };
    }
}

fn last_error() -> String {
    // SAFETY: never NULL, NUL-terminated.
    unsafe { CStr::from_ptr(lutf_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn open_default() -> Ctx {
    let mut ctx = std::ptr::null_mut();
    // SAFETY: ctx is writable.
    let s = unsafe { lutf_open_default(&mut ctx) };
    assert_eq!(s, lutf_status::LUTF_OK, "{}", last_error());
    Ctx(ctx)
}

fn open_memory(bytes: &[u8]) -> Ctx {
    let mut ctx = std::ptr::null_mut();
    // SAFETY: bytes is readable for its length; ctx is writable.
    let s = unsafe { lutf_open_memory(bytes.as_ptr().cast(), bytes.len(), &mut ctx) };
    assert_eq!(s, lutf_status::LUTF_OK, "{}", last_error());
    Ctx(ctx)
}

/// The three architectures of the family with random tables (changes every component).
fn random_container_bytes() -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(0xc0ffee);
    let dfc = TableLayout::Dfc {
        dims: 3,
        dw: 2,
        si: 6,
    };
    let models = vec![
        presets::luma_reference("y-rf1", [30, 40], dfc, 1 << 12, 16),
        presets::cascade(
            "y-fast",
            Component::Y,
            [0, 29],
            2,
            TableLayout::Regular,
            1 << 12,
            16,
        ),
        presets::chroma_cross_component("u-cc", Component::U, [0, 63], dfc, -(1 << 12), 16),
        presets::cascade("v", Component::V, [0, 63], 1, dfc, 1 << 13, 16),
    ];
    let mut w = ContainerWriter::new();
    for m in models {
        w.add_model(m, |req| {
            let n: usize = req.shape.iter().product();
            (0..n).map(|_| rng.gen_range(-127i8..=127)).collect()
        })
        .unwrap();
    }
    w.to_bytes().unwrap()
}

/// Samples the C filter entry point of each type takes.
trait CSample: Sample + Default + PartialEq {
    /// # Safety
    /// As `lutf_filter_i16`.
    unsafe fn filter(
        ctx: *const lutf_ctx,
        pic: *const lutf_picture,
        comp: i32,
        qp: i32,
        region: *const lutf_region,
        dst: *mut Self,
        stride: isize,
    ) -> lutf_status;
}

macro_rules! c_sample {
    ($t:ty, $f:ident) => {
        impl CSample for $t {
            unsafe fn filter(
                ctx: *const lutf_ctx,
                pic: *const lutf_picture,
                comp: i32,
                qp: i32,
                region: *const lutf_region,
                dst: *mut Self,
                stride: isize,
            ) -> lutf_status {
                // SAFETY: forwarded caller guarantees.
                unsafe { $f(ctx, pic, comp, qp, region, dst, stride) }
            }
        }
    };
}
c_sample!(i16, lutf_filter_i16);
c_sample!(u16, lutf_filter_u16);
c_sample!(u8, lutf_filter_u8);

/// A picture with planes `(data, stride, width, height)`.
struct Pic<T> {
    planes: Vec<(Vec<T>, usize, usize, usize)>,
    format: ChromaFormat,
    bit_depth: u8,
}

impl<T: CSample> Pic<T> {
    fn random(rng: &mut ChaCha8Rng, w: usize, h: usize, format: ChromaFormat, bd: u8) -> Self {
        let (cw, ch) = format.chroma_size(w, h);
        let count = if format == ChromaFormat::Yuv400 { 1 } else { 3 };
        let max = (1i32 << bd) - 1;
        let planes = (0..count)
            .map(|c| {
                let (pw, ph) = if c == 0 { (w, h) } else { (cw, ch) };
                let stride = pw + rng.gen_range(0..9);
                let data = (0..stride * ph)
                    .map(|i| {
                        let (x, y) = ((i % stride) as i32, (i / stride) as i32);
                        let base = (x * 5 + y * 3) * max / (5 * pw as i32 + 3 * ph as i32);
                        T::from_i32((base + rng.gen_range(-20..=20)).clamp(0, max))
                    })
                    .collect();
                (data, stride, pw, ph)
            })
            .collect();
        Pic {
            planes,
            format,
            bit_depth: bd,
        }
    }

    fn c_picture(&self) -> lutf_picture {
        let (_, _, w, h) = self.planes[0];
        lutf_picture {
            planes: std::array::from_fn(|c| {
                self.planes
                    .get(c)
                    .map_or(std::ptr::null(), |p| p.0.as_ptr().cast())
            }),
            strides: std::array::from_fn(|c| self.planes.get(c).map_or(0, |p| p.1 as isize)),
            width: w as i32,
            height: h as i32,
            chroma_format: match self.format {
                ChromaFormat::Yuv400 => 0,
                ChromaFormat::Yuv420 => 1,
                ChromaFormat::Yuv422 => 2,
                ChromaFormat::Yuv444 => 3,
            },
            bit_depth: i32::from(self.bit_depth),
        }
    }

    fn rust_picture(&self) -> Picture<'_, T> {
        let p = |c: usize| {
            self.planes
                .get(c)
                .map(|(d, s, w, h)| Plane::new(d, *s, *w, *h).unwrap())
        };
        Picture::new(p(0).unwrap(), p(1), p(2), self.format, self.bit_depth).unwrap()
    }
}

/// The Rust API's plane for `comp` (a copy of the source where the container has no model).
fn rust_output<T: CSample>(
    container: &Container,
    pic: &Pic<T>,
    comp: Component,
    qp: i32,
) -> Vec<T> {
    let view = pic.rust_picture();
    let (data, stride, w, h) = &pic.planes[comp.index()];
    let mut out = vec![T::default(); w * h];
    match container.select(comp, qp) {
        Some(model) => model
            .filter_plane(&view, &mut PlaneMut::new(&mut out, *w, *w, *h).unwrap())
            .unwrap(),
        None => {
            for y in 0..*h {
                out[y * w..][..*w].copy_from_slice(&data[y * stride..][..*w]);
            }
        }
    }
    out
}

/// The C API's plane for `comp`, whole or CTU by CTU, into a destination with its own stride.
fn c_output<T: CSample>(
    ctx: &Ctx,
    pic: &Pic<T>,
    comp: Component,
    qp: i32,
    ctu: Option<usize>,
) -> Vec<T> {
    let (_, _, w, h) = pic.planes[comp.index()];
    let stride = w + 3;
    let mut dst = vec![T::from_i32(0x33); stride * h];
    let c_pic = pic.c_picture();
    let regions = match ctu {
        None => vec![None],
        Some(size) => Region::blocks(w, h, size)
            .into_iter()
            .map(|r| {
                Some(lutf_region {
                    x: r.x as i32,
                    y: r.y as i32,
                    width: r.width as i32,
                    height: r.height as i32,
                })
            })
            .collect(),
    };
    for r in &regions {
        let rp = r
            .as_ref()
            .map_or(std::ptr::null(), |r| r as *const lutf_region);
        // SAFETY: the picture's planes span their geometry; dst spans `stride * h` samples.
        let s = unsafe {
            T::filter(
                ctx.0,
                &c_pic,
                comp.index() as i32,
                qp,
                rp,
                dst.as_mut_ptr(),
                stride as isize,
            )
        };
        assert!((s as i32) >= 0, "{s:?}: {}", last_error());
    }
    (0..h)
        .flat_map(|y| dst[y * stride..][..w].to_vec())
        .collect()
}

fn set_threads(ctx: &Ctx, n: i32) {
    // SAFETY: live context.
    let s = unsafe { lutf_set_threads(ctx.0, n) };
    assert_eq!(s, lutf_status::LUTF_OK, "{}", last_error());
}

fn compare_all<T: CSample>(rng: &mut ChaCha8Rng, ctx: &Ctx, container: &Container, label: &str) {
    let formats = [
        ChromaFormat::Yuv420,
        ChromaFormat::Yuv422,
        ChromaFormat::Yuv444,
        ChromaFormat::Yuv400,
    ];
    let max_bd = T::MAX_BIT_DEPTH;
    for (i, format) in formats.into_iter().enumerate() {
        let bd = if max_bd == 8 { 8 } else { [10, 8, 12, 10][i] };
        let (w, h) = ([136, 67, 33, 130][i], [72, 129, 17, 5][i]);
        let pic = Pic::<T>::random(rng, w, h, format, bd);
        for comp in Component::ALL {
            if comp.index() >= pic.planes.len() {
                continue;
            }
            let qp = [22, 32, 37, 45][(i + comp.index()) % 4];
            let expected = rust_output(container, &pic, comp, qp);
            for (threads, ctu) in [
                (1, None),
                (2, Some(64)),
                (3, Some(17)),
                (8, None),
                (8, Some(32)),
            ] {
                set_threads(ctx, threads);
                let got = c_output(ctx, &pic, comp, qp, ctu);
                let diff = got.iter().zip(&expected).position(|(a, b)| a != b);
                assert!(
                    diff.is_none(),
                    "{label}: {} {comp} {format:?} {bd}-bit qp {qp}, {threads} threads, CTU \
                     {ctu:?}: C differs from Rust at sample {diff:?}",
                    std::any::type_name::<T>()
                );
            }
        }
    }
    set_threads(ctx, 1);
}

#[test]
fn c_abi_output_equals_rust_api_on_the_default_container() {
    let ctx = open_default();
    let container = lut_filter::default_model::open().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    compare_all::<i16>(&mut rng, &ctx, &container, "default");
    compare_all::<u16>(&mut rng, &ctx, &container, "default");
    compare_all::<u8>(&mut rng, &ctx, &container, "default");
}

#[test]
fn c_abi_output_equals_rust_api_on_a_random_container() {
    let bytes = random_container_bytes();
    let ctx = open_memory(&bytes);
    let container = Container::from_bytes(bytes).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    compare_all::<i16>(&mut rng, &ctx, &container, "random");
    compare_all::<u8>(&mut rng, &ctx, &container, "random");
}

/// Files opened mapped and read into memory give the same output as the memory copy.
#[test]
fn mapped_read_and_memory_contexts_agree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("random.lut");
    let bytes = random_container_bytes();
    std::fs::write(&path, &bytes).unwrap();
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let open_file = |flags: u32| {
        let mut ctx = std::ptr::null_mut();
        // SAFETY: c_path is NUL-terminated; ctx is writable.
        let s = unsafe { lutf_open_file(c_path.as_ptr(), flags, &mut ctx) };
        assert_eq!(s, lutf_status::LUTF_OK, "{}", last_error());
        Ctx(ctx)
    };
    let ctxs = [open_file(0), open_file(LUTF_OPEN_READ), open_memory(&bytes)];
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let pic = Pic::<i16>::random(&mut rng, 96, 80, ChromaFormat::Yuv420, 10);
    for comp in Component::ALL {
        let outs: Vec<Vec<i16>> = ctxs
            .iter()
            .map(|c| c_output(c, &pic, comp, 35, None))
            .collect();
        assert!(outs.windows(2).all(|p| p[0] == p[1]), "{comp}");
    }
}
