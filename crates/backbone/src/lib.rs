//! Keras application networks described once, and everything derived from the description.
//!
//! A network is written down once, layer by layer as the Keras source builds it
//! ([`NetworkBuilder`]), into an [`Architecture`]: its layers in Keras' `model.layers` order
//! with their names, kinds, parameters and where their weights live. From that one list:
//! - [`Network`], the Burn module (weights of each weighted layer, Keras' `trainable` flag
//!   per layer) and its forward pass to any layers ([`Network::forward_layers`]);
//! - truncation at any layer name ([`Architecture::cut_at`]), layer indices as in Keras,
//!   output shapes for any input size;
//! - [`Summary`], Keras' `model.summary()`;
//! - weight files: Keras `.h5` (by name, or by the rank of automatic names), torchvision
//!   state dicts, this project's safetensors ([`weights`]);
//! - [`CpuInference`], the packed channels-last engine for frozen inference on the CPU, and
//!   [`FrozenBase`], a frozen network on it (or on Burn's path for what it does not cover);
//! - [`Preprocess`], Keras' `preprocess_input` modes.
//!
//! A network plugs in through [`Backbone`] (its description for a set of options, its
//! preprocessing, how its weight files look); a [`Registry`] of backbones selects one by
//! name or by weight file, and building, loading and saving are written once for all.
#![warn(missing_docs)]

mod architecture;
pub mod atomic;
pub mod batch_norm;
mod builder;
mod calibrate;
pub mod cpu;
mod error;
pub mod files;
mod flavor;
mod forward;
mod frozen;
mod host_train;
mod layer;
mod network;
pub mod npy;
mod plugin;
mod preprocess;
pub mod summary;
pub mod weights;

pub use architecture::Architecture;
pub use builder::{NetworkBuilder, Node};
pub use cpu::CpuInference;
pub use error::{NetworkError, Result};
pub use flavor::Flavor;
pub use frozen::FrozenBase;
pub use layer::{Activation, Layer, LayerKind, OutputError, Padding, Weight, ZeroPadding, window_output};
pub use network::{ConvParams, LayerParams, Network, SeparableParams};
pub use plugin::{
    Backbone, BackboneOptions, OfficialWeights, Registry, TorchKeys, build_architecture, load_backbone, load_weights,
    save_weights,
};
pub use preprocess::{CAFFE_MEAN_BGR, IMAGENET_MEAN, IMAGENET_STD, Preprocess};
pub use summary::{Summary, SummaryRow, thousands};
