//! Keras weight files (`model.save_weights('x.h5')` and the official application files),
//! read in pure Rust (no crate maps Keras' layer groups onto a Burn module), and matched
//! onto a [`Network`].
//!
//! Layers with explicit names (`mixed0`, `block_1_expand`) match by name. Keras auto-names
//! the others by creation order (`conv2d_N`, `batch_normalization_N`) with a
//! session-dependent offset: the official InceptionV3 file counts from `conv2d_1`, a fresh
//! TF2 session from `conv2d`, a second model in the same session from `conv2d_94`. Those
//! match by the **rank** of their counter, which is the order of the Keras source.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use hdf5_pure::{AttrValue, File};

use super::named::NamedTensor;
use crate::error::{NetworkError, Result};
use crate::layer::LayerKind;
use crate::network::Network;

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

fn bad(path: &Path, reason: impl Into<String>) -> NetworkError {
    NetworkError::BadWeightFile { path: path.to_path_buf(), reason: reason.into() }
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

/// A Keras weight file opened and its layers, weight names and declared shapes read, but
/// no values: what is checked (against a network, against the file's size) before anything
/// of the size a file declares is allocated.
struct DeclaredFile {
    file: File,
    /// The layers with each weight's name and shape (values empty).
    contents: KerasWeightFile,
    /// Each layer's weights' dataset paths (`layer/weight_name`), in `contents`' order.
    datasets: HashMap<String, Vec<String>>,
    /// The file's length in bytes.
    size: u64,
}

impl DeclaredFile {
    /// Opens `path` and reads what it declares: fails with a typed error on a file that is
    /// not HDF5, is truncated, lacks the Keras `layer_names` / `weight_names` attributes,
    /// or has an unreadable dataset header.
    fn open(path: &Path) -> Result<Self> {
        let io = |source| NetworkError::Io { path: path.to_path_buf(), source };
        crate::files::regular_file(path).map_err(io)?;
        let size = std::fs::metadata(path).map_err(io)?.len();
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
        let (mut layers, mut datasets) = (Vec::new(), HashMap::new());
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
            let mut paths = Vec::with_capacity(weight_names.len());
            for weight_name in weight_names {
                let dataset_path = format!("{name}/{weight_name}");
                let dataset = file
                    .dataset(&dataset_path)
                    .map_err(|e| bad(path, format!("layer `{name}`: weight `{weight_name}` unreadable: {e}")))?;
                let shape = dataset
                    .shape()
                    .map_err(|e| bad(path, format!("layer `{name}`: weight `{weight_name}`: {e}")))?
                    .into_iter()
                    .map(|d| usize::try_from(d).unwrap_or(usize::MAX))
                    .collect();
                weights.push(KerasWeight { name: short_weight_name(&weight_name), shape, values: Vec::new() });
                paths.push(dataset_path);
            }
            datasets.insert(name.clone(), paths);
            layers.push(KerasLayer { name, weights });
        }
        Ok(Self { file, contents: KerasWeightFile { layers }, datasets, size })
    }

    /// The values of weight `weight` of `layer`, as Keras reads them into a float32 model:
    /// float32 as they are, float16, float64 and integers converted; other types (strings,
    /// records) are errors naming the weight. Stored bytes beyond the file's length (a
    /// dataset declared but never written, or one claiming more than the file holds) are
    /// refused before any allocation.
    fn values(&self, path: &Path, layer: &KerasLayer, weight: usize) -> Result<Vec<f32>> {
        let name = &layer.name;
        let dataset_path = &self.datasets[name][weight];
        let weight_name = &layer.weights[weight].name;
        let fail = |reason: String| bad(path, format!("layer `{name}`: weight `{weight_name}`: {reason}"));
        let dataset = self.file.dataset(dataset_path).map_err(|e| fail(e.to_string()))?;
        let datatype = dataset.datatype().map_err(|e| fail(e.to_string()))?;
        // Numbers only (integers too: `Normalization`'s `count` is an int64 scalar).
        let element = match &datatype {
            hdf5_pure::Datatype::FloatingPoint { size: size @ (2 | 4 | 8), .. } => u64::from(*size),
            hdf5_pure::Datatype::FixedPoint { size, .. } => u64::from(*size),
            _ => {
                let stored = dataset.dtype().map_or_else(|e| e.to_string(), |t| format!("{t:?}"));
                return Err(fail(format!("stored as {stored}, not numbers")));
            }
        };
        let count = layer.weights[weight].shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64));
        let bytes = count.and_then(|n| n.checked_mul(element));
        if bytes.is_none_or(|bytes| bytes > self.size) {
            return Err(fail(format!(
                "its declared shape {:?} needs more bytes than the whole file holds ({}): \
                 a dataset declared but not written, or a corrupt header",
                layer.weights[weight].shape, self.size
            )));
        }
        match datatype {
            hdf5_pure::Datatype::FloatingPoint { size: 2, byte_order, .. } => {
                let raw = dataset.read_raw().map_err(|e| fail(e.to_string()))?;
                let big = matches!(byte_order, hdf5_pure::DatatypeByteOrder::BigEndian);
                Ok(raw
                    .chunks_exact(2)
                    .map(|b| [b[0], b[1]])
                    .map(|b| if big { half::f16::from_be_bytes(b) } else { half::f16::from_le_bytes(b) })
                    .map(f32::from)
                    .collect())
            }
            _ => dataset.read_f32().map_err(|e| fail(e.to_string())),
        }
    }
}

