//! The in-memory image the crate works on: float32, rows x cols x channels (HWC), 0..255.

use crate::error::{AugmentError, Result};

/// An image as Keras' `img_to_array` gives it: `float32`, `[rows, cols, channels]`, values
/// 0..255 (before `rescale`).
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Channels (3 for RGB).
    pub channels: usize,
    /// Values, row-major, channels interleaved.
    pub data: Vec<f32>,
}

impl Image {
    /// Wraps HWC data, checking its length.
    pub fn new(height: usize, width: usize, channels: usize, data: Vec<f32>) -> Result<Self> {
        if data.len() != height * width * channels || channels == 0 {
            return Err(AugmentError::ImageShape { height, width, channels, len: data.len() });
        }
        Ok(Self { height, width, channels, data })
    }

    /// An image of one value.
    pub fn filled(height: usize, width: usize, channels: usize, value: f32) -> Self {
        Self { height, width, channels, data: vec![value; height * width * channels] }
    }

    /// The pixel at `(row, col)`.
    pub fn pixel(&self, row: usize, col: usize) -> &[f32] {
        let start = (row * self.width + col) * self.channels;
        &self.data[start..start + self.channels]
    }
}
