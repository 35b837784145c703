//! Keras weight files (`model.save_weights('x.h5')` and the official
//! `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`), read in pure Rust.
//!
//! Keras auto-names layers by creation order (`conv2d_N`, `batch_normalization_N`) with a
//! session-dependent offset: the official file counts from `conv2d_1`, a fresh TF2 session
//! from `conv2d`, a second model in the same session from `conv2d_94`. Units are therefore
//! matched by the **rank** of their suffix, which is the order of the Keras source, not by
//! the literal name.

use std::collections::HashMap;
use std::path::Path;

use hdf5_pure::{AttrValue, File};

use super::named::NamedTensor;
use crate::conv_bn::BasicConv2d;
use crate::error::{InceptionError, Result};
use crate::model::InceptionV3;
use crate::units::FULL_UNIT_COUNT;

/// One weight array of a Keras layer.
#[derive(Debug, Clone)]
pub struct KerasWeight {
    /// Weight name without the layer prefix and `:0` suffix (`kernel`, `beta`, `moving_mean`).
    pub name: String,
    /// Shape as stored (Keras layout, e.g. conv kernels `(rows, cols, in, out)`).
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f32>,
}

/// A Keras layer that has weights.
#[derive(Debug, Clone)]
pub struct KerasLayer {
    /// Layer name (`conv2d_5`).
    pub name: String,
    /// Its weights, in the file's `weight_names` order.
    pub weights: Vec<KerasWeight>,
}

/// The weighted layers of a Keras `.h5` weight file, in the file's (`model.layers`) order.
#[derive(Debug, Clone)]
pub struct KerasWeightFile {
    /// Layers with weights; layers without weights are left out.
    pub layers: Vec<KerasLayer>,
}

fn bad(path: &Path, reason: impl Into<String>) -> InceptionError {
    InceptionError::BadWeightFile { path: path.to_path_buf(), reason: reason.into() }
}

/// Reads a Keras attribute holding a list of strings (`layer_names`, `weight_names`),
/// including the split form `name0`, `name1`, ... Keras uses above 64 KB.
fn string_list(attrs: &HashMap<String, AttrValue>, key: &str) -> Option<Vec<String>> {
    if let Some(value) = attrs.get(key) {
        return match value {
            // h5py stores an empty list as an empty float64 array.
            AttrValue::F64Array(values) if values.is_empty() => Some(Vec::new()),
            other => other.as_strings().map(<[String]>::to_vec),
        };
    }
    let mut all = Vec::new();
    for chunk in 0.. {
        match attrs.get(&format!("{key}{chunk}")).and_then(AttrValue::as_strings) {
            Some(part) => all.extend_from_slice(part),
            None if chunk == 0 => return None,
            None => break,
        }
    }
    Some(all)
}

impl KerasWeightFile {
    /// Reads every weighted layer of a Keras weight file.
    ///
    /// Fails with a typed error on a file that is not HDF5, is truncated, lacks the Keras
    /// `layer_names` / `weight_names` attributes, or has an unreadable dataset.
    pub fn read(path: &Path) -> Result<Self> {
        let size = std::fs::metadata(path)
            .map_err(|source| InceptionError::Io { path: path.to_path_buf(), source })?
            .len();
        let file = File::open(path).map_err(|e| bad(path, format!("not a readable HDF5 file: {e}")))?;
        let eof = file.superblock().eof_address;
        if eof > size {
            return Err(bad(path, format!("truncated: the file says it is {eof} bytes long, it is {size}")));
        }
        let root = file.root();
        let attrs = root.attrs().map_err(|e| bad(path, format!("unreadable root attributes: {e}")))?;
        let names = string_list(&attrs, "layer_names").ok_or_else(|| {
            bad(path, "no `layer_names` attribute: not a Keras weight file (model.save_weights writes one)")
        })?;
        let mut layers = Vec::new();
        for name in names {
            let group = file
                .group(&name)
                .map_err(|e| bad(path, format!("layer `{name}` listed but its group is unreadable: {e}")))?;
            let group_attrs =
                group.attrs().map_err(|e| bad(path, format!("layer `{name}`: unreadable attributes: {e}")))?;
            let weight_names = string_list(&group_attrs, "weight_names")
                .ok_or_else(|| bad(path, format!("layer `{name}` has no readable `weight_names` attribute")))?;
            if weight_names.is_empty() {
                continue;
            }
            let mut weights = Vec::with_capacity(weight_names.len());
            for weight_name in weight_names {
                let dataset = file
                    .dataset(&format!("{name}/{weight_name}"))
                    .map_err(|e| bad(path, format!("layer `{name}`: weight `{weight_name}` unreadable: {e}")))?;
                let shape = dataset
                    .shape()
                    .map_err(|e| bad(path, format!("layer `{name}`: weight `{weight_name}`: {e}")))?
                    .into_iter()
                    .map(|d| d as usize)
                    .collect();
                let values = dataset
                    .read_f32()
                    .map_err(|e| bad(path, format!("layer `{name}`: weight `{weight_name}`: {e}")))?;
                weights.push(KerasWeight { name: short_weight_name(&weight_name), shape, values });
            }
            layers.push(KerasLayer { name, weights });
        }
        Ok(Self { layers })
    }
}

