//! Merging containers: one container's models for some components, another's for the rest
//! (e.g. a 2-stage luma model with the default chroma models). Tables are copied byte for byte.

use lut_filter::plan::{RequiredKind, required_tensors};
use lut_filter::{Component, ContainerWriter, ModelDescription};

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
    let mut writer = ContainerWriter::new();
    for desc in &base.container().description().models {
        if keep_base || !components.contains(&desc.component) {
            copy_model(&mut writer, base, desc)?;
        }
    }
    for desc in &take.container().description().models {
        if components.contains(&desc.component) {
            copy_model(&mut writer, take, desc)?;
        }
    }
    Ok(writer)
}
