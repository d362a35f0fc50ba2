//! The candle forward pass against a plain per-pixel evaluation of the graph (written here
//! from `lut_filter::reference`'s definition, with the network's units in place of tables):
//! whole pictures, crops (interior and at picture borders) and transformed views.

use std::sync::Arc;

use candle_core::Device;
use lut_build::corpus::Picture10;
use lut_build::net::{NetFile, Transfer};
use lut_filter::description::presets;
use lut_filter::description::{Component, Grid, ModelDescription, Node, Sampling, TableLayout};
use lut_train::batch::Batch;
use lut_train::data::{Crop, Frame, View, synthetic_frames};
use lut_train::graph::{Graph, GridSizes, Rect};
use lut_train::model::Network;

/// A map of normalised values.
struct Map {
    w: usize,
    h: usize,
    v: Vec<f64>,
}

impl Map {
    fn at(&self, y: i64, x: i64) -> f64 {
        let y = y.clamp(0, self.h as i64 - 1) as usize;
        let x = x.clamp(0, self.w as i64 - 1) as usize;
        self.v[y * self.w + x]
    }
}

fn plane(p: &Picture10, c: Component) -> Map {
    let (w, h) = p.plane_size(c.index());
    Map {
        w,
        h,
        v: p.plane(c.index())
            .iter()
            .map(|&s| f64::from(s) / 1024.0)
            .collect(),
    }
}

/// The plain evaluation: `(S, filtered)` over the whole target plane.
fn plain(net: &NetFile, d: &ModelDescription, p: &Picture10) -> (Vec<f64>, Vec<f64>) {
    let inputs: Vec<Map> = Component::ALL.iter().map(|&c| plane(p, c)).collect();
    let mut raw: Vec<(String, Vec<Vec<f64>>, usize, usize)> = Vec::new();
    let mut feats: Vec<(String, Vec<Map>)> = Vec::new();
    let size = |g: Grid| match g {
        Grid::Luma => (p.width, p.height),
        Grid::Chroma => (p.chroma_width(), p.chroma_height()),
    };
    for node in &d.nodes {
        let get = |r: &str| -> &Map {
            let (head, k) = r.split_once('.').unwrap();
            if head == "in" {
                return &inputs[k.parse::<Component>().unwrap().index()];
            }
            &feats.iter().find(|(n, _)| n == head).unwrap().1[k.parse::<usize>().unwrap()]
        };
        let grid_of = |m: &Map| {
            if (m.w, m.h) == size(Grid::Luma) {
                Grid::Luma
            } else {
                Grid::Chroma
            }
        };
        let (sums, w, h, terms) = match node {
            Node::Spatial(s) => {
                let m = get(&s.input);
                let (grid, phases) = match &s.sampling {
                    Sampling::Same => (grid_of(m), None),
                    Sampling::ChromaFromLuma { phases } => (Grid::Chroma, Some(*phases)),
                };
                let (w, h) = size(grid);
                let k = usize::from(s.outputs);
                let mut sums = vec![vec![0f64; w * h]; k];
                for pat in &s.patterns {
                    let unit = net
                        .unit(&format!("{}/{}/{}", d.name, s.name, pat.name()))
                        .unwrap();
                    for y in 0..h {
                        for x in 0..w {
                            for r in 0..usize::from(s.rotations) {
                                let (ay, ax) = match phases {
                                    None => (y as i64, x as i64),
                                    Some(ph) => (
                                        (2 * y) as i64 + i64::from(ph[r][0]),
                                        (2 * x) as i64 + i64::from(ph[r][1]),
                                    ),
                                };
                                let v = pat.rotated_taps(r).map(|(di, dj)| {
                                    m.at(ay + i64::from(di), ax + i64::from(dj)) as f32
                                });
                                let mut out = vec![0f32; k];
                                unit.forward(&v, &mut out);
                                for (j, o) in out.iter().enumerate() {
                                    sums[j][y * w + x] += f64::from(Transfer::Tanh.apply(*o));
                                }
                            }
                        }
                    }
                }
                (sums, w, h, s.patterns.len() * usize::from(s.rotations))
            }
            Node::Channel(c) => {
                let ms = c.inputs.each_ref().map(|r| get(r));
                let (w, h) = (ms[0].w, ms[0].h);
                let k = usize::from(c.outputs);
                let unit = net.unit(&format!("{}/{}", d.name, c.name)).unwrap();
                let mut sums = vec![Vec::with_capacity(w * h); k];
                for i in 0..w * h {
                    let v = ms.map(|m| m.v[i] as f32);
                    let mut out = vec![0f32; k];
                    unit.forward(&v, &mut out);
                    for (s, o) in sums.iter_mut().zip(&out) {
                        s.push(f64::from(Transfer::Tanh.apply(*o)));
                    }
                }
                (sums, w, h, 1)
            }
        };
        let f = sums
            .iter()
            .map(|s| Map {
                w,
                h,
                v: s.iter()
                    .map(|&v| ((v / terms as f64 + 0.5).floor() + 127.0).clamp(0.0, 255.0) / 256.0)
                    .collect(),
            })
            .collect();
        feats.push((node.name().to_string(), f));
        raw.push((node.name().to_string(), sums, w, h));
    }
    let target = p.plane(d.component.index());
    let mut s = vec![0f64; target.len()];
    for t in &d.output.terms {
        let (head, k) = t.split_once('.').unwrap();
        let r = &raw.iter().find(|(n, ..)| n == head).unwrap().1[k.parse::<usize>().unwrap()];
        for (a, b) in s.iter_mut().zip(r) {
            *a += b;
        }
    }
    let scale = f64::from(d.output.scale) / f64::from(1u32 << d.output.scale_shift);
    let filtered = s
        .iter()
        .zip(target)
        .map(|(&s, &x)| (f64::from(x) + (s * scale + 0.5).floor()).clamp(0.0, 1023.0))
        .collect();
    (s, filtered)
}

