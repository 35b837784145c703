//! Keras' `RandomContrast`: `(x - mean) * factor + mean` per channel, clipped to 0..255.

use rand_chacha::ChaCha8Rng;

use crate::error::{AugmentError, Result};
use crate::image::Image;
use crate::layers::{PreprocessingLayer, uniform};

/// `RandomContrast(factor)`: one factor per batch, drawn from `[1 - lower, 1 + upper]`
/// (a number `f` means `lower = upper = f`), applied as TF's `adjust_contrast` (each
/// channel's mean over the image), then clipped to `[0, 255]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomContrast {
    lower: f64,
    upper: f64,
}

impl RandomContrast {
    /// `RandomContrast(factor)`: factors in `[1 - factor, 1 + factor]`.
    pub fn new(factor: f64) -> Result<Self> {
        Self::between(factor, factor)
    }

    /// `RandomContrast((lower, upper))`: factors in `[1 - lower, 1 + upper]`.
    pub fn between(lower: f64, upper: f64) -> Result<Self> {
        if !((0.0..=1.0).contains(&lower) && upper >= 0.0 && upper.is_finite()) {
            return Err(AugmentError::InvalidParameter {
                parameter: "factor",
                value: format!("({lower}, {upper})"),
                reason: "`factor` argument cannot have negative values or values greater than 1",
            });
        }
        Ok(Self { lower, upper })
    }
}

/// TF's `adjust_contrast(image, factor)` followed by Keras' clip to `[0, 255]`.
pub fn adjust_contrast(image: &mut Image, factor: f32) {
    let (pixels, channels) = (image.height * image.width, image.channels);
    for c in 0..channels {
        let mean = image.data.iter().skip(c).step_by(channels).sum::<f32>() / pixels as f32;
        for v in image.data.iter_mut().skip(c).step_by(channels) {
            *v = ((*v - mean) * factor + mean).clamp(0.0, 255.0);
        }
    }
}

impl PreprocessingLayer for RandomContrast {
    fn apply(&self, batch: &mut [Image], rng: &mut ChaCha8Rng) -> Result<()> {
        let factor = uniform(rng, 1.0 - self.lower, 1.0 + self.upper) as f32;
        batch.iter_mut().for_each(|image| adjust_contrast(image, factor));
        Ok(())
    }
}
