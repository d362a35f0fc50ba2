//! Drawing the three pictures: layout, panels, legends and text.

use image::{Rgb, RgbImage};

use super::analysis::{BlockMap, Frame};
use super::font::{self, LINE_HEIGHT};
use super::{Options, PlanePsnr, Summary};

const BACKGROUND: [u8; 3] = [24, 24, 24];
const TEXT: [u8; 3] = [232, 232, 232];
const ACCENT: [u8; 3] = [255, 200, 0];
/// Colour of a block where the filter helps (SSE down).
pub(super) const HELPS: [u8; 3] = [40, 230, 70];
/// Colour of a block where the filter hurts (SSE up).
pub(super) const HURTS: [u8; 3] = [240, 40, 40];
/// How strongly a block at full scale covers the dimmed luma.
const COVER: f64 = 0.8;
/// Brightness of the luma under the error map.
const DIM: f64 = 0.45;
const SCALE: usize = 2;
const MARGIN: usize = 8;
const GAP: usize = 8;
const LINE: usize = LINE_HEIGHT * SCALE;

fn canvas(width: usize, height: usize) -> RgbImage {
    RgbImage::from_pixel(width as u32, height as u32, Rgb(BACKGROUND))
}

fn text(image: &mut RgbImage, x: usize, y: usize, s: &str) {
    font::draw_text(image, x, y, s, SCALE, TEXT);
}

fn width_of(lines: &[String]) -> usize {
    lines
        .iter()
        .map(|l| font::text_width(l, SCALE))
        .max()
        .unwrap_or(0)
}

/// Writes `lines` from `y` down; returns the y below them.
fn write_lines(image: &mut RgbImage, y: usize, lines: &[String]) -> usize {
    for (i, l) in lines.iter().enumerate() {
        text(image, MARGIN, y + i * LINE, l);
    }
    y + lines.len() * LINE
}

fn blit(dst: &mut RgbImage, src: &RgbImage, x: usize, y: usize) {
    // Layouts are computed to fit; `replace` clips anything that would not.
    image::imageops::replace(dst, src, x as i64, y as i64);
}

/// Box down-scaling by `f` (partial boxes at the right and bottom edges are averaged too).
pub(super) fn downscale(image: &RgbImage, f: usize) -> RgbImage {
    if f <= 1 {
        return image.clone();
    }
    let (w, h) = (image.width() as usize, image.height() as usize);
    let (ow, oh) = (w.div_ceil(f), h.div_ceil(f));
    RgbImage::from_fn(ow as u32, oh as u32, |ox, oy| {
        let (x0, y0) = (ox as usize * f, oy as usize * f);
        let mut sum = [0u32; 3];
        let mut n = 0u32;
        for y in y0..(y0 + f).min(h) {
            for x in x0..(x0 + f).min(w) {
                let p = image.get_pixel(x as u32, y as u32).0;
                for (s, v) in sum.iter_mut().zip(p) {
                    *s += u32::from(v);
                }
                n += 1;
            }
        }
        Rgb(sum.map(|s| ((s + n / 2) / n) as u8))
    })
}

/// Nearest-neighbour magnification of a window of `image`.
fn zoom(image: &RgbImage, x: usize, y: usize, w: usize, h: usize, z: usize) -> RgbImage {
    RgbImage::from_fn((w * z) as u32, (h * z) as u32, |zx, zy| {
        *image.get_pixel((x + zx as usize / z) as u32, (y + zy as usize / z) as u32)
    })
}

/// A rectangle outline, clipped to the image.
fn outline(image: &mut RgbImage, x: usize, y: usize, w: usize, h: usize, color: [u8; 3]) {
    let (iw, ih) = (image.width() as usize, image.height() as usize);
    let mut put = |px: usize, py: usize| {
        if px < iw && py < ih {
            image.put_pixel(px as u32, py as u32, Rgb(color));
        }
    };
    let (x1, y1) = (x + w.max(1) - 1, y + h.max(1) - 1);
    for px in x..=x1 {
        put(px, y);
        put(px, y1);
    }
    for py in y..=y1 {
        put(x, py);
        put(x1, py);
    }
}