/// `conv2d_5/kernel:0` -> `kernel`.
fn short_weight_name(full: &str) -> String {
    let last = full.rsplit('/').next().unwrap_or(full);
    last.split(':').next().unwrap_or(last).to_string()
}

/// The creation counter of a Keras auto-name: `conv2d` -> 0, `conv2d_17` -> 17; `None` if
/// `name` is not `prefix` or `prefix_N`.
fn auto_name_counter(name: &str, prefix: &str) -> Option<usize> {
    let rest = name.strip_prefix(prefix)?;
    if rest.is_empty() {
        return Some(0);
    }
    rest.strip_prefix('_')?.parse().ok()
}

/// The file's layers of one kind, sorted by creation counter.
fn ranked<'f>(layers: &[&'f KerasLayer], prefix: &str) -> Vec<&'f KerasLayer> {
    let mut kind: Vec<(usize, &KerasLayer)> = layers
        .iter()
        .filter_map(|layer| auto_name_counter(&layer.name, prefix).map(|n| (n, *layer)))
        .collect();
    kind.sort_by_key(|(n, _)| *n);
    kind.into_iter().map(|(_, layer)| layer).collect()
}

fn weight<'l>(path: &Path, layer: &'l KerasLayer, name: &str) -> Result<&'l KerasWeight> {
    layer.weights.iter().find(|w| w.name == name).ok_or_else(|| InceptionError::OtherArchitecture {
        path: path.to_path_buf(),
        reason: format!(
            "layer `{}` has no `{name}` (it has {:?})",
            layer.name,
            layer.weights.iter().map(|w| w.name.as_str()).collect::<Vec<_>>()
        ),
    })
}

fn check_shape(path: &Path, layer: &str, key: &str, found: &[usize], expected: &[usize]) -> Result<()> {
    if found != expected {
        return Err(InceptionError::ShapeMismatch {
            path: path.to_path_buf(),
            layer: layer.to_string(),
            key: key.to_string(),
            expected: expected.to_vec(),
            found: found.to_vec(),
        });
    }
    Ok(())
}

/// Conv kernel `(rows, cols, in, out)` -> Burn `[out, in, rows, cols]`.
fn hwio_to_oihw(values: &[f32], [rows, cols, cin, cout]: [usize; 4]) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            for i in 0..cin {
                for o in 0..cout {
                    out[((o * cin + i) * rows + r) * cols + c] = values[((r * cols + c) * cin + i) * cout + o];
                }
            }
        }
    }
    out
}

fn unit_tensors(
    path: &Path,
    model_path: &str,
    unit: &BasicConv2d,
    conv: &KerasLayer,
    bn: &KerasLayer,
    out: &mut Vec<NamedTensor>,
) -> Result<()> {
    let [o, i, r, c] = unit.conv.weight.dims();
    let kernel = weight(path, conv, "kernel")?;
    check_shape(path, &conv.name, &format!("{model_path}.conv.weight"), &kernel.shape, &[r, c, i, o])?;
    out.push(NamedTensor::new(
        format!("{model_path}.conv.weight"),
        &conv.name,
        vec![o, i, r, c],
        hwio_to_oihw(&kernel.values, [r, c, i, o]),
    ));
    let has_gamma = bn.weights.iter().any(|w| w.name == "gamma");
    if has_gamma != unit.bn.gamma.is_some() {
        return Err(InceptionError::OtherArchitecture {
            path: path.to_path_buf(),
            reason: format!(
                "batch norm `{}` {} gamma but the {} flavour {} one (use the flavour the file was made for)",
                bn.name,
                if has_gamma { "has" } else { "has no" },
                if unit.bn.gamma.is_some() { "torchvision" } else { "keras" },
                if unit.bn.gamma.is_some() { "needs" } else { "has no" },
            ),
        });
    }
    let mut names = vec![("beta", "beta"), ("moving_mean", "moving_mean"), ("moving_variance", "moving_variance")];
    if has_gamma {
        names.insert(0, ("gamma", "gamma"));
    }
    let channels = unit.bn.num_features();
    for (file_name, field) in names {
        let w = weight(path, bn, file_name)?;
        let key = format!("{model_path}.bn.{field}");
        check_shape(path, &bn.name, &key, &w.shape, &[channels])?;
        out.push(NamedTensor::new(key, &bn.name, vec![channels], w.values.clone()));
    }
    Ok(())
}

