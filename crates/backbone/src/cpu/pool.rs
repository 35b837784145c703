//! Max and average poolings on channels-last host buffers.

use rayon::prelude::*;

use super::conv::Finish;
use super::nhwc::{ChannelSlice, NhwcBatch};
use super::simd::vectorized;
use super::window::NO_PADDING;
use crate::layer::{Padding, ZeroPadding, window_output};

/// A max pooling's window, stride and padding (`MaxPooling2D`), and the zero padding of a
/// `ZeroPadding2D` that only it reads (ResNet's `pool1_pad`), folded in: its zeros take
/// part in the maximum as Keras' padded copy's would, without the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MaxPool {
    pub pool: [usize; 2],
    pub strides: [usize; 2],
    pub padding: Padding,
    pub zeros: ZeroPadding,
}

impl MaxPool {
    /// The input size with the folded zeros.
    fn zero_padded(&self, [h, w]: [usize; 2]) -> [usize; 2] {
        let [[top, bottom], [left, right]] = self.zeros.resolve([h, w]);
        [h + top + bottom, w + left + right]
    }

    /// `[[top, bottom], [left, right]]` of the pooling's own padding for an input of
    /// `size` (with the folded zeros; checked to fit when the network's shapes were).
    fn pads(&self, size: [usize; 2]) -> [[usize; 2]; 2] {
        self.padding.explicit(size, self.pool, self.strides).unwrap_or([[0, 0], [0, 0]])
    }

    /// Output size for an input of `size`.
    pub fn output_size(&self, size: [usize; 2]) -> [usize; 2] {
        let size = self.zero_padded(size);
        let pad = self.pads(size);
        [0, 1].map(|a| window_output(size[a], pad[a], self.pool[a], self.strides[a]))
    }

    /// Short description for profiles (`max pool 3x3/2`).
    pub fn describe(&self) -> String {
        let zeros = if self.zeros == NO_PADDING { "" } else { " (zero-padded)" };
        format!("max pool {}x{}/{}{zeros}", self.pool[0], self.pool[1], self.strides[0])
    }

    /// The pooling, written into `target` (the input's channel count wide). The pooling's
    /// own padding is left out of the window (TensorFlow's `same`: never a padded value as
    /// the maximum); the folded zeros are values like any other.
    pub fn forward_into(&self, input: &NhwcBatch, target: &mut ChannelSlice<'_>) {
        let [n, h, w, c] = input.shape;
        let [oh, ow] = self.output_size([h, w]);
        let [[zero_top, _], [zero_left, _]] = self.zeros.resolve([h, w]);
        let padded = self.zero_padded([h, w]);
        let [[top, _], [left, _]] = self.pads(padded);
        let (stride, offset) = (target.stride, target.offset);
        let (pool, strides) = (self.pool, self.strides);
        // The window along one axis in zero-padded coordinates (the pooling's own padding
        // cut off), the part of it in the image, and whether it reaches a folded zero.
        let window = |out: usize, axis: usize, before: usize, zeros_before: usize, size: usize| {
            let first = (out * strides[axis]) as isize - before as isize;
            let (start, end) =
                (first.max(0) as usize, ((first + pool[axis] as isize).max(0) as usize).min(padded[axis]));
            let inside =
                start.max(zeros_before).min(zeros_before + size)..end.max(zeros_before).min(zeros_before + size);
            let zero = inside.len() < end - start;
            (inside.start - zeros_before..inside.end - zeros_before, zero)
        };
        target.data[..n * oh * ow * stride].par_chunks_mut(ow * stride).enumerate().for_each(|(row_index, row)| {
            let (b, oy) = (row_index / oh, row_index % oh);
            let (rows, zero_rows) = window(oy, 0, top, zero_top, h);
            vectorized(
                #[inline(always)]
                || {
                    for (ox, pixel) in row.chunks_exact_mut(stride).enumerate() {
                        let out = &mut pixel[offset..offset + c];
                        let (cols, zero_cols) = window(ox, 1, left, zero_left, w);
                        out.fill(if zero_rows || zero_cols { 0.0 } else { f32::NEG_INFINITY });
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

    const THREE_BY_TWO: MaxPool = MaxPool { pool: [3, 3], strides: [2, 2], padding: Padding::Valid, zeros: NO_PADDING };

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
        let pool = MaxPool { pool: [3, 3], strides: [2, 2], padding: Padding::Same, zeros: NO_PADDING };
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
        let pool = MaxPool { pool: [2, 2], strides: [2, 2], padding: Padding::Valid, zeros: NO_PADDING };
        let mut input = NhwcBatch::zeros([1, 3, 3, 1]);
        input.data.iter_mut().enumerate().for_each(|(i, v)| *v = i as f32);
        let mut output = NhwcBatch::zeros([1, 1, 1, 1]);
        assert_eq!(pool.output_size([3, 3]), [1, 1]);
        pool.forward_into(&input, &mut output.as_target());
        assert_eq!(output.data, vec![4.0]);
    }

    /// Folded zeros count as values: an all-negative map padded by one (ResNet's
    /// `pool1_pad`) pools to 0 at its border, as Keras' padded copy does.
    #[test]
    fn folded_zero_padding_takes_part_in_the_maximum() {
        let zeros = ZeroPadding::Fixed([[1, 1], [1, 1]]);
        let pool = MaxPool { pool: [3, 3], strides: [2, 2], padding: Padding::Valid, zeros };
        let mut input = NhwcBatch::zeros([1, 4, 4, 1]);
        input.data.iter_mut().enumerate().for_each(|(i, v)| *v = -(i as f32) - 1.0);
        input.data[15] = 7.0;
        assert_eq!(pool.output_size([4, 4]), [2, 2]);
        let mut output = NhwcBatch::zeros([1, 2, 2, 1]);
        pool.forward_into(&input, &mut output.as_target());
        // Windows over the 6x6 padded map at rows/cols 0..3 and 2..5: every one reaches a
        // zero but the last, which holds the 7.
        assert_eq!(output.data, vec![0.0, 0.0, 0.0, 7.0]);
    }
}
