//! Training crops: a box of the target plane whose loss is computed, plus a margin covering the
//! model's receptive field, so every sample of the box is computed from real neighbours exactly
//! as the runtime computes it on the whole picture.
//!
//! Every map of a crop lives on a *window* of its grid (luma or chroma). Windows lie inside the
//! picture; reads clamp to the window. Where a window edge is a picture edge, that clamp is the
//! runtime's replicate padding; elsewhere the window extends `margin` samples beyond the box, so
//! the values near that edge (which differ from the picture's) never reach the box.

use lut_filter::Component;

use crate::corpus::Picture10;

/// A rectangle of one grid: origin and size in samples of that grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// First row.
    pub y0: usize,
    /// First column.
    pub x0: usize,
    /// Rows.
    pub h: usize,
    /// Columns.
    pub w: usize,
}

impl Window {
    /// Samples in the window.
    pub fn len(&self) -> usize {
        self.h * self.w
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Index of local position (y, x) clamped into the window.
    #[inline]
    pub(crate) fn clamped(&self, y: i64, x: i64) -> usize {
        let y = y.clamp(0, self.h as i64 - 1) as usize;
        let x = x.clamp(0, self.w as i64 - 1) as usize;
        y * self.w + x
    }
}

/// The box whose loss is computed: origin and size on the target grid, picture coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CropBox {
    /// First row.
    pub y: usize,
    /// First column.
    pub x: usize,
    /// Rows.
    pub h: usize,
    /// Columns.
    pub w: usize,
}

/// One training crop of a 10-bit 4:2:0 picture pair for a model of `component`.
#[derive(Clone, Debug)]
pub struct Crop {
    /// The target component.
    pub component: Component,
    /// Window of the luma-grid maps.
    pub luma: Window,
    /// Window of the chroma-grid maps.
    pub chroma: Window,
    /// Reconstructed planes on their windows (Y on `luma`, U and V on `chroma`; empty where the
    /// model does not read the plane).
    pub planes: [Vec<f64>; 3],
    /// The box in local coordinates of the target grid's window.
    pub local: Window,
    /// Original samples of the target component in the box, row-major.
    pub original: Vec<f64>,
}

fn clip_range(start: usize, len: usize, margin: usize, size: usize) -> (usize, usize) {
    let a = start.saturating_sub(margin);
    let b = (start + len + margin).min(size);
    (a, b)
}

fn extract(plane: &[u16], width: usize, win: Window) -> Vec<f64> {
    let mut out = Vec::with_capacity(win.len());
    for y in win.y0..win.y0 + win.h {
        let row = &plane[y * width + win.x0..y * width + win.x0 + win.w];
        out.extend(row.iter().map(|&v| f64::from(v.min(1023))));
    }
    out
}

impl Crop {
    /// Cuts the crop of `bx` (target-grid picture coordinates, inside the plane) with `margin`
    /// target-grid samples around it; `reads[c]` says which reconstructed planes to copy.
    pub fn new(
        recon: &Picture10,
        original: &Picture10,
        component: Component,
        bx: CropBox,
        margin: usize,
        reads: [bool; 3],
    ) -> Crop {
        let (lw, lh) = (recon.width, recon.height);
        let (cw, ch) = (recon.chroma_width(), recon.chroma_height());
        let (luma, chroma) = if component == Component::Y {
            let (y0, y1) = clip_range(bx.y, bx.h, margin, lh);
            let (x0, x1) = clip_range(bx.x, bx.w, margin, lw);
            let luma = Window {
                y0,
                x0,
                h: y1 - y0,
                w: x1 - x0,
            };
            let (cy0, cx0) = (y0 / 2, x0 / 2);
            let chroma = Window {
                y0: cy0,
                x0: cx0,
                h: y1.div_ceil(2).min(ch) - cy0,
                w: x1.div_ceil(2).min(cw) - cx0,
            };
            (luma, chroma)
        } else {
            let (y0, y1) = clip_range(bx.y, bx.h, margin, ch);
            let (x0, x1) = clip_range(bx.x, bx.w, margin, cw);
            let chroma = Window {
                y0,
                x0,
                h: y1 - y0,
                w: x1 - x0,
            };
            let luma = Window {
                y0: 2 * y0,
                x0: 2 * x0,
                h: (2 * y1).min(lh) - 2 * y0,
                w: (2 * x1).min(lw) - 2 * x0,
            };
            (luma, chroma)
        };
        let planes: [Vec<f64>; 3] = std::array::from_fn(|c| {
            if !reads[c] {
                return Vec::new();
            }
            let (win, width) = if c == 0 { (luma, lw) } else { (chroma, cw) };
            extract(recon.plane(c), width, win)
        });
        let target = if component == Component::Y {
            luma
        } else {
            chroma
        };
        let local = Window {
            y0: bx.y - target.y0,
            x0: bx.x - target.x0,
            h: bx.h,
            w: bx.w,
        };
        let width = if component == Component::Y { lw } else { cw };
        let original = extract(
            original.plane(component.index()),
            width,
            Window {
                y0: bx.y,
                x0: bx.x,
                h: bx.h,
                w: bx.w,
            },
        );
        Crop {
            component,
            luma,
            chroma,
            planes,
            local,
            original,
        }
    }

    /// The whole target plane as one box (for evaluating a model on a picture).
    pub fn whole(
        recon: &Picture10,
        original: &Picture10,
        component: Component,
        reads: [bool; 3],
    ) -> Crop {
        let (w, h) = recon.plane_size(component.index());
        Crop::new(
            recon,
            original,
            component,
            CropBox { y: 0, x: 0, h, w },
            0,
            reads,
        )
    }

    /// The window of `grid`'s maps.
    pub(crate) fn window(&self, luma: bool) -> Window {
        if luma { self.luma } else { self.chroma }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(w: usize, h: usize) -> Picture10 {
        let mut p = Picture10::zeroed(w, h);
        for (i, v) in p.y.iter_mut().enumerate() {
            *v = (i % 1000) as u16;
        }
        for (i, v) in p.u.iter_mut().enumerate() {
            *v = (i % 900) as u16;
        }
        p
    }

    #[test]
    fn windows_cover_the_box_and_margin_inside_the_picture() {
        let p = picture(64, 40);
        let bx = CropBox {
            y: 2,
            x: 30,
            h: 16,
            w: 16,
        };
        let c = Crop::new(&p, &p, Component::Y, bx, 4, [true, false, false]);
        assert_eq!(
            c.luma,
            Window {
                y0: 0,
                x0: 26,
                h: 22,
                w: 24
            }
        );
        assert_eq!((c.local.y0, c.local.x0), (2, 4));
        assert_eq!(c.planes[0][0], f64::from(p.y[26]));
        assert_eq!(c.original[0], f64::from(p.y[2 * 64 + 30]));
        assert!(c.planes[1].is_empty());

        let bx = CropBox {
            y: 10,
            x: 20,
            h: 10,
            w: 12,
        };
        let c = Crop::new(&p, &p, Component::U, bx, 3, [true, true, false]);
        assert_eq!(
            c.chroma,
            Window {
                y0: 7,
                x0: 17,
                h: 13,
                w: 15
            }
        );
        assert_eq!(
            c.luma,
            Window {
                y0: 14,
                x0: 34,
                h: 26,
                w: 30
            }
        );
        assert_eq!(c.planes[1].len(), c.chroma.len());
        assert_eq!(c.original[0], f64::from(p.u[10 * 32 + 20]));
    }
}
