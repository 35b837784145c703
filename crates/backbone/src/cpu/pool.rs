//! The poolings of InceptionV3 on channels-last host buffers.

use rayon::prelude::*;

use super::conv::Finish;
use super::nhwc::{ChannelSlice, NhwcBatch};
use super::simd::vectorized;

/// Output size of the 3x3 stride-2 `valid` max pooling.
pub(crate) fn max_pool_output_size([h, w]: [usize; 2]) -> [usize; 2] {
    [(h - 3) / 2 + 1, (w - 3) / 2 + 1]
}

/// 3x3 stride-2 `valid` max pooling (the stem and the grid reductions), written into
/// `target` (the input's channel count wide).
pub(crate) fn max_pool_3x3_stride2(input: &NhwcBatch, target: &mut ChannelSlice<'_>) {
    let [n, h, w, c] = input.shape;
    let [oh, ow] = max_pool_output_size([h, w]);
    let (stride, offset) = (target.stride, target.offset);
    target.data[..n * oh * ow * stride].par_chunks_mut(ow * stride).enumerate().for_each(|(row_index, row)| {
        let (b, oy) = (row_index / oh, row_index % oh);
        vectorized(
            #[inline(always)]
            || {
                for (ox, pixel) in row.chunks_exact_mut(stride).enumerate() {
                    let out = &mut pixel[offset..offset + c];
                    out.fill(f32::NEG_INFINITY);
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let src = ((b * h + oy * 2 + ky) * w + ox * 2 + kx) * c;
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

    /// TensorFlow's max pooling keeps a NaN of the window (so does this one).
    #[test]
    fn max_pooling_propagates_nan() {
        let mut input = NhwcBatch::zeros([1, 3, 3, 2]);
        input.data[8] = f32::NAN; // pixel (1, 1), channel 0
        input.data[9] = 5.0; // pixel (1, 1), channel 1
        let mut output = NhwcBatch::zeros([1, 1, 1, 2]);
        max_pool_3x3_stride2(&input, &mut output.as_target());
        assert!(output.data[0].is_nan() && output.data[1] == 5.0, "{:?}", output.data);
    }
}
