//! MobileNetV2 against the real Keras 2.15: the layer list (names, classes, shapes,
//! parameters, order), outputs at several layers at 150, 160, 224 and a non-square size
//! through Burn and the packed CPU path, and a weight file written by Keras' `save_weights`.
//! Fixtures: tests/fixtures/mobilenet/make_keras_fixtures.py.

mod common;

use std::path::{Path, PathBuf};

use backbone::cpu::ConvAlgorithm;
use backbone::weights::{KerasLayer, KerasWeight, KerasWeightFile, apply_named, keras_tensors};
use backbone::{CpuInference, LayerKind, Network};
use burn::tensor::{Device, Tensor, TensorData};
use common::{compare, nhwc};
use inception_transfer::npy::{NpyArray, read_npy};
use mobilenet::{MobileNetV2, MobileNetV2Config};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mobilenet").join(name)
}

fn npy(name: &str) -> NpyArray {
    read_npy(&fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A committed photo as Keras' `preprocess_input` gives it (`x / 127.5 - 1`), NCHW.
fn photo(name: &str, device: &Device) -> Tensor<4> {
    let image = image::open(fixture(name)).expect("photo").to_rgb8();
    let (w, h) = (image.width() as usize, image.height() as usize);
    let values: Vec<f32> = image.into_raw().into_iter().map(|v| v as f32 / 127.5 - 1.0).collect();
    Tensor::<4>::from_data(TensorData::new(values, [1, h, w, 3]), device).permute([0, 3, 1, 2])
}

/// Keras' own float32 error (against its float64 run) for a size and layer.
fn keras_error(size: &str, layer: &str) -> f32 {
    let text = std::fs::read_to_string(fixture("keras_f32_error.txt")).expect("error file");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let parts: Vec<&str> = l.split(' ').collect();
            (parts[0] == size && parts[1] == layer).then(|| parts[2].parse().expect("a number"))
        })
        .unwrap_or_else(|| panic!("no error figure for {size} {layer}"))
}

/// The fixture weights (deterministic kernels, gammas and betas; calibrated statistics) as
/// a Keras weight file with the layer names of `network`.
fn fixture_weights(network: &Network) -> KerasWeightFile {
    let (means, variances) = (npy("bn_moving_mean.npy").values, npy("bn_moving_variance.npy").values);
    let architecture = network.architecture();
    let mut offset = 0;
    let mut layers = Vec::new();
    let weighted = architecture.layers().iter().enumerate().filter(|(_, l)| l.kind.has_weights());
    for (k, (index, layer)) in weighted.enumerate() {
        let in_channels = architecture.channels(layer.inputs[0]);
        let weights = match &layer.kind {
            LayerKind::Conv2D { filters, kernel, .. } => {
                let shape = [kernel[0], kernel[1], in_channels, *filters];
                vec![KerasWeight {
                    name: "kernel".into(),
                    shape: shape.to_vec(),
                    values: common::detrand::conv_kernel(125 + k, shape),
                }]
            }
            LayerKind::DepthwiseConv2D { kernel, .. } => {
                let n = kernel[0] * kernel[1] * in_channels;
                let scale = (6.0 / (kernel[0] * kernel[1]) as f64).sqrt();
                let values = common::detrand::symmetric(1000 + k as u64 * 8, n, scale);
                vec![KerasWeight {
                    name: "depthwise_kernel".into(),
                    shape: vec![kernel[0], kernel[1], in_channels, 1],
                    values,
                }]
            }
            LayerKind::BatchNormalization { .. } => {
                let c = architecture.channels(index);
                let gamma =
                    common::detrand::uniform(k as u64 * 8 + 1, c).into_iter().map(|u| 0.75f32 + 0.5f32 * u).collect();
                let beta = common::detrand::symmetric(k as u64 * 8 + 4, c, 0.2);
                let range = offset..offset + c;
                offset += c;
                let w = |name: &str, values: Vec<f32>| KerasWeight { name: name.into(), shape: vec![c], values };
                vec![
                    w("gamma", gamma),
                    w("beta", beta),
                    w("moving_mean", means[range.clone()].to_vec()),
                    w("moving_variance", variances[range].to_vec()),
                ]
            }
            other => panic!("no fixture weights for {}", other.class_name()),
        };
        layers.push(KerasLayer { name: layer.name.clone(), weights });
    }
    assert_eq!(offset, means.len(), "every statistic used");
    KerasWeightFile { layers }
}

fn fixture_model(rows: usize, cols: usize, device: &Device) -> MobileNetV2 {
    let model = MobileNetV2Config::new().with_input_size([rows, cols]).init(device).expect("model");
    let path = Path::new("<fixture>");
    let tensors = keras_tensors(&model.network, &fixture_weights(&model.network), path).expect("map");
    MobileNetV2 { network: apply_named(model.network, tensors, path).expect("apply"), ..model }
}

