//! This project's own weight files: safetensors keyed by Keras layer and weight name
//! (`conv2d_5.kernel`), in Burn's layouts, with the model configuration in the header
//! metadata so a file rebuilds the model it came from.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

use burn::store::{ModuleSnapshot, bridge};

use super::named::NamedTensor;
use super::torch::StateDict;
use crate::atomic::write_atomically;
use crate::error::{NetworkError, Result};
use crate::network::Network;

/// The metadata key naming the network a file holds (Keras' model name).
pub const NETWORK_KEY: &str = "backbone.network";

/// Reads the `__metadata__` map of a safetensors file's header (empty if there is none).
pub fn safetensors_metadata(path: &Path) -> Result<HashMap<String, String>> {
    let io = |source| NetworkError::Io { path: path.to_path_buf(), source };
    crate::files::regular_file(path).map_err(io)?;
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(|e| bad_file(path, format!("not a safetensors file: {e}")))?;
    let len = header_length(path, len)?;
    let mut header = vec![0u8; len];
    file.read_exact(&mut header).map_err(|e| bad_file(path, format!("truncated safetensors header: {e}")))?;
    Ok(parse_header(path, &header)?.0)
}

/// A safetensors file read whole into memory (so that a file changed or cut while it loads
/// is an error naming it, never a signal from a mapping): its bytes, the `__metadata__` map
/// and the number of values its tensors declare (checked against the file's length).
#[derive(Debug, Clone)]
pub struct SafetensorsFile {
    /// The whole file.
    pub bytes: Vec<u8>,
    /// The header's `__metadata__` map.
    pub metadata: HashMap<String, String>,
    /// The values of all its tensors together (products of their shapes).
    pub values: u64,
}

/// Reads a safetensors file ([`SafetensorsFile`]); a folder, FIFO or device, a header that
/// is not the format's, and tensors declaring more bytes than the file holds are errors
/// naming the file.
pub fn read_safetensors(path: &Path) -> Result<SafetensorsFile> {
    let io = |source| NetworkError::Io { path: path.to_path_buf(), source };
    crate::files::regular_file(path).map_err(io)?;
    let mut file = std::fs::File::open(path).map_err(io)?;
    // The header first: a file that is not one, or whose tensors need more bytes than it
    // has, is refused before the rest is read.
    let mut bytes = vec![0u8; 8];
    file.read_exact(&mut bytes).map_err(|e| bad_file(path, format!("not a safetensors file: {e}")))?;
    let len = header_length(path, bytes[..8].try_into().unwrap_or_default())?;
    bytes.resize(8 + len, 0);
    file.read_exact(&mut bytes[8..]).map_err(|e| bad_file(path, format!("truncated safetensors header: {e}")))?;
    let (metadata, values, data_bytes) = parse_header(path, &bytes[8..])?;
    let truncated =
        |held: u64| bad_file(path, format!("its tensors declare {data_bytes} bytes but it holds {held} (truncated?)"));
    let held = file.metadata().map_err(io)?.len().saturating_sub(8 + len as u64);
    if data_bytes > held {
        return Err(truncated(held));
    }
    // No more than its length now (a file growing while it is read cannot grow the read).
    file.take(held).read_to_end(&mut bytes).map_err(io)?;
    // Cut while it was read: the same error as a file cut before.
    let held = (bytes.len() - 8 - len) as u64;
    if data_bytes > held {
        return Err(truncated(held));
    }
    Ok(SafetensorsFile { bytes, metadata, values })
}

fn bad_file(path: &Path, reason: String) -> NetworkError {
    NetworkError::BadWeightFile { path: path.to_path_buf(), reason }
}

/// The header length a file's first 8 bytes give, refused over 100 MB (not a header).
fn header_length(path: &Path, len: [u8; 8]) -> Result<usize> {
    let len = u64::from_le_bytes(len);
    if len > 100 << 20 {
        return Err(bad_file(path, format!("not a safetensors file: header of {len} bytes")));
    }
    Ok(len as usize)
}

