//! Weights keyed by this crate's module paths, and their all-or-nothing application to a model.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use burn::store::{ModuleSnapshot, bridge};
use burn::tensor::TensorData;

use crate::error::{InceptionError, Result};
use crate::model::InceptionV3;

/// One parameter's values, already in Burn's layout, keyed by its module path.
#[derive(Debug, Clone)]
pub struct NamedTensor {
    /// Module path in this crate (`mixed0.branch1x1.conv.weight`).
    pub key: String,
    /// Where it came from in the file (layer or key), for error messages.
    pub source: String,
    /// Shape in Burn's layout.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f32>,
}

impl NamedTensor {
    /// Creates a named tensor.
    pub fn new(key: String, source: &str, shape: Vec<usize>, values: Vec<f32>) -> Self {
        Self { key, source: source.to_string(), shape, values }
    }
}

/// The parameter paths and shapes `model` holds.
pub(crate) fn parameter_shapes(model: &InceptionV3) -> BTreeMap<String, Vec<usize>> {
    model
        .collect(None, None, false)
        .into_iter()
        .map(|tensor| (tensor.name.clone(), tensor.shape.to_vec()))
        .collect()
}

/// Sets every parameter of `model` from `tensors`, or fails without a partial load: a
/// parameter left unset, a tensor of the wrong shape, or a tensor the model has no place
/// for is an error naming the parameter and its source in `path`.
pub fn apply_named(mut model: InceptionV3, tensors: Vec<NamedTensor>, path: &Path) -> Result<InceptionV3> {
    let expected = parameter_shapes(&model);
    let mut seen = BTreeSet::new();
    for tensor in &tensors {
        let Some(shape) = expected.get(&tensor.key) else {
            return Err(InceptionError::OtherArchitecture {
                path: path.to_path_buf(),
                reason: format!("`{}` has no place in this model (parameter {})", tensor.source, tensor.key),
            });
        };
        if *shape != tensor.shape {
            return Err(InceptionError::ShapeMismatch {
                path: path.to_path_buf(),
                layer: tensor.source.clone(),
                key: tensor.key.clone(),
                expected: shape.clone(),
                found: tensor.shape.clone(),
            });
        }
        seen.insert(tensor.key.as_str());
    }
    let missing: Vec<&String> = expected.keys().filter(|key| !seen.contains(key.as_str())).collect();
    if let Some(first) = missing.first() {
        return Err(InceptionError::MissingWeights {
            path: path.to_path_buf(),
            missing: (*first).clone(),
            more: missing.len() - 1,
        });
    }
    let packs = tensors
        .into_iter()
        .map(|t| bridge::from_data(TensorData::new(t.values, t.shape), t.key, None))
        .collect();
    let result = model.apply(packs, None, None, false);
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(InceptionError::BadWeightFile {
            path: path.to_path_buf(),
            reason: format!("applying the weights failed: {result}"),
        });
    }
    Ok(model)
}
