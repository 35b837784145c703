//! The conv units a model holds, located in Keras' creation order, in this crate's module
//! tree and in torchvision's state dict: the one table every weight format maps through.

use crate::blocks::{InceptionA, InceptionB, InceptionC, InceptionD, InceptionE, Stem};
use crate::conv_bn::BasicConv2d;
use crate::model::InceptionV3;

/// Total conv units of the full network (Keras `conv2d_1` .. `conv2d_94`).
pub const FULL_UNIT_COUNT: usize = 94;

/// The blocks in network (and Keras creation) order: field in [`InceptionV3`], torchvision
/// name, and unit names in creation order.
const BLOCKS: [(&str, &str, &[&str]); 12] = [
    ("stem", "", &Stem::UNITS),
    ("mixed0", "Mixed_5b", &InceptionA::UNITS),
    ("mixed1", "Mixed_5c", &InceptionA::UNITS),
    ("mixed2", "Mixed_5d", &InceptionA::UNITS),
    ("mixed3", "Mixed_6a", &InceptionB::UNITS),
    ("mixed4", "Mixed_6b", &InceptionC::UNITS),
    ("mixed5", "Mixed_6c", &InceptionC::UNITS),
    ("mixed6", "Mixed_6d", &InceptionC::UNITS),
    ("mixed7", "Mixed_6e", &InceptionC::UNITS),
    ("mixed8", "Mixed_7a", &InceptionD::UNITS),
    ("mixed9", "Mixed_7b", &InceptionE::UNITS),
    ("mixed10", "Mixed_7c", &InceptionE::UNITS),
];

/// Where a conv unit of the full network sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitPlace {
    /// Position in Keras creation order (0..94): the rank of the unit's `conv2d_N` /
    /// `batch_normalization_N` suffix in a Keras file of the full base.
    pub keras_index: usize,
    /// Block field in [`InceptionV3`] (`mixed0`, or `stem`).
    pub block: &'static str,
    /// Module path in this crate (`mixed0.branch1x1`).
    pub path: String,
    /// Module path in torchvision's `Inception3` (`Mixed_5b.branch1x1`, `Conv2d_1a_3x3`).
    pub torchvision_path: String,
}

/// All 94 conv units of the full network, in Keras creation order.
pub fn all_unit_places() -> Vec<UnitPlace> {
    let mut places = Vec::with_capacity(FULL_UNIT_COUNT);
    for (block, torchvision, names) in BLOCKS {
        for name in names {
            let torchvision_path = match torchvision {
                "" => {
                    let mut capitalised = name.to_string();
                    capitalised[..1].make_ascii_uppercase();
                    capitalised
                }
                prefix => format!("{prefix}.{name}"),
            };
            places.push(UnitPlace {
                keras_index: places.len(),
                block,
                path: format!("{block}.{name}"),
                torchvision_path,
            });
        }
    }
    places
}

/// One conv unit a model holds, with its place.
pub struct HeldUnit<'a> {
    /// Where it sits in the full network.
    pub place: UnitPlace,
    /// The unit.
    pub unit: &'a BasicConv2d,
}

impl InceptionV3 {
    /// The units of each held block, by block field.
    fn held_blocks(&self) -> Vec<(&'static str, Vec<(&'static str, &BasicConv2d)>)> {
        let mut blocks = vec![("stem", self.stem.units())];
        let a = [("mixed0", &self.mixed0), ("mixed1", &self.mixed1), ("mixed2", &self.mixed2)];
        blocks.extend(a.into_iter().filter_map(|(f, b)| b.as_ref().map(|b| (f, b.units()))));
        blocks.extend(self.mixed3.as_ref().map(|b| ("mixed3", b.units())));
        let c = [("mixed4", &self.mixed4), ("mixed5", &self.mixed5), ("mixed6", &self.mixed6), ("mixed7", &self.mixed7)];
        blocks.extend(c.into_iter().filter_map(|(f, b)| b.as_ref().map(|b| (f, b.units()))));
        blocks.extend(self.mixed8.as_ref().map(|b| ("mixed8", b.units())));
        let e = [("mixed9", &self.mixed9), ("mixed10", &self.mixed10)];
        blocks.extend(e.into_iter().filter_map(|(f, b)| b.as_ref().map(|b| (f, b.units()))));
        blocks
    }

    /// Every conv unit this model holds, in Keras creation order.
    pub fn conv_units(&self) -> Vec<HeldUnit<'_>> {
        let places = all_unit_places();
        let mut held = Vec::with_capacity(FULL_UNIT_COUNT);
        for (block, units) in self.held_blocks() {
            for (name, unit) in units {
                let path = format!("{block}.{name}");
                if let Some(place) = places.iter().find(|p| p.path == path) {
                    held.push(HeldUnit { place: place.clone(), unit });
                }
            }
        }
        held
    }
}

impl InceptionV3 {
    /// Every conv unit this model holds, mutably, in Keras creation order.
    pub fn conv_units_mut(&mut self) -> Vec<&mut BasicConv2d> {
        let mut units = self.stem.units_mut();
        for block in [&mut self.mixed0, &mut self.mixed1, &mut self.mixed2].into_iter().flatten() {
            units.extend(block.units_mut());
        }
        units.extend(self.mixed3.iter_mut().flat_map(|b| b.units_mut()));
        for block in [&mut self.mixed4, &mut self.mixed5, &mut self.mixed6, &mut self.mixed7].into_iter().flatten() {
            units.extend(block.units_mut());
        }
        units.extend(self.mixed8.iter_mut().flat_map(|b| b.units_mut()));
        for block in [&mut self.mixed9, &mut self.mixed10].into_iter().flatten() {
            units.extend(block.units_mut());
        }
        units
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_94_units_with_torchvision_names() {
        let places = all_unit_places();
        assert_eq!(places.len(), FULL_UNIT_COUNT);
        assert_eq!(places[0].torchvision_path, "Conv2d_1a_3x3");
        assert_eq!(places[5].path, "mixed0.branch1x1");
        assert_eq!(places[93].torchvision_path, "Mixed_7c.branch_pool");
    }
}
