//! InceptionV3 weight files: Keras `.h5` (official and `save_weights` files, either naming),
//! torchvision / timm `.pth` and `.safetensors`, and this project's safetensors, mapped
//! through the network's description ([`backbone::weights`] does the reading and matching).

use std::path::Path;

use backbone::{NetworkError, Result};
use burn::tensor::Device;

pub use backbone::weights::{
    KerasLayer, KerasWeight, KerasWeightFile, WeightFormat, detect_format, safetensors_metadata,
};

use crate::layer_name::LayerName;
use crate::model::{InceptionV3, InceptionV3Config};
use crate::plugin::InceptionV3Backbone;
use backbone::Flavor;

const FLAVOR_KEY: &str = "inception.flavor";
const CUT_KEY: &str = "inception.cut";
const TOP_KEY: &str = "inception.include_top";
const CLASSES_KEY: &str = "inception.classes";

/// The flavour a weight file was made for.
pub fn detect_flavor(path: &Path) -> Result<Flavor> {
    Ok(match detect_format(path)? {
        WeightFormat::KerasH5 => Flavor::Keras,
        WeightFormat::Torchvision => Flavor::Torchvision,
        WeightFormat::Native => native_config(path)?.map_or(Flavor::Keras, |c| c.flavor),
    })
}

/// The model configuration recorded in one of this project's InceptionV3 files, if any.
pub fn native_config(path: &Path) -> Result<Option<InceptionV3Config>> {
    let metadata = safetensors_metadata(path)?;
    let Some(flavor) = metadata.get(FLAVOR_KEY) else { return Ok(None) };
    let bad = |reason: String| NetworkError::BadWeightFile { path: path.to_path_buf(), reason };
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
    /// Loads weights from any supported file into this model (built with the matching
    /// flavour and any cut), setting every parameter or failing.
    pub fn load_weights(self, path: &Path) -> Result<InceptionV3> {
        Ok(InceptionV3 { network: backbone::load_weights(&InceptionV3Backbone, self.network, path)?, ..self })
    }

    /// Sets every parameter from a Keras weight file already read ([`KerasWeightFile::read`],
    /// or one built in memory), as [`InceptionV3::load_weights`] does from disk; `path` names
    /// it in errors.
    pub fn with_keras_weights(self, file: &KerasWeightFile, path: &Path) -> Result<InceptionV3> {
        Ok(InceptionV3 { network: self.network.with_keras_weights(file, path)?, ..self })
    }

    /// Builds a model with `config` and loads `path` into it: the usual way to get a
    /// pretrained network.
    ///
    /// ```no_run
    /// use inception::{Flavor, InceptionV3, InceptionV3Config, LayerName};
    /// let device = burn::tensor::Device::flex();
    /// let config = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed7);
    /// let path = std::path::Path::new("weights/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5");
    /// let base = InceptionV3::pretrained(&config, path, &device)?;
    /// # Ok::<(), backbone::NetworkError>(())
    /// ```
    pub fn pretrained(config: &InceptionV3Config, path: &Path, device: &Device) -> Result<InceptionV3> {
        config.init(device)?.load_weights(path)
    }

    /// The header metadata of this model's safetensors files.
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        let config = self.config();
        vec![
            (FLAVOR_KEY, config.flavor.name().to_string()),
            (CUT_KEY, config.cut.keras_name().to_string()),
            (TOP_KEY, config.include_top.to_string()),
            (CLASSES_KEY, config.classes.to_string()),
        ]
    }

    /// Saves the weights (and the configuration, as metadata) as safetensors, replacing
    /// `path` atomically: a crash leaves the old file or the new one, never half of one.
    pub fn save_safetensors(&self, path: &Path) -> Result<()> {
        backbone::weights::save_network(&self.network, path, &self.metadata())
    }

    /// Loads a model saved by [`InceptionV3::save_safetensors`], rebuilding its configuration.
    pub fn load_safetensors(path: &Path, device: &Device) -> Result<InceptionV3> {
        let config = native_config(path)?.ok_or_else(|| NetworkError::BadWeightFile {
            path: path.to_path_buf(),
            reason: "no inception metadata: not saved by InceptionV3::save_safetensors".into(),
        })?;
        config.init(device)?.load_weights(path)
    }
}
