//! Keras' `Rescaling`: `x * scale + offset`, in training and inference alike.

use rand_chacha::ChaCha8Rng;

use crate::error::{AugmentError, Result};
use crate::image::Image;
use crate::layers::PreprocessingLayer;

/// `Rescaling(scale, offset=0.0)`: `Rescaling(1./127.5, offset=-1)` maps 0..255 to -1..1 as
/// MobileNetV2's `preprocess_input` does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rescaling {
    /// The factor.
    pub scale: f32,
    /// Added after scaling.
    pub offset: f32,
}

impl Rescaling {
    /// `Rescaling(scale, offset)`; both must be finite.
    pub fn new(scale: f64, offset: f64) -> Result<Self> {
        if !scale.is_finite() || !offset.is_finite() {
            return Err(AugmentError::InvalidParameter {
                parameter: "scale",
                value: format!("{scale} (offset {offset})"),
                reason: "scale and offset must be finite",
            });
        }
        Ok(Self { scale: scale as f32, offset: offset as f32 })
    }

    /// Rescales one image in place.
    pub fn rescale(&self, image: &mut Image) {
        image.data.iter_mut().for_each(|v| *v = *v * self.scale + self.offset);
    }
}

impl PreprocessingLayer for Rescaling {
    fn apply(&self, batch: &mut [Image], _rng: &mut ChaCha8Rng) -> Result<()> {
        batch.iter_mut().for_each(|image| self.rescale(image));
        Ok(())
    }
}
