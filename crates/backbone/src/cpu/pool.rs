//! Max and average poolings on channels-last host buffers.

use rayon::prelude::*;

use super::conv::Finish;
use super::nhwc::{ChannelSlice, NhwcBatch};
use super::simd::vectorized;
use crate::layer::{Padding, window_output};

/// A max pooling's window, stride and padding (`MaxPooling2D`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MaxPool {
    pub pool: [usize; 2],
    pub strides: [usize; 2],
    pub padding: Padding,
}

impl MaxPool {
    /// `[[top, bottom], [left, right]]` for an input of `size` (checked to fit when the
    /// network's shapes were).
    fn pads(&self, size: [usize; 2]) -> [[usize; 2]; 2] {
        self.padding.explicit(size, self.pool, self.strides).unwrap_or([[0, 0], [0, 0]])
    }

    /// Output size for an input of `size`.
    pub fn output_size(&self, size: [usize; 2]) -> [usize; 2] {
        let pad = self.pads(size);
        [0, 1].map(|a| window_output(size[a], pad[a], self.pool[a], self.strides[a]))
    }

    /// Short description for profiles (`max pool 3x3/2`).
    pub fn describe(&self) -> String {
        format!("max pool {}x{}/{}", self.pool[0], self.pool[1], self.strides[0])
    }

    /// The pooling, written into `target` (the input's channel count wide). Padded places
    /// are left out of the window (TensorFlow's `same`: never a padded zero as the maximum).
    pub fn forward_into(&self, input: &NhwcBatch, target: &mut ChannelSlice<'_>) {
        let [n, h, w, c] = input.shape;
        let [oh, ow] = self.output_size([h, w]);
        let [[top, _], [left, _]] = self.pads([h, w]);
        let (stride, offset) = (target.stride, target.offset);
        let (pool, strides) = (self.pool, self.strides);
        target.data[..n * oh * ow * stride].par_chunks_mut(ow * stride).enumerate().for_each(|(row_index, row)| {
            let (b, oy) = (row_index / oh, row_index % oh);
            let first_y = (oy * strides[0]) as isize - top as isize;
            let rows = first_y.max(0) as usize..((first_y + pool[0] as isize).max(0) as usize).min(h);
            vectorized(
                #[inline(always)]
                || {
                    for (ox, pixel) in row.chunks_exact_mut(stride).enumerate() {
                        let out = &mut pixel[offset..offset + c];
                        out.fill(f32::NEG_INFINITY);
                        let first_x = (ox * strides[1]) as isize - left as isize;
                        let cols = first_x.max(0) as usize..((first_x + pool[1] as isize).max(0) as usize).min(w);
                        for y in rows.clone() {
                            for x in cols.clone() {
                                let src = ((b * h + y) * w + x) * c;
                                // NaN propagates, as in TensorFlow (`f32::max` would drop it).
                                for (o, v) in out.iter_mut().zip(&input.data[src..src + c]) {
                                    *o = if *v > *o || v.is_nan() { *v } else { *o };
                                }
                            }
                        }
                    }
                },
            )
        });
    }
}

/// 3x3 stride-1 average pooling padded by 1 (`same`): the window's sum divided by the
/// number of real pixels in it (Keras) or always by 9 (`counts_padding`, torchvision), then
/// `finish` on each pixel, written into `target` (the input's channel count wide).
pub(crate) fn avg_pool_3x3_same(
    input: &NhwcBatch,
    counts_padding: bool,
    finish: &Finish,
    target: &mut ChannelSlice<'_>,
) {
    let [n, h, w, c] = input.shape;
    let (stride, offset) = (target.stride, target.offset);
    target.data[..n * h * w * stride].par_chunks_mut(w * stride).enumerate().for_each(|(row_index, row)| {
        vectorized(
            #[inline(always)]
            || {
                let (b, y) = (row_index / h, row_index % h);
                let rows = y.saturating_sub(1)..(y + 2).min(h);
                for (x, pixel) in row.chunks_exact_mut(stride).enumerate() {
                    let out = &mut pixel[offset..offset + c];
                    out.fill(0.0);
                    let cols = x.saturating_sub(1)..(x + 2).min(w);
                    for iy in rows.clone() {
                        for ix in cols.clone() {
                            let src = ((b * h + iy) * w + ix) * c;
                            for (o, v) in out.iter_mut().zip(&input.data[src..src + c]) {
                                *o += v;
                            }
                        }
                    }
                    let count = match counts_padding {
                        true => 9.0,
                        false => (rows.len() * cols.len()) as f32,
                    };
                    out.iter_mut().for_each(|o| *o /= count);
                    finish.apply(out);
                }
            },
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE_BY_TWO: MaxPool = MaxPool { pool: [3, 3], strides: [2, 2], padding: Padding::Valid };

    /// TensorFlow's max pooling keeps a NaN of the window (so does this one).
    #[test]
    fn max_pooling_propagates_nan() {
        let mut input = NhwcBatch::zeros([1, 3, 3, 2]);
        input.data[8] = f32::NAN; // pixel (1, 1), channel 0
        input.data[9] = 5.0; // pixel (1, 1), channel 1
        let mut output = NhwcBatch::zeros([1, 1, 1, 2]);
        THREE_BY_TWO.forward_into(&input, &mut output.as_target());
        assert!(output.data[0].is_nan() && output.data[1] == 5.0, "{:?}", output.data);
    }

    /// TensorFlow's `same` max pooling on an even map pads the bottom / right only, and a
    /// padded place never wins (all-negative inputs stay negative).
    #[test]
    fn same_max_pooling_pads_after_and_ignores_padding() {
        let pool = MaxPool { pool: [3, 3], strides: [2, 2], padding: Padding::Same };
        let mut input = NhwcBatch::zeros([1, 4, 4, 1]);
        input.data.iter_mut().enumerate().for_each(|(i, v)| *v = -(i as f32) - 1.0);
        assert_eq!(pool.output_size([4, 4]), [2, 2]);
        let mut output = NhwcBatch::zeros([1, 2, 2, 1]);
        pool.forward_into(&input, &mut output.as_target());
        // Windows rows/cols 0..3 and 2..4 (padding after): maxima at their first pixels.
        assert_eq!(output.data, vec![-1.0, -3.0, -9.0, -11.0]);
    }

    /// 2x2 stride-2 pooling (VGG16's) on an odd map drops the last row and column.
    #[test]
    fn two_by_two_pooling_drops_the_odd_edge() {
        let pool = MaxPool { pool: [2, 2], strides: [2, 2], padding: Padding::Valid };
        let mut input = NhwcBatch::zeros([1, 3, 3, 1]);
        input.data.iter_mut().enumerate().for_each(|(i, v)| *v = i as f32);
        let mut output = NhwcBatch::zeros([1, 1, 1, 1]);
        assert_eq!(pool.output_size([3, 3]), [1, 1]);
        pool.forward_into(&input, &mut output.as_target());
        assert_eq!(output.data, vec![4.0]);
    }
}
