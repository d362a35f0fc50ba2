//! From the corpus to a container and back: fit per-component, per-QP-range models on the train
//! split, and evaluate a container on any split the way VTM measures (10-bit PSNR, peak 1020,
//! mean of per-picture values; rate from the bitstream; BD-rate with PCHIP).

use lut_filter::{Component, Container, ContainerWriter, PictureKind, Pictures, PlaneMut};
use serde::Serialize;

use crate::corpus::{EncodePairs, Picture10};
use crate::fit::{CrossPlanes, FitOptions, PlanePair, fit_cascade};

/// Slice-QP ranges of the fitted models (inclusive); each holds 10-25 % of the training samples.
pub const DEFAULT_QP_RANGES: [[i32; 2]; 6] =
    [[0, 22], [23, 27], [28, 32], [33, 37], [38, 42], [43, 63]];

fn plane(p: &Picture10, c: Component) -> (&[u16], usize, usize) {
    let (cw, ch) = (p.width.div_ceil(2), p.height.div_ceil(2));
    match c {
        Component::Y => (&p.y, p.width, p.height),
        Component::U => (&p.u, cw, ch),
        Component::V => (&p.v, cw, ch),
    }
}

/// The other chroma component of a chroma component (`None` for luma).
fn other_chroma(c: Component) -> Option<Component> {
    match c {
        Component::Y => None,
        Component::U => Some(Component::V),
        Component::V => Some(Component::U),
    }
}

/// The training pair of component `c` of a picture; a chroma pair carries the picture's luma and
/// its other chroma plane as cross-component inputs.
fn training_pair(f: &crate::corpus::FramePair, c: Component) -> PlanePair<'_> {
    let (recon, width, height) = plane(&f.reconstruction, c);
    let (orig, _, _) = plane(&f.original, c);
    let other = other_chroma(c);
    PlanePair {
        recon,
        orig,
        width,
        height,
        cross: CrossPlanes {
            luma: other.map(|_| plane(&f.reconstruction, Component::Y)),
            other_chroma: other.map(|o| plane(&f.reconstruction, o).0),
        },
    }
}

/// A summary line per fitted model.
#[derive(Clone, Debug, Serialize)]
pub struct FitSummary {
    /// Model name.
    pub model: String,
    /// Training pictures used.
    pub pictures: usize,
    /// Training MSE before / after each stage (10-bit codes^2, sampled positions).
    pub train_mse: Vec<(f64, f64)>,
    /// Residual scale (16-bit fixed point, 10-bit codes per table unit).
    pub scale: i32,
}

/// Fits one model per component of `components` and QP range on `train` (frames bucketed by
/// slice QP).
pub fn fit_models(
    train: &[EncodePairs],
    components: &[Component],
    ranges: &[[i32; 2]],
    opts: &FitOptions,
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> Result<(ContainerWriter, Vec<FitSummary>), lut_filter::Error> {
    let mut writer = ContainerWriter::new();
    let mut summaries = Vec::new();
    let mut shared: std::collections::HashMap<[i32; 2], crate::fit::FittedModel> =
        std::collections::HashMap::new();
    for c in Component::ALL
        .into_iter()
        .filter(|c| components.contains(c))
    {
        for &[lo, hi] in ranges {
            let frames: Vec<_> = train
                .iter()
                .flat_map(|e| &e.frames)
                .filter(|f| (lo..=hi).contains(&f.slice_qp) && opts.pictures.admits(f.kind))
                .collect();
            if frames.is_empty() {
                continue;
            }
            let mut pairs: Vec<PlanePair<'_>> =
                frames.iter().map(|f| training_pair(f, c)).collect();
            let other = other_chroma(c);
            if let Some(o) = other.filter(|_| opts.shared_chroma) {
                pairs.extend(frames.iter().map(|f| training_pair(f, o)));
            }
            let name = match opts.pictures {
                Pictures::All => format!("{c}-qp{lo}-{hi}"),
                p => format!("{c}-{}-qp{lo}-{hi}", p.name()),
            };
            let mut o = opts.clone();
            if c != Component::Y {
                // Chroma planes hold a quarter of the samples: sample them twice as densely.
                o.step = (o.step / 2).max(1);
            }
            // A shared chroma model is fitted once, for U, and mirrored for V.
            let mirrored = match c {
                Component::V => shared.get(&[lo, hi]).and_then(|u| u.mirrored_chroma(&name)),
                _ => None,
            };
            let fitted = match mirrored {
                Some(m) => m,
                None => fit_cascade(&name, c, [lo, hi], &pairs, &o, &|s, i| {
                    progress(&name, s, i)
                }),
            };
            summaries.push(FitSummary {
                model: name,
                pictures: frames.len(),
                train_mse: fitted.train_mse.clone(),
                scale: fitted.description.output.scale,
            });
            let mut desc = fitted.description.clone();
            desc.notes = format!(
                "least-squares fit (lut-build fit) on {} {}train pictures with slice QP \
                 {lo}..={hi}; {} stage(s), lambda {}, step {}{}{}{}{}",
                frames.len(),
                match opts.pictures {
                    Pictures::All => "",
                    Pictures::Intra => "intra ",
                    Pictures::Inter => "inter ",
                },
                o.stages,
                o.lambda,
                o.step,
                if c != Component::Y && !o.cross.is_empty() {
                    format!(", cross-component inputs {:?}", o.cross)
                } else {
                    String::new()
                },
                match o.weighting {
                    crate::fit::Weighting::Samples => String::new(),
                    w => format!(", pictures weighted {w:?}"),
                },
                if c != Component::Y && o.colour_gain {
                    ", colour-gain channel node c1"
                } else {
                    ""
                },
                if other.is_some() && o.shared_chroma {
                    ", shared by U and V (fitted on both planes' samples)"
                } else {
                    ""
                }
            );
            writer.add_model(desc, |req| fitted.tables[&req.name].clone())?;
            if c == Component::U && opts.shared_chroma {
                shared.insert([lo, hi], fitted);
            }
        }
    }
    Ok((writer, summaries))
}

/// Filters a reconstruction with the container (model per component chosen by the slice QP and
/// the picture's kind, [`Container::select_for`]).
pub fn filter_picture(
    container: &Container,
    p: &Picture10,
    qp: i32,
    kind: Option<PictureKind>,
) -> Picture10 {
    let pic = p.view().expect("a consistent picture");
    let mut out = p.clone();
    for c in Component::ALL {
        let Some(model) = container.select_for(c, qp, kind) else {
            continue;
        };
        let (src, w, h) = plane(p, c);
        let mut dst = src.to_vec();
        model
            .filter_plane(
                &pic,
                &mut PlaneMut::new(&mut dst, w, w, h).expect("valid plane"),
            )
            .expect("the container's models run on 10-bit 4:2:0");
        match c {
            Component::Y => out.y = dst,
            Component::U => out.u = dst,
            Component::V => out.v = dst,
        }
    }
    out
}
