//! inception-transfer: the Keras InceptionV3 transfer-learning recipe, exactly, in Rust on Burn.
//!
//! - [`backbone`]: networks described once (layers in Keras order) and what follows from
//!   that: the Burn model, truncation, freezing by layer, summaries, weight files, the
//!   packed CPU engine.
//! - [`inception`]: InceptionV3 (Keras and torchvision flavours), named layers, weight files.
//! - [`mobilenet`]: MobileNetV2 (Keras), any width and input size, Keras weight files.
//! - [`augment`]: Keras-exact `ImageDataGenerator` and an image-folder pipeline.
//! - [`transfer`]: freezing, truncation, heads, Keras RMSprop, `fit` / `evaluate` / `predict`.
#![warn(missing_docs)]

pub use augment;
pub use backbone;
/// Burn, at the version these crates are built with (`Device`, `Tensor`, ...), so a
/// dependent crate need not pin it itself.
pub use burn;
pub use inception;
pub use mobilenet;
pub use transfer;

pub mod backend;
pub mod npy;
