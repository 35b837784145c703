//! This crate's own weight files: safetensors with this crate's module paths and the model
//! configuration in the header metadata, so a file rebuilds the model it came from.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;

use crate::error::{InceptionError, Result};
use crate::flavor::Flavor;
use crate::layer_name::LayerName;
use crate::model::{InceptionV3, InceptionV3Config};

const FLAVOR_KEY: &str = "inception.flavor";
const CUT_KEY: &str = "inception.cut";
const TOP_KEY: &str = "inception.include_top";
const CLASSES_KEY: &str = "inception.classes";

/// Reads the `__metadata__` map of a safetensors file's header (empty if there is none).
pub fn safetensors_metadata(path: &Path) -> Result<HashMap<String, String>> {
    let bad = |reason: String| InceptionError::BadWeightFile { path: path.to_path_buf(), reason };
    let mut file = std::fs::File::open(path).map_err(|source| InceptionError::Io { path: path.to_path_buf(), source })?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let len = u64::from_le_bytes(len);
    if len > 100 << 20 {
        return Err(bad(format!("not a safetensors file: header of {len} bytes")));
    }
    let mut header = vec![0u8; len as usize];
    file.read_exact(&mut header).map_err(|e| bad(format!("truncated safetensors header: {e}")))?;
    let header: serde_json::Value =
        serde_json::from_slice(&header).map_err(|e| bad(format!("safetensors header is not JSON: {e}")))?;
    let metadata = header.get("__metadata__").and_then(|m| m.as_object());
    Ok(metadata
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string()))).collect())
        .unwrap_or_default())
}

/// The model configuration recorded in one of this crate's safetensors files, if any.
pub fn native_config(path: &Path) -> Result<Option<InceptionV3Config>> {
    let metadata = safetensors_metadata(path)?;
    let Some(flavor) = metadata.get(FLAVOR_KEY) else { return Ok(None) };
    let bad = |reason: String| InceptionError::BadWeightFile { path: path.to_path_buf(), reason };
    let flavor: Flavor = flavor.parse()?;
    let cut: LayerName = metadata.get(CUT_KEY).map_or(Ok(LayerName::Mixed10), |c| c.parse())?;
    let include_top = metadata.get(TOP_KEY).is_some_and(|t| t == "true");
    let classes = match metadata.get(CLASSES_KEY) {
        Some(c) => c.parse().map_err(|_| bad(format!("metadata {CLASSES_KEY} = `{c}` is not a number")))?,
        None => 1000,
    };
    Ok(Some(InceptionV3Config::new(flavor).with_cut(cut).with_include_top(include_top).with_classes(classes)))
}

impl InceptionV3 {
    /// Saves the weights (and the configuration, as metadata) as safetensors, replacing
    /// `path` atomically: a crash leaves the old file or the new one, never half of one.
    pub fn save_safetensors(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("safetensors.tmp");
        let config = self.config();
        let mut store = SafetensorsStore::from_file(&tmp)
            .overwrite(true)
            .metadata(FLAVOR_KEY, config.flavor.name())
            .metadata(CUT_KEY, config.cut.keras_name())
            .metadata(TOP_KEY, config.include_top.to_string())
            .metadata(CLASSES_KEY, config.classes.to_string());
        self.save_into(&mut store).map_err(|e| InceptionError::BadWeightFile {
            path: path.to_path_buf(),
            reason: format!("writing failed: {e}"),
        })?;
        std::fs::rename(&tmp, path).map_err(|source| InceptionError::Io { path: path.to_path_buf(), source })
    }

    /// Loads a model saved by [`InceptionV3::save_safetensors`], rebuilding its configuration.
    pub fn load_safetensors(path: &Path, device: &Device) -> Result<InceptionV3> {
        let config = native_config(path)?.ok_or_else(|| InceptionError::BadWeightFile {
            path: path.to_path_buf(),
            reason: "no inception metadata: not saved by InceptionV3::save_safetensors".into(),
        })?;
        config.init(device)?.load_weights(path)
    }
}
