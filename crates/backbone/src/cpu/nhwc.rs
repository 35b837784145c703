//! Channels-last feature maps in host memory, and the channel range a layer writes into.

use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;

use crate::error::{NetworkError, Result};

/// A tensor's values (on any device) in host memory as `f32`, in row-major order.
pub fn host_values<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    tensor.into_data().convert::<f32>().try_into_vec::<f32>().map_err(|e| NetworkError::TensorData(format!("{e:?}")))
}

/// A batch of feature maps in host memory, channels last: `[batch, rows, cols, channels]`
/// (Keras' layout).
#[derive(Debug, Clone, PartialEq)]
pub struct NhwcBatch {
    /// Values, `batch * rows * cols * channels` of them, channel fastest.
    pub data: Vec<f32>,
    /// `[batch, rows, cols, channels]`.
    pub shape: [usize; 4],
}

impl NhwcBatch {
    /// A batch of zeros.
    pub fn zeros(shape: [usize; 4]) -> Self {
        Self { data: vec![0.0; shape.iter().product()], shape }
    }

    /// Pixels (`batch * rows * cols`): the rows of the matrix a 1x1 convolution multiplies.
    pub fn pixels(&self) -> usize {
        self.shape[0] * self.shape[1] * self.shape[2]
    }

    /// Channels per pixel.
    pub fn channels(&self) -> usize {
        self.shape[3]
    }

    /// Reads an NCHW Burn tensor (on any device) into channels-last host memory.
    pub fn from_nchw(tensor: Tensor<4>) -> Result<Self> {
        let [n, c, h, w] = tensor.dims();
        let planar = host_values(tensor)?;
        let mut data = vec![0.0; planar.len()];
        let image = h * w * c;
        data.par_chunks_mut(w * c).enumerate().for_each(|(row_index, row)| {
            let (b, y) = (row_index / h, row_index % h);
            for x in 0..w {
                for ch in 0..c {
                    row[x * c + ch] = planar[b * image + (ch * h + y) * w + x];
                }
            }
        });
        Ok(Self { data, shape: [n, h, w, c] })
    }

    /// The batch as a Burn tensor on `device`, in Burn's NCHW order (a permuted view of the
    /// channels-last data: flattening it back to channels-last costs nothing).
    pub fn into_nchw(self, device: &Device) -> Tensor<4> {
        Tensor::<4>::from_data(TensorData::new(self.data, self.shape), device).permute([0, 3, 1, 2])
    }

    /// The batch with `[[top, bottom], [left, right]]` zeros around every image.
    pub(crate) fn padded(&self, [[top, bottom], [left, right]]: [[usize; 2]; 2]) -> NhwcBatch {
        let [n, h, w, c] = self.shape;
        let (ph, pw) = (h + top + bottom, w + left + right);
        let mut padded = NhwcBatch::zeros([n, ph, pw, c]);
        if h * w * c == 0 {
            return padded;
        }
        padded.data.par_chunks_mut(ph * pw * c).zip(self.data.par_chunks(h * w * c)).for_each(|(out, image)| {
            for (y, row) in image.chunks_exact(w * c).enumerate() {
                let at = ((y + top) * pw + left) * c;
                out[at..at + w * c].copy_from_slice(row);
            }
        });
        padded
    }

    /// The whole batch as a write target.
    pub(crate) fn as_target(&mut self) -> ChannelSlice<'_> {
        let stride = self.shape[3];
        ChannelSlice { data: &mut self.data, stride, offset: 0, width: stride }
    }
}

/// Channels `offset .. offset + width` of every pixel of a channels-last buffer with
/// `stride` channels per pixel: where one branch of a block writes its share of the
/// concatenation.
pub(crate) struct ChannelSlice<'a> {
    /// The whole buffer.
    pub data: &'a mut [f32],
    /// Channels per pixel of the buffer.
    pub stride: usize,
    /// First channel written.
    pub offset: usize,
    /// Channels written.
    pub width: usize,
}

impl ChannelSlice<'_> {
    /// The channels `offset .. offset + width` of this slice (relative to it).
    pub fn narrow(&mut self, offset: usize, width: usize) -> ChannelSlice<'_> {
        ChannelSlice { data: self.data, stride: self.stride, offset: self.offset + offset, width }
    }
}