impl KerasWeightFile {
    /// Reads every weighted layer of a Keras weight file, with its values (float16 and
    /// float64 weights converted to float32, as Keras loads them into a float32 model).
    ///
    /// Fails with a typed error on a file that is not HDF5, is truncated, lacks the Keras
    /// `layer_names` / `weight_names` attributes, has an unreadable dataset, or declares a
    /// weight larger than the file (checked before it is read).
    pub fn read(path: &Path) -> Result<Self> {
        let declared = DeclaredFile::open(path)?;
        let mut layers = declared.contents.layers.clone();
        for layer in &mut layers {
            for weight in 0..layer.weights.len() {
                layer.weights[weight].values = declared.values(path, layer, weight)?;
            }
        }
        Ok(Self { layers })
    }

    /// Reads a Keras weight file's layers, weight names and shapes without any value (each
    /// weight's `values` empty): what telling a file's network and width needs, at the cost
    /// of its headers only.
    pub fn read_declared(path: &Path) -> Result<Self> {
        Ok(DeclaredFile::open(path)?.contents)
    }
}

/// Maps the Keras weight file at `path` onto `network`'s parameters, reading each value
/// only after its declared shape matched the network's (a file declaring huge datasets is
/// an error before anything of that size is allocated). `accept` sees the declared layers
/// first (to refuse another network's file by its layer names).
pub(crate) fn load_keras_file(
    network: &Network,
    path: &Path,
    accept: impl FnOnce(&KerasWeightFile) -> Result<()>,
) -> Result<Vec<NamedTensor>> {
    let declared = DeclaredFile::open(path)?;
    accept(&declared.contents)?;
    paired_tensors(network, &declared.contents, path, |layer, weight| {
        declared.values(path, layer, weight).map(Cow::Owned)
    })
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

fn other(path: &Path, network: &Network, reason: String) -> NetworkError {
    NetworkError::OtherArchitecture {
        path: path.to_path_buf(),
        network: network.architecture().name().to_string(),
        reason,
    }
}

/// Pairs each weighted layer of the file with a layer of `network` (`None`: a layer of the
/// whole network after this model's cut, skipped).
fn pair_layers<'f>(
    network: &Network,
    file: &'f KerasWeightFile,
    path: &Path,
) -> Result<Vec<(&'f KerasLayer, Option<usize>)>> {
    let architecture = network.architecture();
    let held = architecture.layers();
    let whole = architecture.whole_in_creation_order();
    // Auto-named weighted layers by prefix, in creation order: of the whole network and held.
    let mut whole_auto: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for layer in whole.iter().filter(|l| l.auto_named && l.kind.has_weights()) {
        whole_auto.entry(layer.kind.auto_name_prefix()).or_default().push(&layer.name);
    }
    let mut file_auto: BTreeMap<&str, Vec<(usize, &KerasLayer)>> = BTreeMap::new();
    let mut pairs = Vec::new();
    for layer in &file.layers {
        if let Some(index) = held.iter().position(|l| !l.auto_named && l.name == layer.name) {
            pairs.push((layer, Some(index)));
        } else if whole.iter().any(|l| !l.auto_named && l.name == layer.name) {
            pairs.push((layer, None));
        } else if let Some((prefix, counter)) =
            whole_auto.keys().find_map(|p| auto_name_counter(&layer.name, p).map(|n| (*p, n)))
        {
            file_auto.entry(prefix).or_default().push((counter, layer));
        } else {
            return Err(other(path, network, format!("weighted layer `{}` is not part of it", layer.name)));
        }
    }
    for (prefix, mut layers) in file_auto {
        layers.sort_by_key(|(counter, _)| *counter);
        let whole_names = &whole_auto[prefix];
        let held_names: Vec<&str> =
            whole_names.iter().copied().filter(|name| held.iter().any(|l| l.name == *name)).collect();
        let names = match layers.len() {
            n if n == whole_names.len() => whole_names,
            n if n == held_names.len() => &held_names,
            n => {
                return Err(other(
                    path,
                    network,
                    format!(
                        "{n} {prefix} layers; {} has {}, and the model cut at {} holds {}",
                        architecture.name(),
                        whole_names.len(),
                        held[architecture.output()].name,
                        held_names.len()
                    ),
                ));
            }
        };
        for ((_, layer), name) in layers.into_iter().zip(names) {
            pairs.push((layer, held.iter().position(|l| l.name == *name)));
        }
    }
    Ok(pairs)
}