fn title_lines(options: &Options) -> Vec<String> {
    options.title.iter().cloned().collect()
}

/// The side-by-side view: three full frames with the zoom window marked, the zooms below.
pub(super) fn side_by_side(views: &[RgbImage], summary: &Summary, options: &Options) -> RgbImage {
    let names = ["original", "reconstruction", "filtered"];
    let win = summary.crop;
    let panels: Vec<RgbImage> = views
        .iter()
        .map(|v| downscale(v, options.downscale))
        .collect();
    let zooms: Vec<RgbImage> = views
        .iter()
        .map(|v| zoom(v, win.x, win.y, win.width, win.height, options.zoom))
        .collect();
    let (pw, ph) = (panels[0].width() as usize, panels[0].height() as usize);
    let (zw, zh) = (zooms[0].width() as usize, zooms[0].height() as usize);
    let label_w = width_of(&names.map(String::from));
    let (col, zcol) = (pw.max(label_w), zw.max(label_w));
    let mut head = title_lines(options);
    head.push(format!(
        "{}x{}, compared at {} bit; yellow box: zoomed window",
        summary.width, summary.height, summary.bit_depth
    ));
    let caption = vec![format!(
        "zoom {}x of {}x{} at ({},{}): largest change, sum |F-R| = {}",
        options.zoom, win.width, win.height, win.x, win.y, win.change
    )];
    let width = 2 * MARGIN
        + (3 * col + 2 * GAP)
            .max(3 * zcol + 2 * GAP)
            .max(width_of(&head))
            .max(width_of(&caption));
    let height = MARGIN + (head.len() + 1) * LINE + ph + GAP + 2 * LINE + zh + MARGIN;
    let mut out = canvas(width, height);
    let mut y = write_lines(&mut out, MARGIN, &head);
    let f = options.downscale;
    for (i, (name, panel)) in names.iter().zip(&panels).enumerate() {
        let x = MARGIN + i * (col + GAP);
        text(&mut out, x, y, name);
        let mut marked = panel.clone();
        outline(
            &mut marked,
            win.x / f,
            win.y / f,
            win.width.div_ceil(f),
            win.height.div_ceil(f),
            ACCENT,
        );
        blit(&mut out, &marked, x, y + LINE);
    }
    y += LINE + ph + GAP;
    y = write_lines(&mut out, y, &caption);
    for (i, (name, z)) in names.iter().zip(&zooms).enumerate() {
        let x = MARGIN + i * (zcol + GAP);
        text(&mut out, x, y, name);
        blit(&mut out, z, x, y + LINE);
    }
    out
}

/// Gain for the difference picture: the largest power of two that keeps 99 % of the non-zero
/// luma changes within +-112 grey levels (1 when nothing changed).
pub(super) fn auto_gain(changes: &[u32]) -> u32 {
    let mut nonzero: Vec<u32> = changes.iter().copied().filter(|&c| c > 0).collect();
    if nonzero.is_empty() {
        return 1;
    }
    let k = ((nonzero.len() - 1) as f64 * 0.99).round() as usize;
    let (_, &mut p, _) = nonzero.select_nth_unstable(k);
    let mut gain = 1u32;
    while gain * 2 * p <= 112 && gain < 4096 {
        gain *= 2;
    }
    gain
}

fn grey(v: f64) -> Rgb<u8> {
    let g = v.round().clamp(0.0, 255.0) as u8;
    Rgb([g, g, g])
}

