//! Merging containers: one container's models for some components, another's for the rest
//! (e.g. a 2-stage luma model with the default chroma models). Tables are copied byte for byte.

use lut_filter::plan::{RequiredKind, required_tensors};
use lut_filter::{Component, ContainerWriter, ModelDescription, Pictures};

use crate::compact::{CompactError, Source};

/// Copies one model (description and tensors, stored fine indexes included) of `source`.
pub fn copy_model(
    writer: &mut ContainerWriter,
    source: &Source,
    desc: &ModelDescription,
) -> Result<(), CompactError> {
    let mut tables = std::collections::HashMap::new();
    let mut indexes = Vec::new();
    for req in required_tensors(desc) {
        match req.kind {
            RequiredKind::Table => {
                tables.insert(req.name.clone(), source.i8_tensor(&req.name)?.to_vec());
            }
            RequiredKind::FineIndex => {
                if let Some(index) = source.index_tensor(&req.name)? {
                    indexes.push((req.name.clone(), index));
                }
            }
        }
    }
    writer.add_model(desc.clone(), |req| {
        tables.remove(&req.name).unwrap_or_default()
    })?;
    for (name, index) in indexes {
        writer.add_index(&name, &index);
    }
    Ok(())
}

/// The models of `base`, except that the components in `components` come from `take`
/// (all of `take`'s models of those components, none of `base`'s); with `keep_base`, `take`'s
/// models of those components are added beside all of `base`'s (e.g. inter models beside
/// intra ones).
pub fn merge(
    base: &Source,
    take: &Source,
    components: &[Component],
    keep_base: bool,
) -> Result<ContainerWriter, CompactError> {
    merge_selected(base, take, components, None, &[], keep_base)
}

/// [`merge`] restricted to the models of `components` meant for `pictures` (`None`: any) whose
/// slice-QP range is one of `qp_ranges` (empty: any): only those of `base` are replaced (or,
/// with `keep_base`, kept beside), only those of `take` are taken. E.g. `Some(Pictures::Inter)`
/// replaces a container's inter luma models and keeps its luma models for every picture;
/// `&[[33, 37]]` replaces one QP range's models and keeps the others.
pub fn merge_selected(
    base: &Source,
    take: &Source,
    components: &[Component],
    pictures: Option<Pictures>,
    qp_ranges: &[[i32; 2]],
    keep_base: bool,
) -> Result<ContainerWriter, CompactError> {
    let selected = |d: &ModelDescription| {
        components.contains(&d.component)
            && pictures.is_none_or(|p| d.pictures == p)
            && (qp_ranges.is_empty() || qp_ranges.contains(&d.qp_range))
    };
    let mut writer = ContainerWriter::new();
    for desc in &base.container().description().models {
        if keep_base || !selected(desc) {
            copy_model(&mut writer, base, desc)?;
        }
    }
    for desc in &take.container().description().models {
        if selected(desc) {
            copy_model(&mut writer, take, desc)?;
        }
    }
    Ok(writer)
}
