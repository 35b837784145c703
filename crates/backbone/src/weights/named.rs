//! Weights keyed by the network's module paths, their layouts in Keras files, and their
//! all-or-nothing application to a [`Network`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use burn::store::{ModuleSnapshot, bridge};
use burn::tensor::TensorData;

use crate::error::{NetworkError, Result};
use crate::layer::LayerKind;
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
        for weight in network.weight_names(index) {
            if let Some(path) = network.param_path(index, weight) {
                names.push((path, format!("{} ({weight})", layer.name)));
            }
        }
    }
    names
}

/// The shape of a weight in a Keras file, from its shape in Burn's layout: conv kernels
/// `(rows, cols, in, out)` (depthwise `(rows, cols, channels, 1)`) for Burn's
/// `[out, in, rows, cols]`; everything else as it is.
pub(crate) fn keras_shape(kind: &LayerKind, burn: &[usize]) -> Vec<usize> {
    match (kind, burn) {
        (LayerKind::Conv2D { .. }, [o, i, r, c]) => vec![*r, *c, *i, *o],
        (LayerKind::DepthwiseConv2D { .. }, [ch, _, r, c]) => vec![*r, *c, *ch, 1],
        _ => burn.to_vec(),
    }
}

/// A weight's values from a Keras file's layout (`keras_shape`) to Burn's.
pub(crate) fn to_burn_layout(kind: &LayerKind, values: &[f32], keras: &[usize]) -> Vec<f32> {
    match (kind, keras) {
        (LayerKind::Conv2D { .. } | LayerKind::DepthwiseConv2D { .. }, &[rows, cols, cin, cout]) => {
            // Depthwise (rows, cols, channels, 1) is HWIO with in = channels, out = 1 read
            // as [channels, 1, rows, cols]: the same transposition with `in` and `out` swapped.
            let depthwise = matches!(kind, LayerKind::DepthwiseConv2D { .. });
            let mut out = vec![0.0; values.len()];
            for r in 0..rows {
                for c in 0..cols {
                    for i in 0..cin {
                        for o in 0..cout {
                            let burn = match depthwise {
                                false => ((o * cin + i) * rows + r) * cols + c,
                                true => ((i * cout + o) * rows + r) * cols + c,
                            };
                            out[burn] = values[((r * cols + c) * cin + i) * cout + o];
                        }
                    }
                }
            }
            out
        }
        _ => values.to_vec(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_layout_is_transposed() {
        let conv = LayerKind::Conv2D {
            filters: 2,
            kernel: [1, 2],
            strides: [1, 1],
            padding: crate::Padding::Valid,
            use_bias: false,
            activation: crate::Activation::Linear,
        };
        // rows=1, cols=2, in=1, out=2: HWIO [[[[a, b]], [[c, d]]]] -> OIHW [[[[a, c]]], [[[b, d]]]]
        assert_eq!(to_burn_layout(&conv, &[1.0, 2.0, 3.0, 4.0], &[1, 2, 1, 2]), vec![1.0, 3.0, 2.0, 4.0]);
        let depthwise = LayerKind::DepthwiseConv2D {
            kernel: [1, 2],
            strides: [1, 1],
            padding: crate::Padding::Valid,
            use_bias: false,
        };
        // rows=1, cols=2, channels=2: (1, 2, 2, 1) [[[a], [b]], [[c], [d]]] -> [2, 1, 1, 2] [[[[a, c]]], [[[b, d]]]]
        assert_eq!(to_burn_layout(&depthwise, &[1.0, 2.0, 3.0, 4.0], &[1, 2, 2, 1]), vec![1.0, 3.0, 2.0, 4.0]);
    }
}
