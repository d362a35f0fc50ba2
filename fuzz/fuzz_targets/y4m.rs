//! Arbitrary bytes through the Y4M decoding path of the command line, as far as a library
//! exposes it: the `y4m` crate's decoder (header, `FRAME` lines, frame data), then the
//! library's picture checks (`Plane::new`, `Picture::new` with the geometry and bit depth the
//! header gives) and a filter call with the embedded default model on a small region.
//!
//! The command line's own reader (`lut-filter/src/bin/lut-filter/y4m_io.rs`: header pre-read,
//! truncated-frame detection, colourspace mapping) lives in the binary and is not reachable
//! from here; see docs/robustness.md for what to move into the library. The colourspace ->
//! chroma format mapping below is therefore the one fact restated here.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use lut_filter::{ChromaFormat, Container, Picture, Plane, PlaneMut, Region, Sample};
use lut_filter_fuzz::Rng;

fn default_container() -> &'static Container {
    static C: OnceLock<Container> = OnceLock::new();
    C.get_or_init(|| lut_filter::default_model::open().expect("embedded default opens"))
}

fn chroma_format(cs: y4m::Colorspace) -> Option<ChromaFormat> {
    use y4m::Colorspace as C;
    Some(match cs {
        C::Cmono | C::Cmono12 => ChromaFormat::Yuv400,
        C::C420 | C::C420p10 | C::C420p12 | C::C420jpeg | C::C420paldv | C::C420mpeg2 => {
            ChromaFormat::Yuv420
        }
        C::C422 | C::C422p10 | C::C422p12 => ChromaFormat::Yuv422,
        C::C444 | C::C444p10 | C::C444p12 => ChromaFormat::Yuv444,
        _ => return None,
    })
}

fn filter_frame<T: Sample + Default>(
    planes: [Vec<T>; 3],
    (w, h): (usize, usize),
    format: ChromaFormat,
    bit_depth: u8,
    rng: &mut Rng,
) {
    let (cw, ch) = format.chroma_size(w, h);
    // The y4m crate's plane sizes must be the library's: the CLI builds planes from them.
    assert_eq!(planes[0].len(), w * h, "luma plane size");
    let mut views = Vec::new();
    for (i, p) in planes.iter().enumerate() {
        let (pw, ph) = if i == 0 { (w, h) } else { (cw, ch) };
        if i > 0 && format == ChromaFormat::Yuv400 {
            assert!(p.is_empty(), "a mono frame has no chroma samples");
            continue;
        }
        assert_eq!(p.len(), pw * ph, "plane {i} size for {format:?} {w}x{h}");
        views.push(Plane::new(p, pw, pw, ph).expect("plane of the header's geometry"));
    }
    let pic = Picture::new(
        views[0],
        views.get(1).copied(),
        views.get(2).copied(),
        format,
        bit_depth,
    )
    .expect("picture of the header's geometry");
    let container = default_container();
    for comp in lut_filter::Component::ALL {
        let Some(plane) = pic.plane(comp) else {
            continue;
        };
        let Some(model) = container.select(comp, rng.range(0, 63) as i32) else {
            continue;
        };
        // A small region only: the default model costs tens of look-ups per sample.
        let x = rng.range(0, plane.width() - 1);
        let y = rng.range(0, plane.height() - 1);
        let rw = rng.range(1, (plane.width() - x).min(12));
        let rh = rng.range(1, (plane.height() - y).min(12));
        let mut out = vec![T::default(); rw * rh];
        let mut dst = PlaneMut::new(&mut out, rw, rw, rh).expect("region plane");
        model
            .filter_region_into(&pic, Region::new(x, y, rw, rh), &mut dst)
            .expect("the default model filters every 8-12 bit picture");
    }
}

/// Whether the header's W and H multiply without overflow (with the 3 planes of 2-byte
/// samples). The y4m crate computes plane sizes with unchecked arithmetic and panics (debug) or
/// wraps (release) on huge dimensions (docs/robustness.md, finding Y1); the command line must
/// check this before calling it. Inputs that would hit it are skipped here.
fn dimensions_fit(data: &[u8]) -> bool {
    let header = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut w: usize = 0;
    let mut h: usize = 0;
    for tag in header.split(|&b| b == b' ') {
        let value = || {
            std::str::from_utf8(&tag[1..])
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
        };
        match tag.first() {
            Some(b'W') => w = value().unwrap_or(usize::MAX),
            Some(b'H') => h = value().unwrap_or(usize::MAX),
            _ => {}
        }
    }
    w.checked_add(1)
        .and_then(|w1| h.checked_add(1).and_then(|h1| w1.checked_mul(h1)))
        .and_then(|n| n.checked_mul(6))
        .is_some()
}

fuzz_target!(|data: &[u8]| {
    if !dimensions_fit(data) {
        return;
    }
    // The CLI uses the crate's default limit (1 GiB per frame); a small one keeps the fuzzer's
    // memory bounded and exercises the same refusal path.
    let limits = y4m::Limits { bytes: 1 << 20 };
    let Ok(mut decoder) = y4m::Decoder::new_with_limits(data, limits) else {
        return;
    };
    let (w, h) = (decoder.get_width(), decoder.get_height());
    let colorspace = decoder.get_colorspace();
    let Some(format) = chroma_format(colorspace) else {
        return;
    };
    let bit_depth = decoder.get_bit_depth() as u8;
    let bytes = decoder.get_bytes_per_sample();
    assert_eq!(bytes, if bit_depth > 8 { 2 } else { 1 });
    let mut rng = Rng::new(u64::from(crc32fast::hash(data)));
    for _ in 0..4 {
        let Ok(frame) = decoder.read_frame() else {
            return;
        };
        let raw = [
            frame.get_y_plane(),
            frame.get_u_plane(),
            frame.get_v_plane(),
        ];
        if bytes == 1 {
            let planes = raw.map(<[u8]>::to_vec);
            filter_frame(planes, (w, h), format, bit_depth, &mut rng);
        } else {
            let planes = raw.map(|p| {
                p.chunks_exact(2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]))
                    .collect::<Vec<u16>>()
            });
            filter_frame(planes, (w, h), format, bit_depth, &mut rng);
        }
    }
});
