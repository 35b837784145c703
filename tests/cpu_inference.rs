//! The packed CPU path ([`CpuInference`]) against Burn's own forward pass on batches,
//! non-square inputs and both flavours (its parity with Keras and torchvision is checked
//! beside Burn's in `inception_parity.rs`).

mod common;
#[path = "common/inception_fixtures.rs"]
mod inception_fixtures;

use backbone::CpuInference;
use backbone::LayerParams;
use backbone::cpu::{ConvAlgorithm, NhwcBatch, is_host_device};
use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use common::{compare, nhwc};
use inception::{Flavor, InceptionV3, InceptionV3Config, LayerName};
use inception_fixtures::keras_model;

/// A batch of distinct images (each image of the deterministic set gets its own salt).
fn batch(height: usize, width: usize, batch: usize, device: &Device) -> Tensor<4> {
    let mut values = Vec::new();
    for salt in 0..batch as u64 {
        values.extend(common::detrand::image(height, width, 1, salt + 1));
    }
    Tensor::<4>::from_data(TensorData::new(values, [batch, height, width, 3]), device).permute([0, 3, 1, 2])
}

/// Asserts that the packed path with each `(algorithm, tolerance)` gives Burn's output of
/// `layer` for `input` within `tolerance` of the largest magnitude (at least 1).
fn check_packed(model: &InceptionV3, input: &Tensor<4>, layer: LayerName, algorithms: &[(ConvAlgorithm, f32)]) {
    let (shape, burn) = nhwc(model.forward_to(input.clone(), layer).expect("burn"));
    for &(algorithm, tolerance) in algorithms {
        let packed = CpuInference::with_algorithm(&model.network, algorithm).expect("pack");
        let (packed_shape, ours) = nhwc(inception_fixtures::packed_to(&packed, input.clone(), layer).expect("packed"));
        assert_eq!(packed_shape, shape, "{layer}");
        let (diff, scale) = compare(&ours, &burn);
        println!("{:?} {algorithm:?} {layer}: max |diff| {diff:.2e} of max |value| {scale:.2}", model.flavor);
        assert!(diff <= tolerance * scale.max(1.0), "{algorithm:?} {layer}: {diff}");
    }
}

#[test]
fn packed_forward_matches_burn_on_a_non_square_batch() {
    let device = Device::flex();
    let model = keras_model(&InceptionV3Config::new(Flavor::Keras), &device);
    let input = batch(97, 131, 3, &device);
    // The fixture network amplifies float32 rounding (Keras' own float32 result is 7.8e-4
    // from its float64 one at mixed10): two summation orders agree to ~1e-5 of the scale,
    // Winograd's F(2x2, 3x3) transforms add about as much again, F(4x4, 3x3) twice that
    // (the default uses it on the layers of 64 or more channels, the register-tiled
    // direct kernel's blocked sums on the other convolutions).
    let algorithms = [
        (ConvAlgorithm::Direct, 2e-5),
        (ConvAlgorithm::Winograd, 1.2e-4),
        (ConvAlgorithm::Winograd2x2, 6e-5),
        (ConvAlgorithm::Winograd4x4, 1.2e-4),
    ];
    for layer in [LayerName::Mixed2, LayerName::Mixed7, LayerName::Mixed9_0, LayerName::Mixed10] {
        check_packed(&model, &input, layer, &algorithms);
    }
}

#[test]
fn torchvision_flavour_packs_gamma_and_padded_pooling() {
    let device = Device::flex();
    let config = InceptionV3Config::new(Flavor::Torchvision).with_cut(LayerName::Mixed4);
    let mut model = config.init(&device).expect("model");
    // Non-trivial batch-norm statistics and gammas, so both differences from Keras show.
    model = model.calibrate_batch_norm(batch(75, 75, 2, &device)).expect("calibrate");
    let norms = model.network.params.iter_mut().filter_map(|p| match p {
        LayerParams::Norm(bn) => Some(bn),
        _ => None,
    });
    for (index, bn) in norms.enumerate() {
        let n = bn.num_features();
        let gamma = common::detrand::uniform(1000 + index as u64, n).iter().map(|u| 0.5 + u).collect::<Vec<f32>>();
        bn.gamma = Some(Param::from_tensor(Tensor::from_data(TensorData::new(gamma, [n]), &device)));
    }
    let input = batch(80, 75, 2, &device);
    check_packed(&model, &input, LayerName::Mixed4, &[(ConvAlgorithm::Direct, 1e-5), (ConvAlgorithm::Winograd, 1e-5)]);
}