/// Maps a Keras weight file onto `model`'s parameters (model path -> values in Burn layout).
///
/// A file of the full base loads into a model cut anywhere (the layers after the cut are
/// skipped); a file saved from a cut model loads into a model cut at the same layer.
pub fn keras_tensors(model: &InceptionV3, file: &KerasWeightFile, path: &Path) -> Result<Vec<NamedTensor>> {
    let weighted: Vec<&KerasLayer> = file.layers.iter().collect();
    let known = |name: &str| {
        auto_name_counter(name, "conv2d").is_some()
            || auto_name_counter(name, "batch_normalization").is_some()
            || name == "predictions"
    };
    if let Some(stranger) = weighted.iter().find(|layer| !known(&layer.name)) {
        return Err(InceptionError::OtherArchitecture {
            path: path.to_path_buf(),
            reason: format!(
                "weighted layer `{}` is not part of InceptionV3 (expected conv2d_N, batch_normalization_N, predictions)",
                stranger.name
            ),
        });
    }
    let convs = ranked(&weighted, "conv2d");
    let bns = ranked(&weighted, "batch_normalization");
    let units = model.conv_units();
    if convs.len() != bns.len() {
        return Err(InceptionError::OtherArchitecture {
            path: path.to_path_buf(),
            reason: format!("{} conv layers but {} batch norms", convs.len(), bns.len()),
        });
    }
    let full_file = convs.len() == FULL_UNIT_COUNT;
    if !full_file && convs.len() != units.len() {
        return Err(InceptionError::OtherArchitecture {
            path: path.to_path_buf(),
            reason: format!(
                "{} conv layers; InceptionV3 has {FULL_UNIT_COUNT}, and the model cut at {} holds {}",
                convs.len(),
                model.cut,
                units.len()
            ),
        });
    }
    let mut tensors = Vec::new();
    for (rank, held) in units.iter().enumerate() {
        let index = if full_file { held.place.keras_index } else { rank };
        unit_tensors(path, &held.place.path, held.unit, convs[index], bns[index], &mut tensors)?;
    }
    let predictions = weighted.iter().find(|layer| layer.name == "predictions");
    if let (Some(top), Some(layer)) = (&model.top, predictions) {
        let [input, classes] = top.fc.weight.dims();
        let kernel = weight(path, layer, "kernel")?;
        check_shape(path, &layer.name, "top.fc.weight", &kernel.shape, &[input, classes])?;
        tensors.push(NamedTensor::new("top.fc.weight".into(), &layer.name, vec![input, classes], kernel.values.clone()));
        let bias = weight(path, layer, "bias")?;
        check_shape(path, &layer.name, "top.fc.bias", &bias.shape, &[classes])?;
        tensors.push(NamedTensor::new("top.fc.bias".into(), &layer.name, vec![classes], bias.values.clone()));
    }
    Ok(tensors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_names_rank_by_counter() {
        assert_eq!(auto_name_counter("conv2d", "conv2d"), Some(0));
        assert_eq!(auto_name_counter("conv2d_94", "conv2d"), Some(94));
        assert_eq!(auto_name_counter("conv2d_transpose", "conv2d"), None);
        assert_eq!(auto_name_counter("batch_normalization_3", "conv2d"), None);
    }

    #[test]
    fn kernel_layout_is_transposed() {
        // rows=1, cols=2, in=1, out=2: HWIO [[[[a, b]], [[c, d]]]] -> OIHW [[[[a, c]]], [[[b, d]]]]
        assert_eq!(hwio_to_oihw(&[1.0, 2.0, 3.0, 4.0], [1, 2, 1, 2]), vec![1.0, 3.0, 2.0, 4.0]);
    }
}
