//! The C ABI, called through its Rust `extern "C"` functions with random sizes, strides,
//! regions, bit depths, chroma formats, components, QPs, NULL pointers, misaligned and aliasing
//! destinations, and random container bytes.
//!
//! Buffers are always as large as the geometry the call declares, unless that geometry is one
//! the API must refuse (stride below width, size <= 0, overflow): then a 2-sample buffer is
//! passed, and any read of it shows up under AddressSanitizer. Properties checked:
//! * no call returns `LUTF_ERR_INTERNAL` (a caught panic) or an unknown status;
//! * a failed call has a message and leaves the destination untouched;
//! * a call that uses a plane the API must refuse fails;
//! * a successful filter call writes exactly the region, bit-equal to the Rust API (or a copy of
//!   the source for `LUTF_NOT_FILTERED`);
//! * the CTU helpers' SSDs equal a direct computation and the flags match the decision.
#![no_main]

use std::ffi::{CStr, c_void};
use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{Result as ArbResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use lut_filter::{ChromaFormat, Component, Container, Picture, Plane, PlaneMut, Region, Sample};
use lut_filter_fuzz::{fix_checksum, tiny_chroma_model, tiny_container, tiny_luma_model};
use lutfilter::*;

/// Largest plane the harness allocates (samples).
const MAX_SAMPLES: usize = 1 << 14;

struct Contexts {
    /// (C context as an address, the same container opened by the Rust API).
    list: Vec<(usize, Container)>,
}

fn contexts() -> &'static Contexts {
    static C: OnceLock<Contexts> = OnceLock::new();
    C.get_or_init(|| {
        let tiny = tiny_container(
            &[
                tiny_luma_model("y", [20, 40]),
                tiny_chroma_model("u", Component::U, [0, 63]),
            ],
            7,
        );
        let mut list = Vec::new();
        let mut ctx = std::ptr::null_mut();
        // SAFETY: `tiny` addresses tiny.len() readable bytes; ctx is writable.
        let s = unsafe { lutf_open_memory(tiny.as_ptr().cast(), tiny.len(), &mut ctx) };
        assert_eq!(s, lutf_status::LUTF_OK);
        list.push((ctx as usize, Container::from_bytes(tiny).unwrap()));
        let mut ctx = std::ptr::null_mut();
        // SAFETY: ctx is writable.
        let s = unsafe { lutf_open_default(&mut ctx) };
        assert_eq!(s, lutf_status::LUTF_OK);
        list.push((ctx as usize, lut_filter::default_model::open().unwrap()));
        Contexts { list }
    })
}