/// Filtered - reconstruction of each plane, mid-grey = 0, with a legend.
pub(super) fn difference(
    recon: &Frame,
    filt: &Frame,
    summary: &Summary,
    options: &Options,
) -> RgbImage {
    let gain = f64::from(summary.difference_gain);
    let sizes = recon.sizes();
    let planes: Vec<RgbImage> = (0..3)
        .filter(|&i| !recon.planes[i].is_empty())
        .map(|i| {
            let (w, h) = sizes[i];
            let img = RgbImage::from_fn(w as u32, h as u32, |x, y| {
                let k = y as usize * w + x as usize;
                let d = f64::from(filt.planes[i][k]) - f64::from(recon.planes[i][k]);
                grey(128.0 + gain * d)
            });
            downscale(&img, options.downscale)
        })
        .collect();
    let mut head = title_lines(options);
    head.push("filtered - reconstruction: mid-grey = no change".into());
    head.push(format!(
        "gain {}: 1 code value at {} bit = {} grey levels",
        summary.difference_gain, summary.bit_depth, summary.difference_gain
    ));
    let n = summary.width * summary.height;
    let tail = vec![format!(
        "luma: {} of {} samples changed ({:.1} %), max |change| {}",
        summary.changed_luma_samples,
        n,
        100.0 * summary.changed_luma_samples as f64 / n.max(1) as f64,
        summary.max_luma_change
    )];
    let (yw, yh) = planes[0].dimensions();
    let (yw, yh) = (yw as usize, yh as usize);
    let cw = planes.get(1).map_or(0, |p| p.width() as usize);
    let ch = planes.get(1).map_or(0, |p| p.height() as usize);
    let body_w = if cw > 0 { yw + GAP + cw } else { yw };
    let body_h = yh.max(if cw > 0 {
        2 * (ch + LINE) + GAP - LINE
    } else {
        0
    });
    let legend_w = 256;
    let width = 2 * MARGIN
        + body_w
            .max(width_of(&head))
            .max(width_of(&tail))
            .max(legend_w);
    let height = MARGIN + (head.len() + 1) * LINE + body_h + GAP + 12 + 2 * LINE + LINE + MARGIN;
    let mut out = canvas(width, height);
    let mut y = write_lines(&mut out, MARGIN, &head);
    text(&mut out, MARGIN, y, "Y");
    blit(&mut out, &planes[0], MARGIN, y + LINE);
    if cw > 0 {
        let x = MARGIN + yw + GAP;
        text(&mut out, x, y, "U");
        blit(&mut out, &planes[1], x, y + LINE);
        text(&mut out, x, y + LINE + ch + GAP, "V");
        blit(&mut out, &planes[2], x, y + 2 * LINE + ch + GAP);
    }
    y += LINE + body_h + GAP;
    // Legend: a grey ramp over the codes it represents.
    for lx in 0..legend_w {
        for ly in 0..12 {
            out.put_pixel((MARGIN + lx) as u32, (y + ly) as u32, grey(lx as f64));
        }
    }
    y += 12 + 4;
    let span = 128.0 / gain;
    let fmt = |v: f64| {
        if span >= 10.0 {
            format!("{v:+.0}")
        } else {
            format!("{v:+.2}")
        }
    };
    text(&mut out, MARGIN, y, &fmt(-span));
    text(
        &mut out,
        MARGIN + 128 - font::text_width("0", SCALE) / 2,
        y,
        "0",
    );
    let right = fmt(span);
    text(
        &mut out,
        MARGIN + legend_w - font::text_width(&right, SCALE),
        y,
        &right,
    );
    write_lines(&mut out, y + LINE, &tail);
    out
}

/// Colour strength of a block: `ln(1 + |d|) / ln(1 + scale)` in [0, 1].
pub(super) fn strength(delta: i64, scale: u64) -> f64 {
    let s = (delta.unsigned_abs() as f64).ln_1p() / (scale.max(1) as f64).ln_1p();
    s.clamp(0.0, 1.0)
}