/// Maps a Keras weight file onto `network`'s parameters (module path -> values in Burn's
/// layout).
///
/// A file of the whole network loads into a model cut anywhere (the layers after the cut
/// are skipped); a file saved from a cut model loads into a model cut at the same layer.
pub fn keras_tensors(network: &Network, file: &KerasWeightFile, path: &Path) -> Result<Vec<NamedTensor>> {
    paired_tensors(network, file, path, |layer, weight| Ok(Cow::Borrowed(layer.weights[weight].values.as_slice())))
}

/// [`keras_tensors`] with each weight's values from `values(layer, weight index)`, asked for
/// only once every weight of the file has matched the network in name and shape.
fn paired_tensors<'f>(
    network: &Network,
    file: &'f KerasWeightFile,
    path: &Path,
    values: impl Fn(&'f KerasLayer, usize) -> Result<Cow<'f, [f32]>>,
) -> Result<Vec<NamedTensor>> {
    // Names and shapes first: (layer, weight index, our layer, our weight, key, Burn shape).
    let mut matched = Vec::new();
    for (layer, index) in pair_layers(network, file, path)? {
        let Some(index) = index else { continue };
        let weights = network.weights(index);
        let ours = &network.architecture().layers()[index];
        if let Some(extra) = layer.weights.iter().find(|w| !weights.iter().any(|ours| ours.keras_name() == w.name)) {
            let hint = match (&ours.kind, extra.name.as_str()) {
                (LayerKind::BatchNormalization { .. }, "gamma") => {
                    " (a batch norm with gamma: use the flavour the file was made for)"
                }
                _ => "",
            };
            return Err(other(
                path,
                network,
                format!("layer `{}` has a `{}` that `{}` does not have{hint}", layer.name, extra.name, ours.name),
            ));
        }
        for ours_weight in weights {
            let name = ours_weight.keras_name();
            let position = layer.weights.iter().position(|w| w.name == name).ok_or_else(|| {
                other(
                    path,
                    network,
                    format!(
                        "layer `{}` has no `{name}` (it has {:?}){}",
                        layer.name,
                        layer.weights.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
                        if name == "gamma" { ": the flavour needs a batch norm with gamma" } else { "" }
                    ),
                )
            })?;
            let weight = &layer.weights[position];
            let key = network.param_path(index, ours_weight).expect("a weight the layer holds");
            let burn_shape = super::named::parameter_shape(network, &key);
            let expected = ours.kind.keras_shape_of(ours_weight, &burn_shape);
            if weight.shape != expected {
                return Err(NetworkError::ShapeMismatch {
                    path: path.to_path_buf(),
                    layer: layer.name.clone(),
                    key: format!("{} ({name})", ours.name),
                    expected,
                    found: weight.shape.clone(),
                });
            }
            matched.push((layer, position, ours, ours_weight, key, burn_shape));
        }
    }
    let mut tensors = Vec::with_capacity(matched.len());
    for (layer, position, ours, ours_weight, key, burn_shape) in matched {
        let weight = &layer.weights[position];
        let values = values(layer, position)?;
        let values = ours.kind.to_burn_layout(ours_weight, &values, &weight.shape);
        tensors.push(NamedTensor::new(key, &layer.name, burn_shape, values));
    }
    Ok(tensors)
}

impl Network {
    /// Sets every parameter from a Keras weight file already read (e.g. one inspected
    /// first, or built in memory), matched by layer name or automatic-name rank as when
    /// loading from disk; all or nothing. `path` names the file in errors.
    pub fn with_keras_weights(self, file: &KerasWeightFile, path: &Path) -> Result<Network> {
        let tensors = keras_tensors(&self, file, path)?;
        super::named::apply_named(self, tensors, path)
    }
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
}
