//! Weights keyed by the network's module paths, their layouts in Keras files, and their
//! all-or-nothing application to a [`Network`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use burn::store::{ModuleSnapshot, bridge};
use burn::tensor::TensorData;

use crate::error::{NetworkError, Result};
use crate::network::Network;

/// One parameter's values, already in Burn's layout, keyed by its module path.
#[derive(Debug, Clone)]
pub struct NamedTensor {
    /// Module path in the network (`params.12.Conv.kernel`).
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

/// The parameter paths and shapes `network` holds.
pub(crate) fn parameter_shapes(network: &Network) -> BTreeMap<String, Vec<usize>> {
    network.collect(None, None, false).into_iter().map(|tensor| (tensor.name.clone(), tensor.shape.to_vec())).collect()
}

/// The shape of one parameter of `network` (empty if it has none at `key`).
pub(crate) fn parameter_shape(network: &Network, key: &str) -> Vec<usize> {
    parameter_shapes(network).remove(key).unwrap_or_default()
}

/// Every parameter path of `network` in layer order, with `layer (weight)` for messages.
pub(crate) fn parameter_names(network: &Network) -> Vec<(String, String)> {
    let mut names = Vec::new();
    for (index, layer) in network.architecture().layers().iter().enumerate() {
        for weight in network.weights(index) {
            if let Some(path) = network.param_path(index, weight) {
                names.push((path, format!("{} ({})", layer.name, weight.keras_name())));
            }
        }
    }
    names
}

/// Sets every parameter of `network` from `tensors`, or fails without a partial load: a
/// parameter left unset, a tensor of the wrong shape, or a tensor the network has no place
/// for is an error naming the layer and its source in `path`.
pub fn apply_named(mut network: Network, tensors: Vec<NamedTensor>, path: &Path) -> Result<Network> {
    let expected = parameter_shapes(&network);
    let names = parameter_names(&network);
    let name_of = |key: &str| names.iter().find(|(k, _)| k == key).map_or_else(|| key.to_string(), |(_, n)| n.clone());
    let mut seen = BTreeSet::new();
    for tensor in &tensors {
        let Some(shape) = expected.get(&tensor.key) else {
            return Err(NetworkError::OtherArchitecture {
                path: path.to_path_buf(),
                network: network.architecture().name().to_string(),
                reason: format!("`{}` has no place in the model (parameter {})", tensor.source, tensor.key),
            });
        };
        if *shape != tensor.shape {
            return Err(NetworkError::ShapeMismatch {
                path: path.to_path_buf(),
                layer: tensor.source.clone(),
                key: name_of(&tensor.key),
                expected: shape.clone(),
                found: tensor.shape.clone(),
            });
        }
        seen.insert(tensor.key.as_str());
    }
    let missing: Vec<&String> = names.iter().map(|(key, _)| key).filter(|key| !seen.contains(key.as_str())).collect();
    if let Some(first) = missing.first() {
        return Err(NetworkError::MissingWeights {
            path: path.to_path_buf(),
            missing: name_of(first),
            more: missing.len() - 1,
        });
    }
    let packs =
        tensors.into_iter().map(|t| bridge::from_data(TensorData::new(t.values, t.shape), t.key, None)).collect();
    let result = network.apply(packs, None, None, false);
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(NetworkError::BadWeightFile {
            path: path.to_path_buf(),
            reason: format!("applying the weights failed: {result}"),
        });
    }
    Ok(network)
}