/// Colour of a block over a dimmed luma value `base`.
pub(super) fn tint(base: u8, delta: i64, scale: u64) -> Rgb<u8> {
    let dim = f64::from(base) * DIM;
    if delta == 0 {
        return grey(dim);
    }
    let a = COVER * strength(delta, scale);
    let color = if delta < 0 { HELPS } else { HURTS };
    Rgb(color.map(|c| (dim * (1.0 - a) + f64::from(c) * a).round() as u8))
}

fn psnr_row(name: &str, p: &PlanePsnr, signed: bool) -> String {
    let cell = |v: Option<f64>| match v {
        None => format!("{:>9}", "-"),
        Some(v) if signed => format!("{v:>+9.3}"),
        Some(v) => format!("{v:>9.3}"),
    };
    format!("{name:<15}{}{}{}", cell(Some(p.y)), cell(p.u), cell(p.v))
}

/// The map itself: each block of `grey_view` tinted by its change of SSE.
pub(super) fn map_body(grey_view: &RgbImage, map: &BlockMap) -> RgbImage {
    let scale = map.scale();
    RgbImage::from_fn(grey_view.width(), grey_view.height(), |x, y| {
        let (c, r) = (x as usize / map.block, y as usize / map.block);
        let delta = map.delta.get(r * map.columns + c).copied().unwrap_or(0);
        tint(grey_view.get_pixel(x, y).0[0], delta, scale)
    })
}

