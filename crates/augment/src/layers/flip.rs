//! Keras' `RandomFlip`: each image flipped left-right and/or up-down with probability 1/2.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::error::{AugmentError, Result};
use crate::image::Image;
use crate::layers::PreprocessingLayer;
use crate::{flip_horizontal, flip_vertical};

/// `RandomFlip(mode="horizontal_and_vertical")`: `"horizontal"` flips left-right,
/// `"vertical"` up-down, `"horizontal_and_vertical"` each independently; every image of
/// the batch draws its own flips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomFlip {
    horizontal: bool,
    vertical: bool,
}

impl RandomFlip {
    /// The layer for Keras' `mode` string.
    pub fn new(mode: &str) -> Result<Self> {
        match mode {
            "horizontal" => Ok(Self { horizontal: true, vertical: false }),
            "vertical" => Ok(Self { horizontal: false, vertical: true }),
            "horizontal_and_vertical" => Ok(Self { horizontal: true, vertical: true }),
            _ => Err(AugmentError::InvalidParameter {
                parameter: "mode",
                value: mode.into(),
                reason: "RandomFlip layer expects `horizontal`, `vertical` or `horizontal_and_vertical`",
            }),
        }
    }
}

impl PreprocessingLayer for RandomFlip {
    fn apply(&self, batch: &mut [Image], rng: &mut ChaCha8Rng) -> Result<()> {
        for image in batch.iter_mut() {
            if self.horizontal && rng.random_bool(0.5) {
                flip_horizontal(image);
            }
            if self.vertical && rng.random_bool(0.5) {
                flip_vertical(image);
            }
        }
        Ok(())
    }
}
