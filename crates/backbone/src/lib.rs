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
//! - [`CpuInference`], the packed channels-last engine for frozen inference on the CPU.
#![warn(missing_docs)]

mod architecture;
mod atomic;
pub mod batch_norm;
mod builder;
mod calibrate;
pub mod cpu;
mod error;
mod flavor;
mod forward;
mod layer;
mod network;
pub mod summary;
pub mod weights;

pub use architecture::Architecture;
pub use atomic::{keep_permissions, persist, temporary_path, write_atomically};
pub use builder::{NetworkBuilder, Node};
pub use cpu::CpuInference;
pub use error::{NetworkError, Result};
pub use flavor::Flavor;
pub use layer::{Activation, Layer, LayerKind, Padding, ZeroPadding, window_output};
pub use network::{ConvParams, LayerParams, Network};
pub use summary::{Summary, SummaryRow, thousands};
pub use weights::regular_file;
