//! A whole inverted residual block (MobileNetV2's expand 1x1 -> depthwise -> project 1x1)
//! computed band of output rows by band, its expanded rows and depthwise output kept in
//! each thread's cache instead of written out whole.

use std::cell::RefCell;

use gemm::Parallelism;
use rayon::prelude::*;

use super::conv::{Finish, PackedConv};
use super::depthwise::{PackedDepthwise, RowsView};
use super::nhwc::{ChannelSlice, NhwcBatch};

thread_local! {
    /// Each thread's expanded rows and depthwise outputs of a block's band.
    static BAND: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

impl PackedConv {
    /// A whole inverted residual block (MobileNet): the 1x1 expansion, the depthwise
    /// convolution and this 1x1 projection, band of output rows by band, the expanded rows a
    /// band needs (with the window's overlap recomputed) and its depthwise output kept in
    /// cache instead of written out whole.
    pub(super) fn forward_block(
        &self,
        depthwise: &PackedDepthwise,
        input: &NhwcBatch,
        target: &mut ChannelSlice<'_>,
        finish: &Finish,
    ) {
        let expand = depthwise.expand().expect("called for a block with its expansion");
        let [n, h, w, cin] = input.shape;
        let [oh, ow] = depthwise.output_size([h, w]);
        let expanded_channels = expand.out_channels();
        let (top, kernel, step) = depthwise.row_geometry([h, w]);
        let band = (256 * 1024 / (step * w * expanded_channels * 4).max(1)).clamp(1, oh);
        let (stride, offset) = (target.stride, target.offset);
        let image_len = oh * ow * stride;
        target.data[..n * image_len].par_chunks_mut(image_len).enumerate().for_each(|(b, image)| {
            image.par_chunks_mut(band * ow * stride).enumerate().for_each(|(k, chunk)| {
                let (first_row, rows) = (k * band, chunk.len() / (ow * stride));
                let iy0 = (first_row * step).saturating_sub(top);
                let iy1 = ((first_row + rows - 1) * step + kernel).saturating_sub(top).min(h);
                BAND.with_borrow_mut(|(expanded, rows_out)| {
                    let pixels = (iy1 - iy0) * w;
                    expanded.resize(pixels * expanded_channels, 0.0);
                    let lhs = &input.data[(b * h + iy0) * w * cin..(b * h + iy1) * w * cin];
                    expand.product_into(
                        lhs,
                        pixels,
                        expanded,
                        (expanded_channels, 0),
                        Parallelism::None,
                        expand.finish(),
                    );
                    let view =
                        RowsView { data: expanded, shape: [n, h, w, expanded_channels], image: b, first_row: iy0 };
                    rows_out.resize(rows * ow * expanded_channels, 0.0);
                    depthwise.pixels_into(&view, (b * oh + first_row) * ow, [oh, ow], rows_out);
                    self.product_into(rows_out, rows * ow, chunk, (stride, offset), Parallelism::None, finish);
                });
            });
        });
    }
}