fn last_error() -> String {
    // SAFETY: lutf_last_error never returns NULL; the text is NUL-terminated.
    unsafe { CStr::from_ptr(lutf_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// Checks a status: known, not internal, and explained when negative.
fn check_status(s: lutf_status) {
    let v = s as i32;
    assert!((-16..=1).contains(&v), "unknown status {v}");
    assert_ne!(
        s,
        lutf_status::LUTF_ERR_INTERNAL,
        "internal error: {}",
        last_error()
    );
    if v < 0 {
        assert!(!last_error().is_empty(), "{s:?} without a message");
    }
}

/// A size: mostly small and positive, sometimes zero, negative or huge.
fn size(u: &mut Unstructured<'_>) -> ArbResult<i32> {
    Ok(match u.int_in_range(0..=15u8)? {
        0 => 0,
        1 => -u.int_in_range(1..=i32::MAX)?,
        2 => u.int_in_range(1000..=i32::MAX)?,
        _ => u.int_in_range(1..=40)?,
    })
}

/// A stride for a plane of `width`: mostly width + a little, sometimes smaller, negative, huge.
fn stride(u: &mut Unstructured<'_>, width: i64) -> ArbResult<isize> {
    Ok(match u.int_in_range(0..=15u8)? {
        0 => width as isize - u.int_in_range(1..=3)?,
        1 => -u.int_in_range(1..=isize::MAX)?,
        2 => isize::MAX - u.int_in_range(0..=2)?,
        3 => u.int_in_range(isize::MIN..=isize::MAX)?,
        _ => width as isize + u.int_in_range(0..=5)?,
    })
}

/// Samples a plane of this declared geometry spans, when the API must accept it and the
/// harness can allocate it; `Err(true)` when the API must refuse it; `Err(false)` when it is
/// valid but too large to allocate (the input is skipped).
fn span<T>(width: i64, height: i64, stride: isize) -> Result<usize, bool> {
    if width <= 0 || height <= 0 || (stride as i64) < width {
        return Err(true);
    }
    let (w, h, s) = (width as u128, height as u128, stride as u128);
    let need = s * (h - 1) + w;
    // The API's limit: the plane's bytes fit isize (for u8 samples that is twice as many
    // samples as for 16-bit ones).
    if need * size_of::<T>() as u128 > isize::MAX as u128 {
        return Err(true);
    }
    if need > MAX_SAMPLES as u128 {
        return Err(false);
    }
    Ok(need as usize)
}

/// A plane buffer: owned samples, the declared stride and size, and whether the API must
/// refuse it.
struct Buf<T> {
    data: Vec<T>,
    stride: isize,
    width: usize,
    height: usize,
    refuse: bool,
}

fn random_samples<T: Sample + Default>(
    u: &mut Unstructured<'_>,
    n: usize,
    bit_depth: i32,
) -> ArbResult<Vec<T>> {
    let mask = if (8..=12).contains(&bit_depth) {
        (1i32 << bit_depth) - 1
    } else {
        255
    };
    let wild = u.ratio(1, 8)?;
    let seed: u64 = u.arbitrary()?;
    let mut rng = lut_filter_fuzz::Rng::new(seed);
    Ok((0..n)
        .map(|_| {
            let v = rng.next_u64() as i32;
            T::from_i32(if wild { v } else { v & mask })
        })
        .collect())
}

fn make_buf<T: Sample + Default>(
    u: &mut Unstructured<'_>,
    width: i64,
    height: i64,
    bit_depth: i32,
) -> ArbResult<Option<Buf<T>>> {
    let stride = stride(u, width)?;
    match span::<T>(width, height, stride) {
        Ok(n) => Ok(Some(Buf {
            data: random_samples(u, n, bit_depth)?,
            stride,
            width: width as usize,
            height: height as usize,
            refuse: false,
        })),
        Err(true) => Ok(Some(Buf {
            data: vec![T::default(); 2],
            stride,
            width: 0,
            height: 0,
            refuse: true,
        })),
        Err(false) => Ok(None),
    }
}

/// Calls the C filter entry point of the sample type.
trait CFilter: Sample + Default + PartialEq {
    /// # Safety
    /// The guarantees of `lutf_filter_i16`.
    unsafe fn call(
        ctx: *const lutf_ctx,
        pic: *const lutf_picture,
        comp: i32,
        qp: i32,
        region: *const lutf_region,
        dst: *mut Self,
        stride: isize,
    ) -> lutf_status;
    /// # Safety
    /// The guarantees of `lutf_ctu_rdo_i16`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn rdo(
        org: *const lutf_plane,
        rec: *const lutf_plane,
        filtered: *const lutf_plane,
        ctu: i32,
        lambda: f64,
        flag_bits: f64,
        n: i32,
        flags: *mut u8,
        off: *mut u64,
        on: *mut u64,
        decision: *mut lutf_ctu_decision,
    ) -> lutf_status;
}

macro_rules! c_filter {
    ($t:ty, $f:ident, $r:ident) => {
        impl CFilter for $t {
            unsafe fn call(
                ctx: *const lutf_ctx,
                pic: *const lutf_picture,
                comp: i32,
                qp: i32,
                region: *const lutf_region,
                dst: *mut Self,
                stride: isize,
            ) -> lutf_status {
                // SAFETY: forwarded.
                unsafe { $f(ctx, pic, comp, qp, region, dst, stride) }
            }
            unsafe fn rdo(
                org: *const lutf_plane,
                rec: *const lutf_plane,
                filtered: *const lutf_plane,
                ctu: i32,
                lambda: f64,
                flag_bits: f64,
                n: i32,
                flags: *mut u8,
                off: *mut u64,
                on: *mut u64,
                decision: *mut lutf_ctu_decision,
            ) -> lutf_status {
                // SAFETY: forwarded.
                unsafe {
                    $r(
                        org, rec, filtered, ctu, lambda, flag_bits, n, flags, off, on, decision,
                    )
                }
            }
        }
    };
}
c_filter!(u8, lutf_filter_u8, lutf_ctu_rdo_u8);
c_filter!(u16, lutf_filter_u16, lutf_ctu_rdo_u16);
c_filter!(i16, lutf_filter_i16, lutf_ctu_rdo_i16);

fn chroma_format(v: i32) -> Option<ChromaFormat> {
    Some(match v {
        0 => ChromaFormat::Yuv400,
        1 => ChromaFormat::Yuv420,
        2 => ChromaFormat::Yuv422,
        3 => ChromaFormat::Yuv444,
        _ => return None,
    })
}

fn filter_case<T: CFilter>(u: &mut Unstructured<'_>) -> ArbResult<()> {
    let ctxs = contexts();
    let which = u.int_in_range(0..=ctxs.list.len())?;
    let (ctx, container) = match ctxs.list.get(which) {
        Some((c, k)) => (*c as *const lutf_ctx, Some(k)),
        None => (std::ptr::null(), None),
    };
    let width = size(u)?;
    let height = size(u)?;
    let format_value = if u.ratio(1, 16)? {
        u.arbitrary()?
    } else {
        u.int_in_range(0..=3)?
    };
    let bit_depth = if u.ratio(1, 16)? {
        u.arbitrary()?
    } else {
        u.int_in_range(8..=12)?
    };
    let comp = if u.ratio(1, 16)? {
        u.arbitrary()?
    } else {
        u.int_in_range(0..=2)?
    };
    let qp: i32 = if u.ratio(1, 4)? {
        u.arbitrary()?
    } else {
        u.int_in_range(0..=63)?
    };
    let format = chroma_format(format_value);
    let (cw, ch) = format.map_or((1, 1), |f| {
        let (w, h) = f.chroma_size(width.max(1) as usize, height.max(1) as usize);
        (w as i64, h as i64)
    });
    let mut bufs: Vec<Buf<T>> = Vec::new();
    for c in 0..3 {
        let (w, h) = if c == 0 {
            (i64::from(width), i64::from(height))
        } else {
            (cw, ch)
        };
        let Some(b) = make_buf(u, w, h, bit_depth)? else {
            return Ok(());
        };
        bufs.push(b);
    }
    let null_plane = if u.ratio(1, 32)? {
        Some(u.int_in_range(0..=2usize)?)
    } else {
        None
    };
    let planes: [*const c_void; 3] = std::array::from_fn(|c| {
        if null_plane == Some(c) {
            std::ptr::null()
        } else {
            bufs[c].data.as_ptr().cast()
        }
    });
    let pic = lutf_picture {
        planes,
        strides: std::array::from_fn(|c| bufs[c].stride),
        width,
        height,
        chroma_format: format_value,
        bit_depth,
    };
    // Planes the call reads: luma, and chroma unless 4:0:0.
    let used = match format {
        Some(ChromaFormat::Yuv400) => 1,
        _ => 3,
    };
    let must_refuse = bufs[..used].iter().any(|b| b.refuse)
        || null_plane.is_some_and(|c| c < used)
        || format.is_none()
        || !(0..=2).contains(&comp)
        || (comp > 0 && used == 1);

    // Destination: the component's plane size, its own stride.
    let c = comp.clamp(0, 2) as usize;
    let (pw, ph) = (bufs[c].width, bufs[c].height);
    let dst_stride = stride(u, pw as i64)?;
    let (mut dst_buf, dst_refused): (Vec<T>, bool) =
        match span::<T>(pw as i64, ph as i64, dst_stride) {
            Ok(n) => (vec![T::from_i32(0x55); n + 1], false),
            Err(true) => (vec![T::from_i32(0x55); 3], true),
            // Valid but too large to allocate: the call could write it all.
            Err(false) => return Ok(()),
        };
    let dst_mode = u.int_in_range(0..=31u8)?;
    let dst_ptr: *mut T = match dst_mode {
        0 => std::ptr::null_mut(),
        1 if size_of::<T>() > 1 => dst_buf
            .as_mut_ptr()
            .cast::<u8>()
            .wrapping_add(1)
            .cast::<T>(),
        2 => bufs[c].data.as_ptr().cast_mut(),
        _ => dst_buf.as_mut_ptr(),
    };
    let special_dst = dst_mode <= 2 && !(dst_mode == 1 && size_of::<T>() == 1);

    let region = if u.ratio(1, 3)? {
        None
    } else if u.ratio(1, 8)? {
        Some(lutf_region {
            x: u.arbitrary()?,
            y: u.arbitrary()?,
            width: u.arbitrary()?,
            height: u.arbitrary()?,
        })
    } else {
        let x = u.int_in_range(0..=pw.saturating_sub(1))?;
        let y = u.int_in_range(0..=ph.saturating_sub(1))?;
        Some(lutf_region {
            x: x as i32,
            y: y as i32,
            width: u.int_in_range(1..=(pw - x).max(1))? as i32,
            height: u.int_in_range(1..=(ph - y).max(1))? as i32,
        })
    };
    let region_bad = region.is_some_and(|r| {
        let (x, y, w, h) = (
            i64::from(r.x),
            i64::from(r.y),
            i64::from(r.width),
            i64::from(r.height),
        );
        x < 0 || y < 0 || w <= 0 || h <= 0 || x + w > pw as i64 || y + h > ph as i64
    });
    let depth_bad = !(8..=i32::from(T::MAX_BIT_DEPTH)).contains(&bit_depth);
    let region_ptr = region
        .as_ref()
        .map_or(std::ptr::null(), |r| r as *const lutf_region);

    let sources: Vec<Vec<T>> = bufs.iter().map(|b| b.data.clone()).collect();
    let before = dst_buf.clone();
    // SAFETY: every plane the call may read either spans its declared geometry or has a
    // geometry the API refuses before reading; dst spans its declared geometry (or is NULL,
    // misaligned inside its buffer, or a source plane: refused before writing).
    let s = unsafe { T::call(ctx, &pic, comp, qp, region_ptr, dst_ptr, dst_stride) };
    check_status(s);
    for (b, src) in bufs.iter().zip(&sources) {
        assert!(b.data == *src, "a source plane was modified");
    }
    if (s as i32) < 0 {
        assert!(dst_buf == before, "{s:?} but the destination was written");
        return Ok(());
    }
    assert!(
        !must_refuse
            && !dst_refused
            && !special_dst
            && !region_bad
            && !depth_bad
            && container.is_some(),
        "accepted an invalid call: {s:?} {pic:?} comp {comp} dst_mode {dst_mode}"
    );
    let container = container.unwrap();
    let format = format.unwrap();
    let r = region.map_or(Region::new(0, 0, pw, ph), |r| {
        Region::new(
            r.x as usize,
            r.y as usize,
            r.width as usize,
            r.height as usize,
        )
    });
    let stride_u = dst_stride as usize;
    // Outside the region: untouched.
    for (i, (a, b)) in dst_buf.iter().zip(&before).enumerate() {
        let (x, y) = (i % stride_u, i / stride_u);
        let inside = x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
        if !inside {
            assert!(
                a == b,
                "sample ({x},{y}) outside the region {r:?} was written"
            );
        }
    }
    // Inside: the Rust API's result, or the source for LUTF_NOT_FILTERED.
    let views: Vec<Plane<'_, T>> = bufs[..used]
        .iter()
        .map(|b| Plane::new(&b.data, b.stride as usize, b.width, b.height).unwrap())
        .collect();
    let picture = Picture::new(
        views[0],
        views.get(1).copied(),
        views.get(2).copied(),
        format,
        bit_depth as u8,
    )
    .unwrap();
    let component = Component::ALL[c];
    let mut expected = vec![T::default(); r.width * r.height];
    match container.select(component, qp) {
        Some(model) => {
            assert_eq!(s, lutf_status::LUTF_OK);
            model
                .filter_region_into(
                    &picture,
                    r,
                    &mut PlaneMut::new(&mut expected, r.width, r.width, r.height).unwrap(),
                )
                .expect("the Rust API accepts what the C API accepted");
        }
        None => {
            assert_eq!(s, lutf_status::LUTF_NOT_FILTERED);
            for y in 0..r.height {
                for x in 0..r.width {
                    expected[y * r.width + x] = views[c].at(r.x + x, r.y + y);
                }
            }
        }
    }
    for y in 0..r.height {
        let got = &dst_buf[(r.y + y) * stride_u + r.x..][..r.width];
        assert!(
            got == &expected[y * r.width..][..r.width],
            "row {y} of region {r:?} differs from the Rust API"
        );
    }
    Ok(())
}

fn plane_desc<T>(b: &Buf<T>, width: i32, height: i32) -> lutf_plane {
    lutf_plane {
        data: b.data.as_ptr().cast(),
        stride: b.stride,
        width,
        height,
    }
}

fn rdo_case<T: CFilter>(u: &mut Unstructured<'_>) -> ArbResult<()> {
    let width = size(u)?;
    let height = size(u)?;
    let mut bufs: Vec<(Buf<T>, i32, i32)> = Vec::new();
    for _ in 0..3 {
        let (w, h) = if u.ratio(1, 16)? {
            (size(u)?, size(u)?)
        } else {
            (width, height)
        };
        let Some(b) = make_buf(u, i64::from(w), i64::from(h), 10)? else {
            return Ok(());
        };
        bufs.push((b, w, h));
    }
    let ctu: i32 = if u.ratio(1, 8)? {
        u.arbitrary()?
    } else {
        u.int_in_range(1..=16)?
    };
    let mut count = -1;
    // SAFETY: count is writable.
    let s = unsafe { lutf_ctu_count(width, height, ctu, &mut count) };
    check_status(s);
    let true_count = if s == lutf_status::LUTF_OK {
        assert!(count > 0);
        let c = (width as i64 + ctu as i64 - 1) / ctu as i64
            * ((height as i64 + ctu as i64 - 1) / ctu as i64);
        assert_eq!(i64::from(count), c);
        Some(count as usize)
    } else {
        None
    };
    let n: i32 = if u.ratio(1, 8)? {
        u.arbitrary()?
    } else {
        count
    };
    let lambda = if u.ratio(1, 8)? {
        u.arbitrary()?
    } else {
        f64::from(u.int_in_range(0..=1000u16)?)
    };
    let flag_bits = if u.ratio(1, 8)? { u.arbitrary()? } else { 1.0 };
    // Arrays of max(n, the true count) elements: the API must detect a wrong n before writing.
    if true_count.is_some_and(|c| c > 1 << 16) {
        return Ok(());
    }
    let len = true_count
        .unwrap_or(0)
        .max(usize::try_from(n).unwrap_or(0).min(1 << 16))
        .max(1);
    let mut flags = vec![7u8; len];
    let mut off = vec![u64::MAX; len];
    let mut on = vec![u64::MAX; len];
    let mut decision = lutf_ctu_decision::default();
    let descs: Vec<lutf_plane> = bufs.iter().map(|(b, w, h)| plane_desc(b, *w, *h)).collect();
    let null_arg = u.int_in_range(0..=15u8)?;
    let p = |i: usize| {
        if usize::from(null_arg) == i {
            std::ptr::null()
        } else {
            &descs[i] as *const lutf_plane
        }
    };
    // SAFETY: each plane spans its declared geometry or is refused; arrays hold at least n
    // elements when n is the true count (else the call must refuse n).
    let s = unsafe {
        T::rdo(
            p(0),
            p(1),
            p(2),
            ctu,
            lambda,
            flag_bits,
            n,
            if null_arg == 3 {
                std::ptr::null_mut()
            } else {
                flags.as_mut_ptr()
            },
            off.as_mut_ptr(),
            on.as_mut_ptr(),
            if null_arg == 4 {
                std::ptr::null_mut()
            } else {
                &mut decision
            },
        )
    };
    check_status(s);
    if (s as i32) < 0 {
        assert!(flags.iter().all(|&f| f == 7), "flags written on error");
        assert!(off.iter().all(|&v| v == u64::MAX), "ssd written on error");
        return Ok(());
    }
    let n = n as usize;
    assert_eq!(Some(n), true_count, "accepted a wrong n_ctus");
    assert!(null_arg > 4, "accepted a NULL argument");
    assert!(
        bufs.iter()
            .all(|(b, w, h)| !b.refuse && (*w, *h) == (width, height))
    );
    // Direct SSDs.
    let (w, h, ctu) = (width as usize, height as usize, ctu as usize);
    let cols = w.div_ceil(ctu);
    let mut e_off = vec![0u64; n];
    let mut e_on = vec![0u64; n];
    let at = |b: &Buf<T>, x: usize, y: usize| b.data[y * b.stride as usize + x].to_i32();
    for y in 0..h {
        for x in 0..w {
            let o = at(&bufs[0].0, x, y);
            let d1 = i64::from(o - at(&bufs[1].0, x, y));
            let d2 = i64::from(o - at(&bufs[2].0, x, y));
            let i = (y / ctu) * cols + x / ctu;
            e_off[i] += (d1 * d1) as u64;
            e_on[i] += (d2 * d2) as u64;
        }
    }
    assert_eq!(&off[..n], &e_off[..]);
    assert_eq!(&on[..n], &e_on[..]);
    assert!(flags[..n].iter().all(|&f| f <= 1));
    assert!((0..=2).contains(&decision.mode));
    assert_eq!(
        decision.ctus_on as usize,
        flags[..n].iter().filter(|&&f| f == 1).count()
    );
    Ok(())
}

fn decide_case(u: &mut Unstructured<'_>) -> ArbResult<()> {
    let n: i32 = if u.ratio(1, 8)? {
        u.arbitrary()?
    } else {
        u.int_in_range(1..=64)?
    };
    let len = usize::try_from(n).unwrap_or(0).clamp(1, 1 << 12);
    if n > 0 && n as usize > len {
        return Ok(());
    }
    let off: Vec<u64> = (0..len).map(|_| u.arbitrary()).collect::<ArbResult<_>>()?;
    let on: Vec<u64> = (0..len).map(|_| u.arbitrary()).collect::<ArbResult<_>>()?;
    let lambda: f64 = u.arbitrary()?;
    let bits: f64 = u.arbitrary()?;
    let mut flags = vec![9u8; len];
    let mut d = lutf_ctu_decision::default();
    // SAFETY: the arrays hold len >= n elements (n <= 0 is refused).
    let s = unsafe {
        lutf_ctu_decide(
            off.as_ptr(),
            on.as_ptr(),
            n,
            lambda,
            bits,
            flags.as_mut_ptr(),
            &mut d,
        )
    };
    check_status(s);
    if s == lutf_status::LUTF_OK {
        assert!(flags[..n as usize].iter().all(|&f| f <= 1));
        assert!((0..=2).contains(&d.mode));
    } else {
        assert!(flags.iter().all(|&f| f == 9));
    }
    Ok(())
}

fn open_case(u: &mut Unstructured<'_>) -> ArbResult<()> {
    let index: i32 = u.arbitrary()?;
    let comp: i32 = u.int_in_range(-1..=3)?;
    let qp: i32 = u.arbitrary()?;
    let rest = u.bytes(u.len())?;
    let fixed = fix_checksum(rest);
    let bytes = fixed.as_deref().unwrap_or(rest);
    let mut ctx = std::ptr::null_mut();
    // SAFETY: bytes addresses bytes.len() readable bytes (an empty slice's pointer with len 0
    // is refused); ctx is writable.
    let s = unsafe { lutf_open_memory(bytes.as_ptr().cast(), bytes.len(), &mut ctx) };
    check_status(s);
    if s != lutf_status::LUTF_OK {
        assert!(ctx.is_null());
        return Ok(());
    }
    exercise_ctx(ctx, index, comp, qp);
    // SAFETY: ctx is live and closed once.
    unsafe { lutf_close(ctx) };
    Ok(())
}

fn exercise_ctx(ctx: *mut lutf_ctx, index: i32, comp: i32, qp: i32) {
    let mut count = -1;
    let mut info = std::mem::MaybeUninit::<lutf_model_info>::uninit();
    let mut sel = 0;
    let mut sum = 0u32;
    let mut threads = 0;
    // SAFETY: ctx is live; every out-pointer is writable.
    unsafe {
        check_status(lutf_model_count(ctx, &mut count));
        assert!(count >= 0);
        let s = lutf_get_model_info(ctx, index, info.as_mut_ptr());
        check_status(s);
        if s == lutf_status::LUTF_OK {
            let info = info.assume_init();
            assert!(!CStr::from_ptr(info.name).to_bytes().is_empty());
            assert!(info.qp_min <= info.qp_max);
        }
        let s = lutf_select_model(ctx, comp, qp, &mut sel);
        check_status(s);
        assert!(sel >= -1 && sel < count.max(0));
        let h = lutf_has_model(ctx, comp, qp);
        assert!(h == 0 || h == 1 || h == lutf_status::LUTF_ERR_COMPONENT as i32);
        let i = lutf_is_identity(ctx);
        assert!(i == 0 || i == 1);
        check_status(lutf_get_checksum(ctx, &mut sum));
        check_status(lutf_get_threads(ctx, &mut threads));
        assert_eq!(threads, 1);
        check_status(lutf_set_threads(ctx, -1));
        check_status(lutf_model_count(ctx, std::ptr::null_mut()));
        check_status(lutf_get_model_info(ctx, 0, std::ptr::null_mut()));
    }
}

fn misc_case(u: &mut Unstructured<'_>) -> ArbResult<()> {
    let ctxs = contexts();
    let which = u.int_in_range(0..=ctxs.list.len() - 1)?;
    let (ctx, _) = &ctxs.list[which];
    exercise_ctx(
        *ctx as *mut lutf_ctx,
        u.arbitrary()?,
        u.arbitrary()?,
        u.arbitrary()?,
    );
    let status: i32 = u.arbitrary()?;
    // SAFETY: lutf_status_name never returns NULL.
    let name = unsafe { CStr::from_ptr(lutf_status_name(status)) };
    assert!(!name.to_bytes().is_empty());
    // NULL arguments.
    // SAFETY: NULL is allowed everywhere below and must be refused.
    unsafe {
        check_status(lutf_open_memory(std::ptr::null(), 4, std::ptr::null_mut()));
        check_status(lutf_open_default(std::ptr::null_mut()));
        check_status(lutf_model_count(std::ptr::null(), std::ptr::null_mut()));
        assert!(lutf_has_model(std::ptr::null(), 0, 0) < 0);
        lutf_close(std::ptr::null_mut());
    }
    Ok(())
}

fn run(u: &mut Unstructured<'_>) -> ArbResult<()> {
    let op: u8 = u.arbitrary()?;
    let t = op / 8 % 3;
    match (op % 8, t) {
        (0..=3, 0) => filter_case::<u8>(u),
        (0..=3, 1) => filter_case::<u16>(u),
        (0..=3, _) => filter_case::<i16>(u),
        (4, 0) => rdo_case::<u8>(u),
        (4, 1) => rdo_case::<u16>(u),
        (4, _) => rdo_case::<i16>(u),
        (5, _) => decide_case(u),
        (6, _) => open_case(u),
        _ => misc_case(u),
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
