//! Keras' `RandomRotation`, `RandomZoom` and `RandomTranslation`: per-image parameters
//! drawn as Keras draws them, then TF's projective transform of each image.

use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{AugmentError, Result};
use crate::image::Image;
use crate::layers::projective::{
    Projective, Sampling, TransformFillMode, TransformInterpolation, projective_transform, rotation_matrix,
    translation_matrix, zoom_matrix,
};
use crate::layers::{PreprocessingLayer, symmetric_factor, uniform};

/// Transforms every image of `batch` by the matrix drawn for it.
fn transform_batch(batch: &mut [Image], matrices: &[Projective], sampling: Sampling) {
    batch
        .par_iter_mut()
        .zip(matrices)
        .for_each(|(image, matrix)| *image = projective_transform(image, matrix, sampling));
}

/// The fill and interpolation setters the three layers share (Keras' argument names).
macro_rules! sampling_setters {
    () => {
        /// Keras' `fill_mode` (`reflect` by default).
        pub fn fill_mode(mut self, fill_mode: TransformFillMode) -> Self {
            self.sampling.fill_mode = fill_mode;
            self
        }

        /// Keras' `fill_value` (0 by default), used by `constant`.
        pub fn fill_value(mut self, fill_value: f32) -> Self {
            self.sampling.fill_value = fill_value;
            self
        }

        /// Keras' `interpolation` (`bilinear` by default).
        pub fn interpolation(mut self, interpolation: TransformInterpolation) -> Self {
            self.sampling.interpolation = interpolation;
            self
        }
    };
}

/// `RandomRotation(factor, fill_mode="reflect", interpolation="bilinear", fill_value=0.0)`:
/// each image rotated by an angle drawn from `[lower * 2 pi, upper * 2 pi]`, counter-clockwise
/// for positive angles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomRotation {
    lower: f64,
    upper: f64,
    sampling: Sampling,
}

impl RandomRotation {
    /// `RandomRotation(factor)`: angles in `[-factor, factor]` turns.
    pub fn new(factor: f64) -> Result<Self> {
        Self::between(-factor, factor)
    }

    /// `RandomRotation((lower, upper))`, in fractions of a turn.
    pub fn between(lower: f64, upper: f64) -> Result<Self> {
        let (lower, upper) = symmetric_factor("factor", lower, upper)?;
        Ok(Self { lower, upper, sampling: Sampling::default() })
    }

    sampling_setters!();

    /// Rotates one image by `angle` radians (what the layer does once it has drawn the angle).
    pub fn rotate(&self, image: &Image, angle: f32) -> Image {
        projective_transform(image, &rotation_matrix(angle, image.height, image.width), self.sampling)
    }
}

impl PreprocessingLayer for RandomRotation {
    fn apply(&self, batch: &mut [Image], rng: &mut ChaCha8Rng) -> Result<()> {
        let tau = 2.0 * std::f64::consts::PI;
        let matrices: Vec<Projective> = batch
            .iter()
            .map(|image| {
                rotation_matrix(uniform(rng, self.lower * tau, self.upper * tau) as f32, image.height, image.width)
            })
            .collect();
        transform_batch(batch, &matrices, self.sampling);
        Ok(())
    }
}

/// `RandomZoom(height_factor, width_factor=None, ...)`: each image's input coordinates
/// scaled by `1 + f`, `f` drawn from the factor's range (a positive factor zooms out); the
/// width draws its own factor when `width_factor` is given, else uses the height's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomZoom {
    height: (f64, f64),
    width: Option<(f64, f64)>,
    sampling: Sampling,
}

impl RandomZoom {
    /// `RandomZoom(height_factor)`: `(-f, f)`; pass `between` for a pair.
    pub fn new(height_factor: f64) -> Result<Self> {
        Self::between(-height_factor, height_factor)
    }

