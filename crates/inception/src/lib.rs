//! InceptionV3 on Burn that reproduces Keras (`keras.applications.InceptionV3`) and
//! torchvision (`inception_v3`) from their own weight files.
//!
//! - [`InceptionV3Config`] builds the network in either [`Flavor`], whole or cut at any
//!   [`LayerName`] (`mixed0`..`mixed10`, `mixed9_0`, `mixed9_1`), with an optional top.
//! - [`InceptionV3::forward_to`] runs it up to a named layer; [`LayerName::output_shape`]
//!   gives Keras' `get_layer(name).output_shape`.
//! - [`InceptionV3::load_weights`] reads Keras `.h5`, torchvision `.pth` / `.safetensors`
//!   and this crate's safetensors, in pure Rust; [`InceptionV3::summary`] prints Keras'
//!   `model.summary()`.
//! - [`CpuInference`] packs a model for frozen inference on the CPU (channels-last matrix
//!   products, Winograd 3x3): 2.5x Burn's generic CPU convolutions, same numbers within
//!   float32 rounding.
//!
//! The model has no backend type parameter: it runs on the [`burn::tensor::Device`] it was
//! built on (flex, ndarray, wgpu, with or without autodiff).
#![warn(missing_docs)]

pub mod batch_norm;
pub mod blocks;
pub mod conv_bn;
mod calibrate;
pub mod cpu;
mod error;
mod flavor;
mod layer_name;
mod model;
pub mod summary;
mod units;
pub mod weights;

pub use cpu::CpuInference;
pub use error::{InceptionError, Result};
pub use flavor::Flavor;
pub use layer_name::LayerName;
pub use model::{ClassifierTop, InceptionV3, InceptionV3Config};
pub use units::{FULL_UNIT_COUNT, HeldUnit, UnitPlace, all_unit_places};
