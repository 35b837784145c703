//! Keras' image preprocessing layers (`tf.keras.layers.RandomFlip`, `RandomRotation`,
//! `RandomZoom`, `RandomTranslation`, `RandomContrast`, `Rescaling`), as the TF
//! transfer-learning tutorial puts them in front of its model. The random ones act in
//! training only, as in Keras: apply them to training batches, not to validation or
//! prediction. Each draws its parameters as Keras does (one angle, zoom or shift per image,
//! one contrast factor per batch) from the caller's random stream, then transforms exactly
//! as TF 2.15 does for the drawn parameters (`ImageProjectiveTransformV3`,
//! `adjust_contrast`).
//!
//! ```
//! use augment::layers::{Augmentation, RandomFlip, RandomRotation};
//! // The tutorial's `data_augmentation`.
//! let augmentation = Augmentation::new()
//!     .then(RandomFlip::new("horizontal")?)
//!     .then(RandomRotation::new(0.2)?);
//! # Ok::<(), augment::AugmentError>(())
//! ```

mod contrast;
mod flip;
mod geometric;
mod projective;
mod rescaling;

pub use contrast::{RandomContrast, adjust_contrast};
pub use flip::RandomFlip;
pub use geometric::{RandomRotation, RandomTranslation, RandomZoom};
pub use projective::{
    Projective, Sampling, TransformFillMode, TransformInterpolation, projective_transform, rotation_matrix,
    translation_matrix, zoom_matrix,
};
pub use rescaling::Rescaling;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::error::Result;
use crate::image::Image;

/// A Keras preprocessing layer applied to a training batch of HWC images (0..255 unless a
/// `Rescaling` came first), in place.
pub trait PreprocessingLayer: Send + Sync {
    /// Transforms `batch`, drawing random parameters from `rng`.
    fn apply(&self, batch: &mut [Image], rng: &mut ChaCha8Rng) -> Result<()>;
}

/// Layers applied one after the other (Keras' `Sequential` of preprocessing layers).
#[derive(Default)]
pub struct Augmentation {
    layers: Vec<Box<dyn PreprocessingLayer>>,
}

impl Augmentation {
    /// No layers yet (the identity).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `layer` after the others.
    pub fn then(mut self, layer: impl PreprocessingLayer + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl PreprocessingLayer for Augmentation {
    fn apply(&self, batch: &mut [Image], rng: &mut ChaCha8Rng) -> Result<()> {
        self.layers.iter().try_for_each(|layer| layer.apply(batch, rng))
    }
}

/// Keras' `random_uniform(minval, maxval)`: `lower` itself when the range is empty.
fn uniform(rng: &mut ChaCha8Rng, lower: f64, upper: f64) -> f64 {
    match lower < upper {
        true => rng.random_range(lower..upper),
        false => lower,
    }
}

/// Keras' factor argument: a number `f` means `(-f, f)`; a pair is `(lower, upper)`.
fn symmetric_factor(parameter: &'static str, lower: f64, upper: f64) -> Result<(f64, f64)> {
    let invalid =
        |reason| crate::AugmentError::InvalidParameter { parameter, value: format!("({lower}, {upper})"), reason };
    if !lower.is_finite() || !upper.is_finite() {
        return Err(invalid("must be finite numbers"));
    }
    if upper < lower {
        return Err(invalid("the upper bound is below the lower bound"));
    }
    Ok((lower, upper))
}
