//! MobileNetV2 on Burn, exactly as `keras.applications.MobileNetV2` (Keras 2.15) or
//! `torchvision.models.mobilenet_v2` builds it, from their own weight files.
//!
//! - [`MobileNetV2Config`]: width `alpha`, any input from 32x32 (square or not), optional
//!   top, cut at any Keras layer name (`block_13_expand_relu`, `out_relu`, ...).
//! - [`MobileNetV2::forward_layers`]: outputs of any layers in one pass;
//!   [`MobileNetV2::summary`]: Keras' `model.summary()`, the same 154 layers of the notop
//!   base with the same indices, so "freeze the first 100 layers" means what it means in Keras.
//! - [`MobileNetV2::load_weights`]: the official Keras `.h5` files and `save_weights` files;
//!   torchvision's state dicts into the torchvision [`Flavor`] (symmetric padding,
//!   batch-norm epsilon 1e-5, logits from the top).
//! - Fast frozen inference on the CPU: [`backbone::CpuInference::new`] on `model.network`.
//!
//! The network is written down once ([`mobilenet_v2`]); everything else comes from that
//! description ([`backbone`]).
#![warn(missing_docs)]

mod description;
mod model;
mod plugin;
mod weights;

pub use backbone::Flavor;
pub use description::{ALPHAS, MIN_INPUT, make_divisible, mobilenet_v2, model_name};
pub use model::{IMAGENET_MEAN, IMAGENET_STD, MobileNetV2, MobileNetV2Config, preprocess_input, torchvision_normalize};
pub use plugin::MobileNetV2Backbone;
pub use weights::{detect_flavor, keras_file_config, keras_weight_file_name, native_config, torchvision_file_config};
