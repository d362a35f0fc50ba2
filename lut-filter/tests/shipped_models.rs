//! The containers the project ships (`data/default.lut`, `data/ladder/*.lut`) open, validate
//! (format 1.3), and serve every component at the codec QPs with models for every picture and, for inter
//! pictures, with their inter models.

use std::path::PathBuf;

use lut_filter::{Component, Container, PictureKind, Pictures};

fn shipped() -> Vec<PathBuf> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data");
    let mut files = vec![data.join("default.lut")];
    let mut ladder: Vec<PathBuf> = std::fs::read_dir(data.join("ladder"))
        .expect("data/ladder exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "lut"))
        .collect();
    ladder.sort();
    files.extend(ladder);
    files
}

#[test]
fn shipped_containers_select_by_qp_and_slice_type() {
    let files = shipped();
    assert!(files.len() >= 3, "{files:?}");
    for path in files {
        let c = Container::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // 1.3: their luma models use the line patterns l and x (docs/fit.md, "Patterns").
        assert_eq!(c.version(), "1.3", "{}", path.display());
        for comp in Component::ALL {
            for qp in 17..=52 {
                let all = c.select(comp, qp).expect("a model for every picture");
                assert_eq!(all.description().pictures, Pictures::All);
                let intra = c.select_for(comp, qp, Some(PictureKind::Intra)).unwrap();
                assert_eq!(intra.description().name, all.description().name);
                let inter = c.select_for(comp, qp, Some(PictureKind::Inter)).unwrap();
                assert_eq!(
                    inter.description().pictures,
                    Pictures::Inter,
                    "{} {comp} QP {qp}",
                    path.display()
                );
                let [lo, hi] = inter.description().qp_range;
                assert!(lo <= qp && qp <= hi, "{} {comp} QP {qp}", path.display());
            }
        }
    }
}

/// The embedded default is `data/default.lut`.
#[test]
fn embedded_default_is_the_shipped_file() {
    let file = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/default.lut"))
        .unwrap();
    assert_eq!(lut_filter::default_model::bytes(), file.as_slice());
}

/// The default's models are of two kinds. Least-squares models, whose spatial nodes read the
/// patterns s, l, x (docs/fit.md, "Patterns"): luma, the inter U models (own plane), and the
/// cross-component chroma models for inter V and for the QP ranges without a network, whose three
/// nodes read their own plane, luma and the other chroma plane. And trained networks
/// (`lut-train`, notes say so) for chroma at the QP ranges of `NETWORK_CHROMA`: DESIGN §2's
/// cross-component chroma architecture (`presets::chroma_cross_component`, patterns s, d, y).
#[test]
fn every_default_model_is_a_line_pattern_fit_or_a_trained_chroma_network() {
    use lut_filter::description::presets;
    use lut_filter::{Node, Pattern, TableLayout};
    /// The chroma models for every picture taken from trained networks (data/MODEL.md).
    const NETWORK_CHROMA: [&str; 4] = ["u-qp28-32", "u-qp33-37", "v-qp28-32", "v-qp33-37"];
    // A node without its table layout (pruning picks one per node).
    let shape = |n: &Node| -> Node {
        let mut n = n.clone();
        if let Node::Spatial(s) = &mut n {
            s.table = TableLayout::Regular;
        }
        n
    };
    let c = lut_filter::default_model::open().unwrap();
    let mut networks = Vec::new();
    for m in &c.description().models {
        if m.notes.starts_with("lut-train") {
            assert_eq!(m.pictures, Pictures::All, "{}", m.name);
            let want = presets::chroma_cross_component(
                &m.name,
                m.component,
                m.qp_range,
                TableLayout::Regular,
                1,
                5,
            );
            let got: Vec<Node> = m.nodes.iter().map(shape).collect();
            assert_eq!(got, want.nodes, "{}", m.name);
            assert_eq!(m.output.terms, want.output.terms, "{}", m.name);
            networks.push(m.name.as_str());
            continue;
        }
        let mut inputs = Vec::new();
        for n in &m.nodes {
            if let Node::Spatial(s) = n {
                assert_eq!(
                    s.patterns,
                    [Pattern::S, Pattern::L, Pattern::X],
                    "{} {}",
                    m.name,
                    s.name
                );
                inputs.push(s.input.as_str());
            }
        }
        inputs.sort_unstable();
        let want: &[&str] = match (m.component, m.pictures) {
            (Component::Y, _) => &["in.y"],
            (Component::U, Pictures::Inter) => &["in.u"],
            (Component::U | Component::V, _) => &["in.u", "in.v", "in.y"],
        };
        assert_eq!(inputs, want, "{}", m.name);
    }
    networks.sort_unstable();
    assert_eq!(networks, NETWORK_CHROMA);
}
