//! The backbone a transfer model is built on, chosen once in its configuration, and how a
//! layer of the base is named (a Keras name, a Keras index, or a typed block name).

use backbone::{Architecture, NetworkError};
use inception::LayerName;

/// The base network of a transfer model: any registered backbone by name, with its options
/// and cut ([`applications::BackboneConfig`]). It is the only place a backbone is chosen
/// (and what checkpoints record); the transfer model, freezing, training and the packed
/// CPU path do not depend on which one it is.
pub type BaseConfig = applications::BackboneConfig;

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
