//! torchvision / timm weights (`.pth` state dicts and `.safetensors` with torchvision keys,
//! e.g. timm's `inception_v3.tv_in1k`), matched onto a [`Network`] through each layer's
//! [`crate::Layer::torch_path`].

use std::collections::BTreeMap;
use std::path::Path;

use burn::store::{ModuleStore, PytorchStore, SafetensorsStore, bridge};

use super::named::NamedTensor;
use crate::error::{NetworkError, Result};
use crate::layer::{LayerKind, Weight};
use crate::network::Network;

/// A state dict read into memory: key -> (shape, f32 values).
pub type StateDict = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// Reads every tensor of a torchvision state dict as `key -> (shape, f32 values)`.
///
/// `.safetensors` files are read as safetensors, anything else as a PyTorch checkpoint.
/// Keys are kept as written. `num_batches_tracked` counters are skipped, any other
/// integer tensor is an error naming it (no weight is an integer); a
/// `module.` prefix (DataParallel) is stripped.
pub fn read_state_dict(path: &Path) -> Result<StateDict> {
    let bad = |reason: String| NetworkError::BadWeightFile { path: path.to_path_buf(), reason };
    crate::files::regular_file(path).map_err(|source| NetworkError::Io { path: path.to_path_buf(), source })?;
    let is_safetensors = path.extension().is_some_and(|e| e == "safetensors");
    let tensors = if is_safetensors {
        // Read into memory: a file changed while it loads is an error, never a SIGBUS.
        let mut store = SafetensorsStore::from_bytes(Some(super::native::read_safetensors(path)?.bytes));
        store.get_all_tensors().map_err(|e| bad(format!("unreadable safetensors: {e}")))?.clone()
    } else {
        // Keys as torchvision wrote them: `classifier.1` stays `classifier.1` (Burn would
        // renumber the indices of a Sequential whose parameterless layers leave gaps).
        let mut store = PytorchStore::from_file(path).map_indices_contiguous(false);
        store.get_all_tensors().map_err(|e| bad(format!("unreadable PyTorch checkpoint: {e}")))?.clone()
    };
    let mut out = BTreeMap::new();
    for (key, tensor) in tensors {
        if key.ends_with("num_batches_tracked") {
            continue;
        }
        let data = bridge::to_data(&tensor).map_err(|e| bad(format!("tensor `{key}`: {e}")))?;
        if !data.dtype().is_float() {
            // No network's weights are integers: a model would report the key as missing.
            return Err(bad(format!("tensor `{key}` holds {:?} values, not floating-point weights", data.dtype())));
        }
        let shape = data.shape().to_vec();
        let values = data.convert::<f32>().try_into_vec::<f32>().map_err(|e| bad(format!("tensor `{key}`: {e:?}")))?;
        let key = key.strip_prefix("module.").unwrap_or(&key).to_string();
        out.insert(key, (shape, values));
    }
    Ok(out)
}

/// Maps a torchvision state dict onto `network`'s parameters, taking its tensors (no copy
/// but the transposition of a `Linear` weight).
///
/// Keys starting with one of `ignored` (auxiliary heads) are skipped, as are the layers of
/// the whole network after this model's cut; any other key that does not fit is an error.
pub fn torch_tensors(network: &Network, state: StateDict, path: &Path, ignored: &[&str]) -> Result<Vec<NamedTensor>> {
    let architecture = network.architecture();
    let mut mapping: BTreeMap<String, (usize, Weight)> = BTreeMap::new();
    for (index, layer) in architecture.layers().iter().enumerate() {
        let Some(prefix) = &layer.torch_path else { continue };
        for weight in network.weights(index) {
            mapping.insert(format!("{prefix}.{}", weight.torch_name()), (index, weight));
        }
    }
    let later: Vec<String> = architecture
        .whole_in_creation_order()
        .iter()
        .filter_map(|l| l.torch_path.as_ref().map(|p| format!("{p}.")))
        .collect();
    let mut tensors = Vec::new();
    for (key, (shape, values)) in state {
        if let Some(&(index, weight)) = mapping.get(&key) {
            let param = network.param_path(index, weight).expect("a weight the layer holds");
            let (shape, values) = match (&architecture.layers()[index].kind, shape.as_slice()) {
                // torch Linear weight (out, in) -> Burn [in, out].
                (LayerKind::Dense { .. }, &[outputs, inputs]) if weight == Weight::Kernel => {
                    let mut transposed = vec![0.0; values.len()];
                    for o in 0..outputs {
                        for i in 0..inputs {
                            transposed[i * outputs + o] = values[o * inputs + i];
                        }
                    }
                    (vec![inputs, outputs], transposed)
                }
                _ => (shape, values),
            };
            tensors.push(NamedTensor::new(param, &key, shape, values));
        } else if ignored.iter().any(|prefix| key.starts_with(prefix)) || later.iter().any(|p| key.starts_with(p)) {
            continue;
        } else {
            return Err(NetworkError::OtherArchitecture {
                path: path.to_path_buf(),
                network: architecture.name().to_string(),
                reason: format!("key `{key}` is not a torchvision parameter of it"),
            });
        }
    }
    Ok(tensors)
}