/// Every row of Keras' `model.layers` for the notop base at 160x160.
#[test]
fn the_layer_list_is_keras_row_for_row() {
    let model = MobileNetV2Config::new().with_input_size([160, 160]).init(&Device::flex()).unwrap();
    let summary = model.summary([160, 160]).unwrap();
    let text = std::fs::read_to_string(fixture("keras_layers_160.txt")).unwrap();
    let keras: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(summary.rows.len(), keras.len(), "154 layers");
    for (ours, theirs) in summary.rows.iter().zip(&keras).skip(1) {
        let shape: Vec<String> = ours.output_shape.iter().map(usize::to_string).collect();
        assert_eq!(
            (ours.name.as_str(), ours.layer_type.as_str(), shape.join(","), ours.params().to_string()),
            (theirs[0], theirs[1], theirs[2].to_string(), theirs[3].to_string())
        );
    }
    assert_eq!(summary.model_name, "mobilenetv2_1.00_160");
    assert_eq!(summary.total_params(), 2_257_984);
}

/// Burn, packed (Winograd) and packed (direct) outputs of `layers` for the photo.
fn check(rows: usize, cols: usize, photo_name: &str, layers: &[&str]) {
    let device = Device::flex();
    let model = fixture_model(rows, cols, &device);
    let input = photo(photo_name, &device);
    let indices: Vec<usize> = layers.iter().map(|l| model.architecture().index_of(l).unwrap()).collect();
    let paths = [
        ("burn", model.network.forward_layers(input.clone(), &indices).unwrap()),
        ("cpu", CpuInference::new(&model.network).unwrap().forward_layers(input.clone(), &indices).unwrap()),
        (
            "cpu-direct",
            CpuInference::with_algorithm(&model.network, ConvAlgorithm::Direct)
                .unwrap()
                .forward_layers(input, &indices)
                .unwrap(),
        ),
    ];
    let size = format!("{rows}x{cols}");
    for (i, layer) in layers.iter().enumerate() {
        let reference = npy(&format!("keras_{size}_{layer}.npy"));
        let tolerance = (1.5 * keras_error(&size, layer)).max(2e-4);
        for (path, outputs) in &paths {
            let (shape, ours) = nhwc(outputs[i].clone());
            assert_eq!(shape, reference.shape, "{layer} at {size} ({path})");
            let (diff, scale) = compare(&ours, &reference.values);
            println!(
                "{layer} at {size} ({path}): max |diff| {diff:.2e} (allowed {tolerance:.2e}), max |value| {scale:.2}"
            );
            assert!(diff <= tolerance, "{layer} at {size} ({path}): {diff} > {tolerance}");
        }
    }
}

#[test]
fn matches_keras_at_160() {
    check(
        160,
        160,
        "coffee_160x160.png",
        &["block_6_expand_relu", "block_13_expand_relu", "block_16_project", "out_relu"],
    );
}

/// 150 makes odd feature maps (75, 19): `correct_pad` pads symmetrically there.
#[test]
fn matches_keras_at_150() {
    check(150, 150, "chelsea_150x150.png", &["block_6_expand_relu", "block_16_project", "out_relu"]);
}

#[test]
fn matches_keras_at_224() {
    check(224, 224, "astronaut_224x224.png", &["block_13_expand_relu", "out_relu"]);
}

#[test]
fn matches_keras_on_a_non_square_odd_input() {
    check(97, 131, "chelsea_97x131.png", &["block_5_add", "out_relu"]);
}

/// The weight file Keras' `save_weights` wrote (alpha 0.35, layer-named groups, as the
/// official files), loaded and run.
#[test]
fn a_keras_weight_file_loads_and_matches() {
    let device = Device::flex();
    let config = MobileNetV2Config::new().with_alpha(0.35).with_input_size([96, 96]);
    let model =
        MobileNetV2::pretrained(&config, &fixture("mobilenet_v2_0.35_96_no_top_fixture.h5"), &device).expect("load");
    let (shape, ours) = nhwc(model.forward(photo("astronaut_96x96.png", &device)).unwrap());
    let reference = npy("keras_0.35_96x96_out_relu.npy");
    assert_eq!(shape, reference.shape);
    let (diff, scale) = compare(&ours, &reference.values);
    let tolerance = (1.5 * keras_error("0.35_96x96", "out_relu")).max(2e-4);
    println!("alpha 0.35 out_relu at 96: max |diff| {diff:.2e} (allowed {tolerance:.2e}), max |value| {scale:.2}");
    assert!(diff <= tolerance, "{diff}");
    // The same file does not fit another width.
    let err =
        MobileNetV2::pretrained(&MobileNetV2Config::new(), &fixture("mobilenet_v2_0.35_96_no_top_fixture.h5"), &device)
            .unwrap_err();
    assert!(matches!(err, backbone::NetworkError::ShapeMismatch { .. }), "{err}");
}

#[test]
fn our_safetensors_round_trip() {
    let device = Device::flex();
    let model = fixture_model(64, 80, &device);
    let path = std::env::temp_dir().join(format!("mobilenet-{}.safetensors", std::process::id()));
    model.save_safetensors(&path).unwrap();
    let loaded = MobileNetV2::load_safetensors(&path, &device).unwrap();
    assert_eq!(loaded.config, model.config);
    let x = Tensor::<4>::zeros([1, 3, 64, 80], &device);
    assert_eq!(loaded.forward(x.clone()).unwrap().into_data(), model.forward(x).unwrap().into_data());
}
