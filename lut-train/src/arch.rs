//! The architectures the trainer knows, as model descriptions (`lut_filter` presets).

use lut_filter::description::{Component, ModelDescription, TableLayout, presets};
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// A member of the LUT-ILF family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// One spatial stage (patterns s, d, y): 5x5 receptive field.
    Cascade1,
    /// Two cascaded stages: 9x9.
    Cascade2,
    /// Three cascaded stages: 13x13.
    Cascade3,
    /// The RF-1 luma reference architecture (luma only): about 17x17.
    LumaRef,
    /// The cross-component chroma architecture (U or V).
    ChromaCc,
}

impl Arch {
    /// All, in command-line order.
    pub const ALL: [Arch; 5] = [
        Arch::Cascade1,
        Arch::Cascade2,
        Arch::Cascade3,
        Arch::LumaRef,
        Arch::ChromaCc,
    ];

    /// Command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Cascade1 => "cascade1",
            Arch::Cascade2 => "cascade2",
            Arch::Cascade3 => "cascade3",
            Arch::LumaRef => "luma-ref",
            Arch::ChromaCc => "chroma-cc",
        }
    }

    /// Default residual scale shift (with scale 1): 1/16 code per table unit for one output
    /// term (12 look-ups: +-95 codes at most), 1/32 for three output terms.
    pub fn default_scale_shift(self) -> u8 {
        match self {
            Arch::Cascade1 | Arch::Cascade2 | Arch::Cascade3 => 4,
            Arch::LumaRef | Arch::ChromaCc => 5,
        }
    }

    /// The model description (`name`, component, QP range, table layout `lut-build` should
    /// build, residual scale).
    pub fn description(
        self,
        name: &str,
        component: Component,
        qp_range: [i32; 2],
        layout: TableLayout,
        scale: i32,
        scale_shift: u8,
    ) -> Result<ModelDescription, TrainError> {
        let cascade = |stages| {
            Ok(presets::cascade(
                name,
                component,
                qp_range,
                stages,
                layout,
                scale,
                scale_shift,
            ))
        };
        match self {
            Arch::Cascade1 => cascade(1),
            Arch::Cascade2 => cascade(2),
            Arch::Cascade3 => cascade(3),
            Arch::LumaRef if component == Component::Y => Ok(presets::luma_reference(
                name,
                qp_range,
                layout,
                scale,
                scale_shift,
            )),
            Arch::LumaRef => Err(TrainError::Options(
                "luma-ref filters luma: use --component y".into(),
            )),
            Arch::ChromaCc if component != Component::Y => Ok(presets::chroma_cross_component(
                name,
                component,
                qp_range,
                layout,
                scale,
                scale_shift,
            )),
            Arch::ChromaCc => Err(TrainError::Options(
                "chroma-cc filters chroma: use --component u or v".into(),
            )),
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Arch::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown architecture '{s}' (cascade1, cascade2, cascade3, luma-ref, chroma-cc)"
                )
            })
    }
}
