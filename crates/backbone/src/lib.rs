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
mod atomic;
pub mod batch_norm;
mod builder;
mod calibrate;
pub mod cpu;
mod error;
mod files;
mod flavor;
mod forward;
mod frozen;
mod layer;
mod network;
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

/// Internals shared by this workspace's crates: the mapping of weight files onto a
/// network's parameters that the network crates build their loading on, the crash-safe
/// file writes of `transfer`, the regular-file check of every reader, the vector operations
/// of the register-tiled kernels (`transfer`'s head product and gradient). Not part of the
/// public API: hidden from the documentation and free to change in any release. Tests of
/// the loaders reach it too.
#[doc(hidden)]
pub mod internal {
    pub use crate::atomic::{destination, keep_permissions, persist, temporary_path, write_atomically};
    #[cfg(target_arch = "x86_64")]
    pub use crate::cpu::vector::{Vector, Ymm, Zmm};
    pub use crate::files::regular_file;
    pub use crate::weights::keras_h5::keras_tensors;
    pub use crate::weights::named::{NamedTensor, apply_named};
    pub use crate::weights::native::{native_tensors, save_network};
    pub use crate::weights::torch::{StateDict, read_state_dict, torch_tensors};
}
