//! The weighted layers' weights packed for the engine's kernels ([`Packed`]), and the
//! layers the engine cannot run refused by name.

use std::sync::Arc;

use super::Packed;
use crate::architecture::Architecture;
use crate::cpu::conv::{ConvAlgorithm, Finish, PackedConv};
use crate::cpu::dense::PackedDense;
use crate::cpu::depthwise::PackedDepthwise;
use crate::cpu::nhwc::host_values;
use crate::cpu::steps::ChannelMap;
use crate::error::{NetworkError, Result};
use crate::layer::{Activation, LayerKind, Padding};
use crate::network::{LayerParams, Network};

/// The packed weights of `network`'s layers that are `needed` (`None` for the others and
/// for layers without weights), convolutions with `algorithm`; a layer the engine cannot
/// run is an error naming it.
pub(in crate::cpu) fn pack(
    network: &Network,
    needed: &[bool],
    algorithm: ConvAlgorithm,
) -> Result<Vec<Option<Packed>>> {
    let architecture = network.architecture();
    let mut packed = vec![None; architecture.len()];
    for (i, layer) in architecture.layers().iter().enumerate().filter(|(i, _)| needed[*i]) {
        packed[i] = match (&layer.kind, network.params_of(i)) {
            (LayerKind::Conv2D { strides, padding, .. }, Some(LayerParams::Conv(conv))) => {
                Some(Packed::Conv(PackedConv::pack(conv, *strides, *padding, algorithm)?))
            }
            (LayerKind::DepthwiseConv2D { strides, padding, .. }, Some(LayerParams::Conv(conv))) => {
                Some(Packed::Depthwise(PackedDepthwise::pack(conv, *strides, *padding)?))
            }
            (LayerKind::SeparableConv2D { strides, padding, .. }, Some(LayerParams::Separable(sep))) => {
                // The depthwise step computed inside the pointwise convolution, as for
                // MobileNet's depthwise -> project pairs.
                let depthwise = PackedDepthwise::pack(&sep.depthwise, *strides, *padding)?;
                let pointwise = PackedConv::pack(&sep.pointwise, [1, 1], Padding::Valid, algorithm)?;
                Some(Packed::Conv(pointwise.after_depthwise(depthwise)))
            }
            (LayerKind::BatchNormalization { .. }, Some(LayerParams::Norm(bn))) => {
                Some(Packed::Norm(Finish::with_bias(None).with_norm(bn)?))
            }
            (LayerKind::Dense { activation, .. }, Some(LayerParams::Dense(dense))) => {
                Some(Packed::Dense(Arc::new(PackedDense::pack(dense, *activation)?)))
            }
            (LayerKind::AveragePooling2D { pool, strides, padding, .. }, _) => {
                let same = matches!(padding, Padding::Same | Padding::Symmetric([1, 1]));
                if *pool != [3, 3] || *strides != [1, 1] || !same {
                    return Err(unsupported(architecture, i, "only 3x3 stride-1 average pooling padded by 1"));
                }
                None
            }
            (LayerKind::Activation(Activation::Softmax) | LayerKind::ReLU(Activation::Softmax), _) => {
                return Err(unsupported(architecture, i, "softmax only after a dense layer"));
            }
            (LayerKind::Rescaling { scale, offset }, _) => Some(Packed::Channels(ChannelMap::Rescale {
                scale: scale.iter().map(|&s| s as f32).collect(),
                offset: *offset as f32,
            })),
            (LayerKind::Normalization, Some(LayerParams::Normalization(stats))) => {
                let mean = host_values(stats.mean.value())?;
                let divisor = host_values(stats.variance.value())?.iter().map(|v| v.sqrt().max(1e-7)).collect();
                Some(Packed::Channels(ChannelMap::Normalize { mean, divisor }))
            }
            (LayerKind::Multiply, _) => {
                // The gates (every input after the first) must be 1x1 maps.
                let gates = &layer.inputs[1..];
                if !gates.iter().all(|&j| one_pixel_whatever_the_input(architecture, j)) {
                    return Err(unsupported(architecture, i, "only a map times per-channel 1x1 gates"));
                }
                None
            }
            _ => None,
        };
    }
    Ok(packed)
}

/// Whether the layer at `index` outputs a 1x1 map (or vector) for every input size: a
/// pooled vector or its 1x1 reshape, and what keeps that size (1x1 stride-1
/// convolutions, activations, batch norms).
fn one_pixel_whatever_the_input(architecture: &Architecture, index: usize) -> bool {
    let layer = &architecture.layers()[index];
    match layer.kind {
        LayerKind::Reshape { shape: [1, 1, _] } | LayerKind::GlobalAveragePooling2D | LayerKind::Dense { .. } => true,
        LayerKind::Conv2D { kernel: [1, 1], strides: [1, 1], .. }
        | LayerKind::Activation(_)
        | LayerKind::ReLU(_)
        | LayerKind::BatchNormalization { .. }
        | LayerKind::Dropout { .. } => one_pixel_whatever_the_input(architecture, layer.inputs[0]),
        _ => false,
    }
}

fn unsupported(architecture: &Architecture, index: usize, reason: &str) -> NetworkError {
    NetworkError::Unsupported { layer: architecture.layers()[index].name.clone(), reason: reason.into() }
}