#[test]
fn channels_last_round_trip_and_errors() {
    let device = Device::flex();
    assert!(is_host_device(&device) && is_host_device(&device.clone().autodiff()));
    let input = batch(75, 76, 2, &device);
    let host = NhwcBatch::from_nchw(input.clone()).expect("host");
    assert_eq!(host.shape, [2, 75, 76, 3]);
    let back = host.into_nchw(&device);
    assert_eq!(back.into_data(), input.into_data());

    let model = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed0).init(&device).expect("model");
    let packed = CpuInference::new(&model.network).expect("pack");
    let small = packed.forward(Tensor::<4>::zeros([1, 3, 74, 80], &device)).unwrap_err();
    assert!(small.to_string().contains("74"), "{small}");
    let gray = packed.forward(Tensor::<4>::zeros([1, 1, 80, 80], &device)).unwrap_err();
    assert!(gray.to_string().contains("channels"), "{gray}");
    let cut = inception_fixtures::packed_to(&packed, Tensor::<4>::zeros([1, 3, 80, 80], &device), LayerName::Mixed1)
        .unwrap_err();
    assert!(cut.to_string().contains("mixed1"), "{cut}");
}

/// The packed engine reuses its feature-map memory from pass to pass: a second pass on
/// other images gives what a freshly packed model gives (nothing left over from the first).
#[test]
fn a_second_pass_is_not_affected_by_the_first() {
    let device = Device::flex();
    let model = keras_model(&InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed4), &device);
    let packed = CpuInference::new(&model.network).expect("pack");
    let (first, second) = (batch(99, 85, 2, &device), batch(80, 76, 3, &device));
    packed.forward(first.clone()).expect("first pass");
    let again = nhwc(packed.forward(second.clone()).expect("second pass"));
    let fresh = nhwc(CpuInference::new(&model.network).expect("pack").forward(second).expect("fresh"));
    assert_eq!(again, fresh);
    let bigger = nhwc(packed.forward(first.clone()).expect("third pass"));
    assert_eq!(bigger, nhwc(CpuInference::new(&model.network).expect("pack").forward(first).expect("fresh")));
}

/// A batch large enough to be split among the threads gives each image what it gets in a
/// smaller batch run whole: to the bit, through every kind of step of InceptionV3 and
/// MobileNetV2 (each thread runs its own images; no kernel mixes images).
#[test]
fn an_image_gets_the_same_values_in_any_batch() {
    let device = Device::flex();
    let inception = keras_model(&InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed7), &device);
    let mobilenet = mobilenet::MobileNetV2Config::new().with_input_size([96, 96]).init(&device).expect("model").network;
    let networks = [(&inception.network, 75), (&mobilenet, 96)];
    for (network, size) in networks {
        let packed = backbone::CpuInference::new(network).expect("pack");
        let images = batch(size, size, 9, &device);
        let whole = packed.forward(images.clone()).expect("whole batch").into_data().try_to_vec::<f32>().expect("f32");
        let mut parts = Vec::new();
        for range in [0..3, 3..6, 6..9] {
            let part = images.clone().slice([range, 0..3, 0..size, 0..size]);
            parts.extend(packed.forward(part).expect("part").into_data().try_to_vec::<f32>().expect("f32"));
        }
        assert_eq!(whole.len(), parts.len());
        let differing = whole.iter().zip(&parts).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
        assert_eq!(differing, 0, "{differing} of {} values differ", whole.len());
    }
}
