//! InceptionV3 on Burn that reproduces Keras (`keras.applications.InceptionV3`) and
//! torchvision (`inception_v3`) from their own weight files.
//!
//! The network is written down once ([`inception_v3`], as the Keras source builds it); the
//! model, its cut at any layer, its summary, its weight-file mapping and its packed CPU
//! engine all come from that description ([`backbone`]).
//!
//! - [`InceptionV3Config`] builds the network in either [`Flavor`], whole or cut at any
//!   [`LayerName`] (`mixed0`..`mixed10`, `mixed9_0`, `mixed9_1`), with an optional top.
//! - [`InceptionV3::forward_to`] runs it up to a named layer; [`LayerName::output_shape`]
//!   gives Keras' `get_layer(name).output_shape`.
//! - [`InceptionV3::load_weights`] reads Keras `.h5`, torchvision `.pth` / `.safetensors`
//!   and this project's safetensors, in pure Rust; [`InceptionV3::summary`] prints Keras'
//!   `model.summary()`.
//! - Fast frozen inference on the CPU: [`backbone::FrozenBase`] (or the packed engine,
//!   [`backbone::CpuInference`]) on `model.network`: channels-last matrix products and
//!   Winograd convolutions, ~2.5-5x Burn's generic CPU convolutions, same numbers within
//!   float32 rounding.
//! - [`InceptionV3Backbone`]: the network as a backbone plug-in (registry name `inception_v3`).
//!
//! The model has no backend type parameter: it runs on the [`burn::tensor::Device`] it was
//! built on (flex, ndarray, wgpu, with or without autodiff).
#![warn(missing_docs)]

mod description;
mod layer_name;
mod model;
mod plugin;
pub mod weights;

pub use backbone::{Flavor, NetworkError as InceptionError, Result};
pub use description::{MIN_INPUT, inception_v3};
pub use layer_name::LayerName;
pub use model::{InceptionV3, InceptionV3Config};
pub use plugin::InceptionV3Backbone;
