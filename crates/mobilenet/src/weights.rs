//! MobileNetV2 weight files: the official Keras files
//! (`mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{rows}[_no_top].h5`, groups
//! named by layer), `save_weights` files, torchvision state dicts (`.pth` such as
//! `mobilenet_v2-b0353104.pth` / `mobilenet_v2-7ebf99e0.pth`, or `.safetensors` with
//! torchvision keys), and this project's safetensors.

use std::path::Path;

use backbone::weights::{
    KerasWeightFile, StateDict, WeightFormat, detect_format, read_state_dict, safetensors_metadata,
};
use backbone::{Flavor, NetworkError, Result};
use burn::tensor::Device;

use crate::model::{MobileNetV2, MobileNetV2Config};
use crate::plugin::MobileNetV2Backbone;

const CONFIG_KEY: &str = "mobilenet.config";

/// The name of Keras' official weight file for a configuration.
pub fn keras_weight_file_name(config: &MobileNetV2Config) -> String {
    let top = if config.include_top { "" } else { "_no_top" };
    let alpha = match config.alpha {
        a if a == a.trunc() => format!("{a:.1}"),
        a => format!("{a}"),
    };
    format!("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{}{top}.h5", config.input_size[0])
}

/// The model configuration recorded in one of this project's MobileNetV2 files, if any.
pub fn native_config(path: &Path) -> Result<Option<MobileNetV2Config>> {
    let metadata = safetensors_metadata(path)?;
    let Some(json) = metadata.get(CONFIG_KEY) else { return Ok(None) };
    let config = serde_json::from_str(json).map_err(|e| NetworkError::BadWeightFile {
        path: path.to_path_buf(),
        reason: format!("metadata {CONFIG_KEY} is not a MobileNetV2 configuration: {e}"),
    })?;
    Ok(Some(config))
}

/// The configuration of the model a Keras MobileNetV2 weight file was saved from, for
/// inputs of `input_size`: the width from `block_16_project`'s filters, the top from a
/// `predictions` layer. Fails on a file of another network.
pub fn keras_file_config(path: &Path, input_size: [usize; 2]) -> Result<MobileNetV2Config> {
    let file = KerasWeightFile::read_declared(path)?;
    let other = |reason: String| NetworkError::OtherArchitecture {
        path: path.to_path_buf(),
        network: "MobileNetV2".into(),
        reason,
    };
    let project = file
        .layers
        .iter()
        .find(|l| l.name == "block_16_project")
        .ok_or_else(|| other("no `block_16_project` layer".into()))?;
    let filters = project.weights.first().and_then(|w| w.shape.last().copied()).unwrap_or(0);
    let alpha = alpha_for_filters(filters, path)?;
    let include_top = file.layers.iter().any(|l| l.name == "predictions");
    let classes = match include_top {
        true => file
            .layers
            .iter()
            .find(|l| l.name == "predictions")
            .and_then(|l| l.weights.last())
            .map_or(1000, |b| b.shape[0]),
        false => 1000,
    };
    Ok(MobileNetV2Config::new()
        .with_alpha(alpha)
        .with_include_top(include_top)
        .with_classes(classes)
        .with_input_size(input_size))
}

/// The flavour a MobileNetV2 weight file was made for (Keras for `.h5`, torchvision for
/// state dicts, the recorded one for this project's files).
pub fn detect_flavor(path: &Path) -> Result<Flavor> {
    Ok(match detect_format(path)? {
        WeightFormat::KerasH5 => Flavor::Keras,
        WeightFormat::Torchvision => Flavor::Torchvision,
        WeightFormat::Native => native_config(path)?.map_or(Flavor::Keras, |c| c.flavor),
    })
}

/// The configuration of the model a torchvision MobileNetV2 state dict holds, for inputs of
/// `input_size`: the width from `features.17.conv.2`'s filters, the top (and its classes)
/// from `classifier.1`. Fails on a state dict of another network.
pub fn torchvision_file_config(path: &Path, input_size: [usize; 2]) -> Result<MobileNetV2Config> {
    torchvision_config(&read_state_dict(path)?, path, input_size)
}

