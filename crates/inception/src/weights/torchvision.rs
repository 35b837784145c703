//! torchvision / timm InceptionV3 weights (`.pth` state dicts and `.safetensors` with
//! torchvision keys, e.g. timm's `inception_v3.tv_in1k`).

use std::collections::BTreeMap;
use std::path::Path;

use burn::store::{ModuleStore, PytorchStore, SafetensorsStore, bridge};

use super::named::NamedTensor;
use crate::error::{InceptionError, Result};
use crate::model::InceptionV3;
use crate::units::all_unit_places;

/// A state dict read into memory: key -> (shape, f32 values).
pub type StateDict = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// Reads every tensor of a torchvision state dict as `key -> (shape, f32 values)`.
///
/// `.safetensors` files are read as safetensors, anything else as a PyTorch checkpoint.
/// Integer tensors (`num_batches_tracked`) are skipped; a `module.` prefix (DataParallel)
/// is stripped.
pub fn read_state_dict(path: &Path) -> Result<StateDict> {
    let bad = |reason: String| InceptionError::BadWeightFile { path: path.to_path_buf(), reason };
    let is_safetensors = path.extension().is_some_and(|e| e == "safetensors");
    let tensors = if is_safetensors {
        let mut store = SafetensorsStore::from_file(path);
        store.get_all_tensors().map_err(|e| bad(format!("unreadable safetensors: {e}")))?.clone()
    } else {
        let mut store = PytorchStore::from_file(path);
        store.get_all_tensors().map_err(|e| bad(format!("unreadable PyTorch checkpoint: {e}")))?.clone()
    };
    let mut out = BTreeMap::new();
    for (key, tensor) in tensors {
        if key.ends_with("num_batches_tracked") {
            continue;
        }
        let data = bridge::to_data(&tensor).map_err(|e| bad(format!("tensor `{key}`: {e}")))?;
        if !data.dtype().is_float() {
            continue;
        }
        let shape = data.shape().to_vec();
        let values = data
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| bad(format!("tensor `{key}`: {e:?}")))?;
        let key = key.strip_prefix("module.").unwrap_or(&key).to_string();
        out.insert(key, (shape, values));
    }
    Ok(out)
}

/// Whether a state dict uses torchvision's InceptionV3 keys.
pub fn looks_like_torchvision(keys: impl IntoIterator<Item = impl AsRef<str>>) -> bool {
    keys.into_iter().any(|k| k.as_ref().starts_with("Conv2d_1a_3x3."))
}

/// Maps a torchvision state dict onto `model`'s parameters.
///
/// `AuxLogits.*` is ignored, `fc.*` too unless the model has a top, as are the blocks after
/// the model's cut; any other key that does not fit is an error.
pub fn torchvision_tensors(
    model: &InceptionV3,
    state: &StateDict,
    path: &Path,
) -> Result<Vec<NamedTensor>> {
    let mut mapping: BTreeMap<String, String> = BTreeMap::new();
    for unit in model.conv_units() {
        let (tv, ours) = (&unit.place.torchvision_path, &unit.place.path);
        mapping.insert(format!("{tv}.conv.weight"), format!("{ours}.conv.weight"));
        mapping.insert(format!("{tv}.bn.weight"), format!("{ours}.bn.gamma"));
        mapping.insert(format!("{tv}.bn.bias"), format!("{ours}.bn.beta"));
        mapping.insert(format!("{tv}.bn.running_mean"), format!("{ours}.bn.moving_mean"));
        mapping.insert(format!("{tv}.bn.running_var"), format!("{ours}.bn.moving_variance"));
    }
    let all_units: Vec<String> = all_unit_places().into_iter().map(|p| p.torchvision_path).collect();
    let mut tensors = Vec::new();
    for (key, (shape, values)) in state {
        if let Some(ours) = mapping.get(key) {
            tensors.push(NamedTensor::new(ours.clone(), key, shape.clone(), values.clone()));
        } else if key.starts_with("fc.") && model.top.is_some() {
            if key == "fc.weight" && shape.len() == 2 {
                let (classes, input) = (shape[0], shape[1]);
                let mut transposed = vec![0.0; values.len()];
                for c in 0..classes {
                    for i in 0..input {
                        transposed[i * classes + c] = values[c * input + i];
                    }
                }
                tensors.push(NamedTensor::new("top.fc.weight".into(), key, vec![input, classes], transposed));
            } else {
                tensors.push(NamedTensor::new("top.fc.bias".into(), key, shape.clone(), values.clone()));
            }
        } else if key.starts_with("AuxLogits.") || key.starts_with("fc.") {
            continue;
        } else if all_units.iter().any(|prefix| key.starts_with(&format!("{prefix}."))) {
            continue; // a layer after the cut
        } else {
            return Err(InceptionError::OtherArchitecture {
                path: path.to_path_buf(),
                reason: format!("key `{key}` is not a torchvision InceptionV3 parameter"),
            });
        }
    }
    Ok(tensors)
}
