//! Fast frozen inference on the CPU: a network packed into channels-last matrix products
//! ([`CpuInference`]), for a base that is not trained (feature extraction, a frozen base
//! under a trained head, evaluation).
//!
//! Burn's generic CPU convolution converts every layer's input to channels-last, gathers
//! patches one value at a time and multiplies image by image; on InceptionV3's small grids
//! (7x7 at 150x150) and thin stem that costs more than the arithmetic. Here the feature
//! maps stay channels-last from the input to the cut, a batch is split among the threads
//! (each runs its own images through every layer), convolutions run on a register-tiled
//! direct kernel (`direct`: 6 pixels x 64 channels or 12 x 32 in vector registers, straight from the
//! input) or, for short 1x1 sums, as one matrix product of the input per tile, 3x3 and
//! 5x5 stride-1 convolutions by Winograd's minimal filtering (F(4x4, 3x3) on 64 channels or
//! more, F(2x2, 3x3) on fewer, F(2x2, 5x5); [`ConvAlgorithm`]), branches write into their share of the concatenation, and
//! depthwise convolutions run vectorised over the channels. [`host_memory::keep_freed_memory`],
//! called by a program (never by the library), keeps the large feature maps' memory between
//! passes. [`CpuInference::profile`] times a pass step by step (the `profile_base` example).

mod buffers;
mod conv;
mod conv_algorithm;
mod conv_block;
mod conv_direct;
mod dense;
mod depthwise;
mod direct;
mod engine;
mod finish;
pub mod host_memory;
mod nhwc;
mod plan;
mod pool;
mod profile;
pub(crate) mod simd;
mod steps;
pub mod vector;
mod window;
mod window_classes;
mod winograd;

pub use conv::{ConvAlgorithm, WINOGRAD_4X4_MIN_CHANNELS};
pub use engine::CpuInference;
pub use nhwc::{NhwcBatch, host_values};
pub use profile::StepProfile;

use burn::tensor::Device;

/// Whether `device` keeps its tensors in host memory (flex, ndarray), where
/// [`CpuInference`] is the faster way to run a frozen network.
pub fn is_host_device(device: &Device) -> bool {
    // The device enum's variants exist only under the backend features the final binary
    // enables, which this crate cannot name; its `Debug` form (`Device<Flex(..)>`) it can.
    let name = format!("{:?}", device.clone().inner());
    ["Flex", "NdArray"].iter().any(|cpu| name.starts_with(&format!("Device<{cpu}")))
}