fn torchvision_config(state: &StateDict, path: &Path, input_size: [usize; 2]) -> Result<MobileNetV2Config> {
    let project = state.get("features.17.conv.2.weight").ok_or_else(|| NetworkError::OtherArchitecture {
        path: path.to_path_buf(),
        network: "MobileNetV2".into(),
        reason: format!(
            "no `features.17.conv.2.weight` key: not a torchvision MobileNetV2 (first keys: {:?})",
            state.keys().take(3).collect::<Vec<_>>()
        ),
    })?;
    let alpha = alpha_for_filters(project.0[0], path)?;
    let classes = state.get("classifier.1.bias").map(|(shape, _)| shape[0]);
    Ok(MobileNetV2Config::new()
        .with_flavor(Flavor::Torchvision)
        .with_alpha(alpha)
        .with_include_top(classes.is_some())
        .with_classes(classes.unwrap_or(1000))
        .with_input_size(input_size))
}

/// The width whose `block_16_project` has `filters` filters.
fn alpha_for_filters(filters: usize, path: &Path) -> Result<f64> {
    crate::ALPHAS.into_iter().find(|a| crate::make_divisible((320.0 * a).trunc()) == filters).ok_or_else(|| {
        NetworkError::OtherArchitecture {
            path: path.to_path_buf(),
            network: "MobileNetV2".into(),
            reason: format!("`block_16_project` has {filters} filters, which no width of Keras' has"),
        }
    })
}

impl MobileNetV2 {
    /// Loads weights from a Keras `.h5`, a torchvision state dict or one of this project's
    /// files into this model (built in the file's flavour, with any cut), setting every
    /// parameter or failing with a typed error.
    pub fn load_weights(self, path: &Path) -> Result<MobileNetV2> {
        let format = detect_format(path)?;
        let file_flavor = detect_flavor(path)?;
        if format != WeightFormat::Native || native_config(path)?.is_some() {
            self.check_flavor(file_flavor, path)?;
        }
        Ok(Self { network: backbone::load_weights(&MobileNetV2Backbone, self.network, path)?, ..self })
    }

    /// The flavours pad and normalise differently while their weights have the same shapes:
    /// a file of one flavour in a model of the other would load and compute wrong values.
    fn check_flavor(&self, file: Flavor, path: &Path) -> Result<()> {
        if file == self.config.flavor {
            return Ok(());
        }
        Err(NetworkError::OtherArchitecture {
            path: path.to_path_buf(),
            network: format!("{} ({} flavour)", self.architecture().name(), self.config.flavor.name()),
            reason: format!(
                "the file holds {} weights: build the model with `MobileNetV2Config::new().with_flavor(Flavor::{:?})` \
                 (the flavours differ in padding and batch-norm epsilon)",
                file.name(),
                file
            ),
        })
    }

    /// Builds a model with `config` and loads `path` into it.
    pub fn pretrained(config: &MobileNetV2Config, path: &Path, device: &Device) -> Result<MobileNetV2> {
        config.init(device)?.load_weights(path)
    }

    /// Saves the weights and the configuration as safetensors, atomically.
    pub fn save_safetensors(&self, path: &Path) -> Result<()> {
        let config = serde_json::to_string(&self.config).map_err(|e| NetworkError::BadConfig(e.to_string()))?;
        backbone::weights::save_network(&self.network, path, &[(CONFIG_KEY, config)])
    }

    /// Loads a model saved by [`MobileNetV2::save_safetensors`], rebuilding its configuration.
    pub fn load_safetensors(path: &Path, device: &Device) -> Result<MobileNetV2> {
        let config = native_config(path)?.ok_or_else(|| NetworkError::BadWeightFile {
            path: path.to_path_buf(),
            reason: "no mobilenet metadata: not saved by MobileNetV2::save_safetensors".into(),
        })?;
        config.init(device)?.load_weights(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_file_names() {
        let config = MobileNetV2Config::new().with_input_size([160, 160]);
        assert_eq!(
            keras_weight_file_name(&config),
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5"
        );
        let config = MobileNetV2Config::new().with_alpha(0.35).with_include_top(true);
        assert_eq!(keras_weight_file_name(&config), "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224.h5");
    }
}