/// The per-block map of the change of squared error, with legend and PSNR numbers.
pub(super) fn error_map(
    grey_view: &RgbImage,
    map: &BlockMap,
    summary: &Summary,
    options: &Options,
) -> RgbImage {
    let scale = map.scale();
    let body = downscale(&map_body(grey_view, map), options.downscale);
    let mut head = title_lines(options);
    head.push(format!(
        "luma SSE(filtered) - SSE(reconstruction) per {b}x{b} block",
        b = map.block
    ));
    head.push(format!("{:<15}{:>9}{:>9}{:>9}", "PSNR dB", "Y", "U", "V"));
    head.push(psnr_row(
        "reconstruction",
        &summary.psnr_reconstruction,
        false,
    ));
    head.push(psnr_row("filtered", &summary.psnr_filtered, false));
    head.push(psnr_row("delta", &summary.psnr_delta, true));
    let tail = vec![
        "green: filter helps (SSE down), red: hurts".to_string(),
        format!("log scale, full colour at |delta SSE| = {scale}"),
        format!(
            "blocks: {} better, {} worse, {} same",
            summary.blocks_better, summary.blocks_worse, summary.blocks_unchanged
        ),
        format!(
            "frame luma SSE change {:+} (at {} bit)",
            summary.luma_sse_delta, summary.bit_depth
        ),
    ];
    let legend_w = 256;
    let (bw, bh) = (body.width() as usize, body.height() as usize);
    let width = 2 * MARGIN + bw.max(width_of(&head)).max(width_of(&tail)).max(legend_w);
    let height =
        MARGIN + head.len() * LINE + GAP + bh + GAP + 12 + 4 + LINE + tail.len() * LINE + MARGIN;
    let mut out = canvas(width, height);
    let mut y = write_lines(&mut out, MARGIN, &head) + GAP;
    blit(&mut out, &body, MARGIN, y);
    y += bh + GAP;
    // Legend: hurts (+scale) on the left, 0 in the middle, helps (-scale) on the right, over a
    // mid-grey luma.
    let s = scale as f64;
    for lx in 0..legend_w {
        let t = (lx as f64 - 127.5) / 127.5; // -1 .. 1
        let delta = -(t.signum() * ((1.0 + s).powf(t.abs()) - 1.0)).round() as i64;
        let c = tint(128, delta, scale);
        for ly in 0..12 {
            out.put_pixel((MARGIN + lx) as u32, (y + ly) as u32, c);
        }
    }
    y += 12 + 4;
    let (left, right) = (format!("+{scale}"), format!("-{scale}"));
    text(&mut out, MARGIN, y, &left);
    text(
        &mut out,
        MARGIN + 128 - font::text_width("0", SCALE) / 2,
        y,
        "0",
    );
    text(
        &mut out,
        MARGIN + legend_w - font::text_width(&right, SCALE),
        y,
        &right,
    );
    write_lines(&mut out, y + LINE, &tail);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_colours_have_the_right_sign() {
        let scale = 1000;
        let help = tint(200, -1000, scale).0;
        let hurt = tint(200, 1000, scale).0;
        let none = tint(200, 0, scale).0;
        assert!(
            help[1] > help[0] + 100 && help[1] > help[2] + 100,
            "{help:?}"
        );
        assert!(
            hurt[0] > hurt[1] + 100 && hurt[0] > hurt[2] + 100,
            "{hurt:?}"
        );
        assert_eq!(none, [90, 90, 90]);
        // Stronger change, stronger colour; log scale makes small changes visible.
        let weak = tint(200, -10, scale).0;
        assert!(weak[1] > none[1] && weak[1] < help[1]);
        assert!((strength(1000, 1000) - 1.0).abs() < 1e-12);
        assert!(strength(31, 1000) > 0.45 && strength(31, 1000) < 0.55);
        assert_eq!(strength(5000, 1000), 1.0);
    }

    #[test]
    fn map_blocks_are_green_where_the_filter_helps_and_red_where_it_hurts() {
        // 16x8 luma, blocks of 8: the left block helps, the right one hurts; flat grey luma.
        let (w, h) = (16, 8);
        let orig = vec![400u16; w * h];
        let recon = vec![410u16; w * h];
        let mut filt = recon.clone();
        for y in 0..h {
            for x in 0..w {
                filt[y * w + x] = if x < 8 { 402 } else { 415 };
            }
        }
        let map = BlockMap::new(&orig, &recon, &filt, w, h, 8);
        assert!(map.delta[0] < 0 && map.delta[1] > 0);
        let grey = RgbImage::from_pixel(w as u32, h as u32, Rgb([128, 128, 128]));
        let body = map_body(&grey, &map);
        for y in 0..h as u32 {
            let [r, g, b] = body.get_pixel(2, y).0;
            assert!(
                g > r + 60 && g > b + 60,
                "left block not green: {:?}",
                [r, g, b]
            );
            let [r, g, b] = body.get_pixel(12, y).0;
            assert!(
                r > g + 60 && r > b + 60,
                "right block not red: {:?}",
                [r, g, b]
            );
        }
        // A smaller change gets a weaker colour (|delta| 64 * (225 - 100) vs 64 * (100 - 4)).
        let help = body.get_pixel(0, 0).0;
        let hurt = body.get_pixel(15, 0).0;
        assert!(i32::from(help[1]) - i32::from(help[0]) < i32::from(hurt[0]) - i32::from(hurt[1]));
    }

    #[test]
    fn auto_gain_is_a_power_of_two_fitting_the_changes() {
        assert_eq!(auto_gain(&[0, 0, 0]), 1);
        assert_eq!(auto_gain(&[0, 1, 1, 1]), 64);
        assert_eq!(auto_gain(&[3; 100]), 32);
        assert_eq!(auto_gain(&[200; 10]), 1);
    }

    #[test]
    fn downscale_and_zoom() {
        let img = RgbImage::from_fn(5, 3, |x, _| Rgb([(x * 10) as u8, 0, 0]));
        let d = downscale(&img, 2);
        assert_eq!(d.dimensions(), (3, 2));
        assert_eq!(d.get_pixel(0, 0).0[0], 5);
        assert_eq!(d.get_pixel(2, 1).0[0], 40);
        let z = zoom(&img, 1, 1, 2, 2, 3);
        assert_eq!(z.dimensions(), (6, 6));
        assert_eq!(z.get_pixel(5, 5).0[0], 20);
    }
}