/// A header's `__metadata__`, the values its tensors declare and the end of their data.
fn parse_header(path: &Path, header: &[u8]) -> Result<(HashMap<String, String>, u64, u64)> {
    let header: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| bad_file(path, format!("safetensors header is not JSON: {e}")))?;
    let object = header.as_object().ok_or_else(|| bad_file(path, "safetensors header is not a JSON object".into()))?;
    let metadata = object
        .get("__metadata__")
        .and_then(|m| m.as_object())
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string()))).collect())
        .unwrap_or_default();
    let (mut values, mut end) = (0u64, 0u64);
    for (name, tensor) in object.iter().filter(|(name, _)| *name != "__metadata__") {
        let numbers = |key: &str| -> Option<Vec<u64>> {
            tensor.get(key)?.as_array()?.iter().map(|v| v.as_u64()).collect::<Option<Vec<u64>>>()
        };
        let shape = numbers("shape").ok_or_else(|| bad_file(path, format!("tensor {name:?}: no shape")))?;
        let count = shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| bad_file(path, format!("tensor {name:?}: shape {shape:?} overflows")))?;
        values = values.saturating_add(count);
        if let Some(&[_, stop]) = numbers("data_offsets").as_deref() {
            end = end.max(stop);
        }
    }
    Ok((metadata, values, end))
}

/// The `layer.weight` key of every parameter of `network`, with its module path.
fn native_keys(network: &Network) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    for (index, layer) in network.architecture().layers().iter().enumerate() {
        for weight in network.weights(index) {
            if let Some(path) = network.param_path(index, weight) {
                keys.push((format!("{}.{}", layer.name, weight.keras_name()), path));
            }
        }
    }
    keys
}

/// Saves `network`'s weights as safetensors keyed `layer.weight`, with `metadata` (plus
/// the network's name) in the header, replacing `path` atomically.
pub fn save_network(network: &Network, path: &Path, metadata: &[(&str, String)]) -> Result<()> {
    let values: BTreeMap<String, (Vec<usize>, Vec<f32>)> = network
        .collect(None, None, false)
        .into_iter()
        .map(|snapshot| {
            let data =
                bridge::to_data(&snapshot).map_err(|e| NetworkError::TensorData(format!("{}: {e}", snapshot.name)))?;
            let shape = data.shape().to_vec();
            let values = data
                .convert::<f32>()
                .try_into_vec::<f32>()
                .map_err(|e| NetworkError::TensorData(format!("{}: {e:?}", snapshot.name)))?;
            Ok((snapshot.name.clone(), (shape, values)))
        })
        .collect::<Result<_>>()?;
    let mut tensors = BTreeMap::new();
    for (key, module_path) in native_keys(network) {
        if let Some(tensor) = values.get(&module_path) {
            tensors.insert(key, tensor);
        }
    }
    let mut meta: BTreeMap<&str, String> = metadata.iter().map(|(k, v)| (*k, v.clone())).collect();
    meta.insert(NETWORK_KEY, network.architecture().name().to_string());
    write_atomically(path, &safetensors_bytes(&tensors, &meta))
        .map_err(|source| NetworkError::Io { path: path.to_path_buf(), source })
}

/// A safetensors file of float32 tensors.
fn safetensors_bytes(
    tensors: &BTreeMap<String, &(Vec<usize>, Vec<f32>)>,
    metadata: &BTreeMap<&str, String>,
) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::json!(metadata));
    let mut offset = 0usize;
    for (key, (shape, values)) in tensors {
        let end = offset + values.len() * 4;
        header.insert(key.clone(), serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, end]}));
        offset = end;
    }
    let mut header = serde_json::to_vec(&header).unwrap_or_default();
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut bytes = Vec::with_capacity(8 + header.len() + offset);
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&header);
    for (_, values) in tensors.values() {
        bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    }
    bytes
}

/// Maps one of this project's files (read as a state dict) onto `network`: a file of a
/// model cut later loads into one cut earlier (the later layers are skipped).
pub fn native_tensors(network: &Network, state: StateDict, path: &Path) -> Result<Vec<NamedTensor>> {
    let keys: HashMap<String, String> = native_keys(network).into_iter().collect();
    let whole = network.architecture().whole_in_creation_order();
    let mut tensors = Vec::new();
    for (key, (shape, values)) in state {
        match keys.get(&key) {
            Some(module_path) => tensors.push(NamedTensor::new(module_path.clone(), &key, shape, values)),
            None => {
                let layer = key.rsplit_once('.').map_or(key.as_str(), |(layer, _)| layer);
                if !whole.iter().any(|l| l.name == layer) {
                    return Err(NetworkError::OtherArchitecture {
                        path: path.to_path_buf(),
                        network: network.architecture().name().to_string(),
                        reason: format!("tensor `{key}` names no layer of it"),
                    });
                }
            }
        }
    }
    Ok(tensors)
}