    /// `RandomZoom((lower, upper))` for the height (and the width, unless set apart).
    pub fn between(lower: f64, upper: f64) -> Result<Self> {
        let height = symmetric_factor("height_factor", lower, upper)?;
        if lower.abs() > 1.0 || upper.abs() > 1.0 {
            return Err(AugmentError::InvalidParameter {
                parameter: "height_factor",
                value: format!("({lower}, {upper})"),
                reason: "`height_factor` argument must have values between [-1, 1]",
            });
        }
        Ok(Self { height, width: None, sampling: Sampling::default() })
    }

    /// Keras' `width_factor`: a range of its own for the width.
    pub fn width_factor(mut self, lower: f64, upper: f64) -> Result<Self> {
        let width = symmetric_factor("width_factor", lower, upper)?;
        if lower < -1.0 || upper < -1.0 {
            return Err(AugmentError::InvalidParameter {
                parameter: "width_factor",
                value: format!("({lower}, {upper})"),
                reason: "`width_factor` argument must have values larger than -1",
            });
        }
        self.width = Some(width);
        Ok(self)
    }

    sampling_setters!();

    /// Zooms one image by the drawn `zx`, `zy` (1 + factor).
    pub fn zoom(&self, image: &Image, zx: f32, zy: f32) -> Image {
        projective_transform(image, &zoom_matrix(zx, zy, image.height, image.width), self.sampling)
    }
}

impl PreprocessingLayer for RandomZoom {
    fn apply(&self, batch: &mut [Image], rng: &mut ChaCha8Rng) -> Result<()> {
        let mut matrices = Vec::with_capacity(batch.len());
        for image in batch.iter() {
            let zy = uniform(rng, 1.0 + self.height.0, 1.0 + self.height.1) as f32;
            let zx = match self.width {
                Some((lower, upper)) => uniform(rng, 1.0 + lower, 1.0 + upper) as f32,
                None => zy,
            };
            matrices.push(zoom_matrix(zx, zy, image.height, image.width));
        }
        transform_batch(batch, &matrices, self.sampling);
        Ok(())
    }
}

/// `RandomTranslation(height_factor, width_factor, ...)`: each image shifted by a fraction of
/// its height and of its width, each drawn from its factor's range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomTranslation {
    height: (f64, f64),
    width: (f64, f64),
    sampling: Sampling,
}

impl RandomTranslation {
    /// `RandomTranslation(height_factor, width_factor)`: `(-f, f)` for each.
    pub fn new(height_factor: f64, width_factor: f64) -> Result<Self> {
        Self::between((-height_factor, height_factor), (-width_factor, width_factor))
    }

    /// `RandomTranslation((h_lower, h_upper), (w_lower, w_upper))`, fractions in [-1, 1].
    pub fn between(height: (f64, f64), width: (f64, f64)) -> Result<Self> {
        for (parameter, (lower, upper)) in [("height_factor", height), ("width_factor", width)] {
            symmetric_factor(parameter, lower, upper)?;
            if lower.abs() > 1.0 || upper.abs() > 1.0 {
                return Err(AugmentError::InvalidParameter {
                    parameter,
                    value: format!("({lower}, {upper})"),
                    reason: "must have values between [-1, 1]",
                });
            }
        }
        Ok(Self { height, width, sampling: Sampling::default() })
    }

    sampling_setters!();

    /// Shifts one image by the drawn `dx` columns and `dy` rows.
    pub fn translate(&self, image: &Image, dx: f32, dy: f32) -> Image {
        projective_transform(image, &translation_matrix(dx, dy), self.sampling)
    }
}

impl PreprocessingLayer for RandomTranslation {
    fn apply(&self, batch: &mut [Image], rng: &mut ChaCha8Rng) -> Result<()> {
        let mut matrices = Vec::with_capacity(batch.len());
        for image in batch.iter() {
            let dy = (uniform(rng, self.height.0, self.height.1) as f32) * image.height as f32;
            let dx = (uniform(rng, self.width.0, self.width.1) as f32) * image.width as f32;
            matrices.push(translation_matrix(dx, dy));
        }
        transform_batch(batch, &matrices, self.sampling);
        Ok(())
    }
}
