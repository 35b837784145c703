//! `keras.applications` networks as backbone plug-ins, and the registry of every backbone.
//!
//! - [`BackboneConfig`] selects any backbone by its registry name (`inception_v3`,
//!   `mobilenet_v2`, `resnet50`, `vgg16`, `xception`, `efficientnet_b0` .. `efficientnet_b7`), with Keras' options (`include_top`, `classes`,
//!   input size, MobileNet's `alpha`) and a cut at any Keras layer; it builds, loads
//!   ([`BackboneConfig::pretrained`]), saves and reloads ([`BackboneConfig::save`],
//!   [`BackboneConfig::load`]) and summarises the network; checkpoints record it.
//! - [`REGISTRY`] lists the backbones and finds the one a weight file holds.
//! - [`resnet50`], [`vgg16`], [`xception`] and [`efficientnet`]: Keras' ResNet50 (v1), VGG16,
//!   Xception and EfficientNetB0-B7 ([`EfficientNet`]), each a description that reads like the Keras source beside it plus a small
//!   [`backbone::Backbone`] impl.
//!
//! InceptionV3 and MobileNetV2 keep their own crates (typed block names, torchvision
//! flavours) and plug in the same way.
#![warn(missing_docs)]

mod config;
mod efficientnet;
mod registry;
mod resnet;
mod vgg;
mod xception;

pub use config::{BackboneConfig, CONFIG_KEY};
pub use efficientnet::{EfficientNet, efficientnet};
pub use registry::REGISTRY;
pub use resnet::{ResNet50, resnet50};
pub use vgg::{Vgg16, vgg16};
pub use xception::{Xception, xception};
