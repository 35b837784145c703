//! A fixed scaling of the input pixels that the model applies first, in training and
//! inference alike: Keras' `preprocess_input` or a `Rescaling` layer inside the model.

use burn::config::Config;
use burn::tensor::Tensor;

/// `x * scale + offset` on every input pixel.
#[derive(Config, Debug, Copy, PartialEq)]
pub struct InputScaling {
    /// The factor.
    pub scale: f64,
    /// Added after scaling.
    pub offset: f64,
}

impl InputScaling {
    /// MobileNetV2's and InceptionV3's `preprocess_input` (`x / 127.5 - 1`: 0..255 to -1..1),
    /// the TF tutorial's first model step.
    pub fn preprocess_input() -> Self {
        Self { scale: 1.0 / 127.5, offset: -1.0 }
    }

    /// Scales a batch.
    pub fn apply(self, images: Tensor<4>) -> Tensor<4> {
        images.mul_scalar(self.scale as f32).add_scalar(self.offset as f32)
    }
}