/// The picture as a view shows it (materialised).
fn materialise(v: &View<'_>, orig: bool) -> Picture10 {
    let s = v.sizes();
    let mut p = Picture10::zeroed(s.luma.1, s.luma.0);
    for c in Component::ALL {
        let (h, w) = match c.grid() {
            Grid::Luma => s.luma,
            Grid::Chroma => s.chroma,
        };
        *p.plane_mut(c.index()) = (0..h * w)
            .map(|i| {
                if orig {
                    v.orig(c, i / w, i % w)
                } else {
                    v.recon(c, i / w, i % w)
                }
            })
            .collect();
    }
    p
}

/// Compares the candle forward of `crops` with the plain whole-picture evaluation at the
/// scored positions; returns the number of positions compared.
fn check(d: &ModelDescription, hidden: &[usize], crops: &[Crop<'_>]) -> usize {
    let graph = Graph::new(d).unwrap();
    let net =
        Network::random(graph.clone(), hidden, Transfer::Tanh, 1.0, 11, &Device::Cpu).unwrap();
    let file = net.to_net().unwrap();
    let batch = Batch::new(&graph, crops, &Device::Cpu).unwrap();
    let f = net.forward(&batch, true).unwrap();
    let s: Vec<f32> = f.sum.to_vec1().unwrap();
    let out: Vec<f32> = f.filtered.to_vec1().unwrap();
    let recon: Vec<f32> = batch.recon.to_vec1().unwrap();
    let (mut i, mut worst, mut changed) = (0usize, 0f64, 0usize);
    for c in crops {
        let pic = materialise(&c.view, false);
        let (ps, pf) = plain(&file, d, &pic);
        let w = match d.component.grid() {
            Grid::Luma => pic.width,
            Grid::Chroma => pic.chroma_width(),
        };
        for y in c.interior.y0..c.interior.y1 {
            for x in c.interior.x0..c.interior.x1 {
                let j = y as usize * w + x as usize;
                let err = (f64::from(s[i]) - ps[j]).abs() / ps[j].abs().max(1.0);
                worst = worst.max(err);
                assert!(
                    err < 1e-3,
                    "S at ({y},{x}): candle {} plain {}",
                    s[i],
                    ps[j]
                );
                assert_eq!(f64::from(out[i]), pf[j], "filtered sample at ({y},{x})");
                changed += usize::from(out[i] != recon[i]);
                i += 1;
            }
        }
    }
    assert_eq!(i, s.len());
    assert!(
        changed > i / 4,
        "the random network changes most samples ({changed} of {i})"
    );
    eprintln!(
        "{}: {i} positions, worst relative error of S {worst:.2e}",
        d.name
    );
    i
}

fn frame(w: usize, h: usize, seed: u64) -> Frame {
    synthetic_frames(1, w, h, seed).remove(0)
}

#[test]
fn two_stage_cascade_matches_the_plain_evaluation() {
    let d = presets::cascade("y2", Component::Y, [0, 63], 2, TableLayout::Regular, 1, 4);
    let f = frame(26, 18, 1);
    let whole = |t| {
        let view = View {
            frame: &f,
            transform: t,
        };
        let s = view.sizes();
        Crop {
            view,
            interior: s.rect(Grid::Luma),
        }
    };
    // Whole picture, then crops in the middle and at the borders under transforms.
    let mut crops = vec![whole(0), whole(5)];
    for (t, r) in [
        (
            0u8,
            Rect {
                y0: 6,
                y1: 12,
                x0: 9,
                x1: 17,
            },
        ),
        (
            3,
            Rect {
                y0: 0,
                y1: 5,
                x0: 0,
                x1: 7,
            },
        ),
        (
            6,
            Rect {
                y0: 20,
                y1: 26,
                x0: 12,
                x1: 18,
            },
        ),
    ] {
        crops.push(Crop {
            view: View {
                frame: &f,
                transform: t,
            },
            interior: r,
        });
    }
    assert!(check(&d, &[16, 16], &crops) > 2 * 26 * 18);
}

#[test]
fn chroma_cross_component_matches_the_plain_evaluation() {
    let d = presets::chroma_cross_component("u", Component::U, [0, 63], TableLayout::Regular, 1, 5);
    let f = frame(28, 20, 2);
    let g = GridSizes::yuv420(20, 28);
    let crops = vec![
        Crop {
            view: View::identity(&f),
            interior: g.rect(Grid::Chroma),
        },
        Crop {
            view: View {
                frame: &f,
                transform: 7,
            },
            interior: Rect {
                y0: 0,
                y1: 6,
                x0: 3,
                x1: 10,
            },
        },
        Crop {
            view: View {
                frame: &f,
                transform: 2,
            },
            interior: Rect {
                y0: 4,
                y1: 10,
                x0: 8,
                x1: 14,
            },
        },
    ];
    check(&d, &[12, 8], &crops);
    // V swaps the chroma roles.
    let d = presets::chroma_cross_component("v", Component::V, [0, 63], TableLayout::Regular, 1, 5);
    check(&d, &[8], &crops[..1]);
}

#[test]
fn luma_reference_matches_the_plain_evaluation() {
    let d = presets::luma_reference("r", [0, 63], TableLayout::Regular, 1, 5);
    let f = frame(22, 20, 3);
    let crops = vec![Crop {
        view: View {
            frame: &f,
            transform: 1,
        },
        interior: Rect {
            y0: 0,
            y1: 20,
            x0: 0,
            x1: 22,
        },
    }];
    check(&d, &[8, 8], &crops);
}

#[test]
fn materialised_view_round_trips() {
    let f = frame(10, 6, 4);
    let v = View {
        frame: &f,
        transform: 0,
    };
    assert_eq!(materialise(&v, false), f.recon);
    let o = Frame {
        recon: materialise(&v, true),
        orig: Arc::clone(&f.orig),
        slice_qp: 0,
        label: String::new(),
    };
    assert_eq!(o.recon, *f.orig);
}

/// Cross-check with `lut_build::net::forward` (an independent evaluator of a network on a
/// picture): the filtered planes agree for a 2-stage cascade and a cross-component model.
#[test]
fn agrees_with_lut_build_net_forward() {
    let f = frame(30, 22, 8);
    for d in [
        presets::cascade("y2", Component::Y, [0, 63], 2, TableLayout::Regular, 1, 4),
        presets::chroma_cross_component("u", Component::U, [0, 63], TableLayout::Regular, 1, 5),
    ] {
        let graph = Graph::new(&d).unwrap();
        let net = Network::random(
            graph.clone(),
            &[12, 12],
            Transfer::Tanh,
            1.0,
            5,
            &Device::Cpu,
        )
        .unwrap();
        let file = net.to_net().unwrap();
        let view = View::identity(&f);
        let crop = Crop {
            view,
            interior: view.sizes().rect(d.component.grid()),
        };
        let batch = Batch::new(&graph, &[crop], &Device::Cpu).unwrap();
        let ours: Vec<f32> = net
            .forward(&batch, true)
            .unwrap()
            .filtered
            .to_vec1()
            .unwrap();
        let theirs =
            lut_build::net::forward::forward_plane(&file, &d, &f.recon.view().unwrap()).unwrap();
        assert_eq!(ours.len(), theirs.len());
        let same = ours
            .iter()
            .zip(&theirs)
            .filter(|(a, b)| **a as i32 == **b)
            .count();
        assert_eq!(
            same,
            ours.len(),
            "{}: {same} of {} samples agree",
            d.name,
            ours.len()
        );
    }
}
