//! MobileNetV2 on Burn, exactly as `keras.applications.MobileNetV2` (Keras 2.15) builds it,
//! from Keras' own weight files.
//!
//! - [`MobileNetV2Config`]: width `alpha`, any input from 32x32 (square or not), optional
//!   top, cut at any Keras layer name (`block_13_expand_relu`, `out_relu`, ...).
//! - [`MobileNetV2::forward_layers`]: outputs of any layers in one pass;
//!   [`MobileNetV2::summary`]: Keras' `model.summary()`, the same 154 layers of the notop
//!   base with the same indices, so "freeze the first 100 layers" means what it means in Keras.
//! - [`MobileNetV2::load_weights`]: the official Keras `.h5` files and `save_weights` files.
//! - Fast frozen inference on the CPU: [`backbone::CpuInference::new`] on `model.network`.
//!
//! The network is written down once ([`mobilenet_v2`]); everything else comes from that
//! description ([`backbone`]).
#![warn(missing_docs)]

mod description;
mod model;
mod weights;

pub use description::{ALPHAS, MIN_INPUT, make_divisible, mobilenet_v2, model_name};
pub use model::{MobileNetV2, MobileNetV2Config, preprocess_input};
pub use weights::{keras_file_config, keras_weight_file_name, native_config};
