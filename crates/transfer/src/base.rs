//! The backbones a transfer model is built on, chosen once in its configuration, and how a
//! layer of the base is named (a Keras name, a Keras index, or a typed block name).

use std::path::Path;

use backbone::{Architecture, Network, NetworkError};
use burn::tensor::Device;
use inception::{InceptionV3, InceptionV3Config, LayerName};
use mobilenet::{MobileNetV2, MobileNetV2Config};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// The base network of a transfer model, with its configuration.
///
/// Every backbone is a [`Network`] built from its one description, so the transfer model,
/// freezing, training and the packed CPU path do not depend on which one it is: this enum
/// is the only place a backbone is chosen (and what checkpoints record).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum BaseConfig {
    /// `keras.applications.InceptionV3` or torchvision's `inception_v3`.
    InceptionV3(InceptionV3Config),
    /// `keras.applications.MobileNetV2`.
    MobileNetV2(MobileNetV2Config),
}

impl From<MobileNetV2Config> for BaseConfig {
    fn from(config: MobileNetV2Config) -> Self {
        BaseConfig::MobileNetV2(config)
    }
}

impl From<InceptionV3Config> for BaseConfig {
    fn from(config: InceptionV3Config) -> Self {
        BaseConfig::InceptionV3(config)
    }
}

impl BaseConfig {
    /// The network this configuration builds.
    pub fn architecture(&self) -> Result<Architecture> {
        Ok(match self {
            BaseConfig::InceptionV3(config) => config.architecture()?,
            BaseConfig::MobileNetV2(config) => config.architecture()?,
        })
    }

    /// Creates the base with Burn's default initialisation.
    pub fn init(&self, device: &Device) -> Result<Network> {
        Ok(match self {
            BaseConfig::InceptionV3(config) => config.init(device)?.network,
            BaseConfig::MobileNetV2(config) => config.init(device)?.network,
        })
    }

    /// Creates the base and loads the weight file `path` into it.
    pub fn pretrained(&self, path: &Path, device: &Device) -> Result<Network> {
        Ok(match self {
            BaseConfig::InceptionV3(config) => InceptionV3::pretrained(config, path, device)?.network,
            BaseConfig::MobileNetV2(config) => MobileNetV2::pretrained(config, path, device)?.network,
        })
    }

    /// A human name of the backbone (`InceptionV3 (keras)`).
    pub fn describe(&self) -> String {
        match self {
            BaseConfig::InceptionV3(config) => format!("InceptionV3 ({})", config.flavor.name()),
            BaseConfig::MobileNetV2(config) => {
                format!("MobileNetV2 ({}, alpha {})", config.flavor.name(), config.alpha)
            }
        }
    }
}

/// A layer of a base, named the way a user names it: its Keras name (`"mixed7"`,
/// `"block_16_project"`), its index in Keras' `model.layers`, or a typed InceptionV3 name.
pub trait LayerRef: std::fmt::Debug {
    /// The layer's Keras index in `architecture`, or an error listing the valid names.
    fn index_in(&self, architecture: &Architecture) -> Result<usize, NetworkError>;
}

impl LayerRef for &str {
    fn index_in(&self, architecture: &Architecture) -> Result<usize, NetworkError> {
        architecture.index_of(self)
    }
}

impl LayerRef for String {
    fn index_in(&self, architecture: &Architecture) -> Result<usize, NetworkError> {
        architecture.index_of(self)
    }
}

impl LayerRef for usize {
    fn index_in(&self, architecture: &Architecture) -> Result<usize, NetworkError> {
        architecture.layer(*self).map(|_| *self)
    }
}

impl LayerRef for LayerName {
    fn index_in(&self, architecture: &Architecture) -> Result<usize, NetworkError> {
        architecture.index_of(self.keras_name())
    }
}
