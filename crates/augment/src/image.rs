//! The in-memory image the crate works on: float32, rows x cols x channels (HWC), 0..255
//! (8-bit samples straight from a decoder, before a resize, as `Image<u8>`).

use crate::error::{AugmentError, Result};

/// An image as Keras' `img_to_array` gives it: `float32`, `[rows, cols, channels]`, values
/// 0..255 (before `rescale`). `Image<u8>` holds a decoder's 8-bit samples, resized before
/// they become floats (a large photo never exists as a full-size float copy).
#[derive(Debug, Clone, PartialEq)]
pub struct Image<T = f32> {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Channels (3 for RGB).
    pub channels: usize,
    /// Values, row-major, channels interleaved.
    pub data: Vec<T>,
}

impl<T> Image<T> {
    /// The pixel at `(row, col)`.
    pub fn pixel(&self, row: usize, col: usize) -> &[T] {
        let start = (row * self.width + col) * self.channels;
        &self.data[start..start + self.channels]
    }
}

impl<T: Copy + Into<f32>> Image<T> {
    /// The same image as float32 values.
    pub fn to_f32(&self) -> Image {
        let data = self.data.iter().map(|&v| v.into()).collect();
        Image { height: self.height, width: self.width, channels: self.channels, data }
    }
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
}
