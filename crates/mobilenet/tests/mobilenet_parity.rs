//! MobileNetV2 against the real Keras 2.15 and torchvision: the layer list (names, classes,
//! shapes, parameters, order), outputs at several layers at 150, 160, 224 and a non-square
//! size through Burn and the packed CPU path in both flavours, a weight file written by
//! Keras' `save_weights` and a state dict written by `torch.save`.
//! Fixtures: crates/mobilenet/tests/fixtures/mobilenet/make_keras_fixtures.py, make_torchvision_fixtures.py.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use backbone::cpu::ConvAlgorithm;
use backbone::npy::{NpyArray, read_npy};
use backbone::weights::{KerasLayer, KerasWeight, KerasWeightFile};
use backbone::{CpuInference, LayerKind, Network};
use burn::tensor::{Device, Tensor, TensorData};
use common::{compare, nhwc};
use mobilenet::{Flavor, MobileNetV2, MobileNetV2Config};

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

/// The fixture files' prefix for a flavour (`keras_160x160_out_relu.npy`).
fn prefix(flavor: Flavor) -> &'static str {
    flavor.name()
}

/// The reference's own float32 error (against its float64 run) for a size and layer.
fn reference_error(flavor: Flavor, size: &str, layer: &str) -> f32 {
    let file = format!("{}_f32_error.txt", prefix(flavor));
    let text = std::fs::read_to_string(fixture(&file)).expect("error file");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let parts: Vec<&str> = l.split(' ').collect();
            (parts[0] == size && parts[1] == layer).then(|| parts[2].parse().expect("a number"))
        })
        .unwrap_or_else(|| panic!("no error figure for {size} {layer}"))
}

/// The fixture weights (deterministic kernels, gammas, betas and top; the statistics
/// calibrated in the flavour's reference) as a Keras weight file with the layer names of
/// `network`.
fn fixture_weights(network: &Network, flavor: Flavor) -> KerasWeightFile {
    let statistics = match flavor {
        Flavor::Keras => "",
        Flavor::Torchvision => "torchvision_",
    };
    let means = npy(&format!("{statistics}bn_moving_mean.npy")).values;
    let variances = npy(&format!("{statistics}bn_moving_variance.npy")).values;
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
            LayerKind::Dense { units, .. } => {
                let kernel = common::detrand::symmetric(5000, in_channels * units, 1.0 / (in_channels as f64).sqrt());
                vec![
                    KerasWeight { name: "kernel".into(), shape: vec![in_channels, *units], values: kernel },
                    KerasWeight {
                        name: "bias".into(),
                        shape: vec![*units],
                        values: common::detrand::symmetric(5001, *units, 0.1),
                    },
                ]
            }
            other => panic!("no fixture weights for {}", other.class_name()),
        };
        layers.push(KerasLayer { name: layer.name.clone(), weights });
    }
    assert_eq!(offset, means.len(), "every statistic used");
    KerasWeightFile { layers }
}

fn fixture_model(config: MobileNetV2Config, device: &Device) -> MobileNetV2 {
    let model = config.init(device).expect("model");
    let path = Path::new("<fixture>");
    let weights = fixture_weights(&model.network, model.config.flavor);
    MobileNetV2 { network: model.network.with_keras_weights(&weights, path).expect("load"), ..model }
}

fn config(flavor: Flavor, rows: usize, cols: usize) -> MobileNetV2Config {
    MobileNetV2Config::new().with_flavor(flavor).with_input_size([rows, cols])
}

/// Compares an output with a committed reference within 1.5x the reference's own float32
/// error (at least 2e-4).
fn assert_matches(flavor: Flavor, size: &str, layer: &str, path: &str, output: Tensor<4>) {
    let reference = npy(&format!("{}_{size}_{layer}.npy", prefix(flavor)));
    let tolerance = (1.5 * reference_error(flavor, size, layer)).max(2e-4);
    let (shape, ours) = nhwc(output);
    // Vectors come as [batch, 1, 1, features], their references as [batch, features].
    let squeezed = |s: &[usize]| s.iter().copied().filter(|&d| d != 1).collect::<Vec<_>>();
    assert_eq!(squeezed(&shape), squeezed(&reference.shape), "{layer} at {size} ({path})");
    let (diff, scale) = compare(&ours, &reference.values);
    println!(
        "{} {layer} at {size} ({path}): max |diff| {diff:.2e} (allowed {tolerance:.2e}), max |value| {scale:.2}",
        flavor.name()
    );
    assert!(diff <= tolerance, "{} {layer} at {size} ({path}): {diff} > {tolerance}", flavor.name());
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

/// Burn, packed (Winograd) and packed (direct) outputs of `layers` for the photo, against
/// the flavour's reference.
fn check(flavor: Flavor, rows: usize, cols: usize, photo_name: &str, layers: &[&str]) {
    let device = Device::flex();
    let model = fixture_model(config(flavor, rows, cols), &device);
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
        for (path, outputs) in &paths {
            assert_matches(flavor, &size, layer, path, outputs[i].clone());
        }
    }
}

#[test]
fn matches_keras_at_160() {
    check(
        Flavor::Keras,
        160,
        160,
        "coffee_160x160.png",
        &["block_6_expand_relu", "block_13_expand_relu", "block_16_project", "out_relu"],
    );
}

/// 150 makes odd feature maps (75, 19): `correct_pad` pads symmetrically there.
#[test]
fn matches_keras_at_150() {
    check(Flavor::Keras, 150, 150, "chelsea_150x150.png", &["block_6_expand_relu", "block_16_project", "out_relu"]);
}

#[test]
fn matches_keras_at_224() {
    check(Flavor::Keras, 224, 224, "astronaut_224x224.png", &["block_13_expand_relu", "out_relu"]);
}

#[test]
fn matches_keras_on_a_non_square_odd_input() {
    check(Flavor::Keras, 97, 131, "chelsea_97x131.png", &["block_5_add", "out_relu"]);
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
    let tolerance = (1.5 * reference_error(Flavor::Keras, "0.35_96x96", "out_relu")).max(2e-4);
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
    let model = fixture_model(config(Flavor::Torchvision, 64, 80), &device);
    let path = std::env::temp_dir().join(format!("mobilenet-{}.safetensors", std::process::id()));
    model.save_safetensors(&path).unwrap();
    let loaded = MobileNetV2::load_safetensors(&path, &device).unwrap();
    assert_eq!(loaded.config, model.config);
    let x = Tensor::<4>::zeros([1, 3, 64, 80], &device);
    assert_eq!(loaded.forward(x.clone()).unwrap().into_data(), model.forward(x).unwrap().into_data());
}

#[test]
fn matches_torchvision_at_160() {
    check(
        Flavor::Torchvision,
        160,
        160,
        "coffee_160x160.png",
        &["block_6_expand_relu", "block_13_expand_relu", "block_16_project", "out_relu"],
    );
}

/// Odd feature maps: torchvision pads 1 on each side where Keras' `same` and `correct_pad`
/// differ from it on even ones only.
#[test]
fn matches_torchvision_at_150() {
    check(
        Flavor::Torchvision,
        150,
        150,
        "chelsea_150x150.png",
        &["block_6_expand_relu", "block_16_project", "out_relu"],
    );
}

/// With the top: torchvision's classifier gives logits (no softmax).
#[test]
fn matches_torchvision_at_224_with_the_top() {
    check(Flavor::Torchvision, 224, 224, "astronaut_224x224.png", &["block_13_expand_relu", "out_relu"]);
    let device = Device::flex();
    let model = fixture_model(config(Flavor::Torchvision, 224, 224).with_include_top(true), &device);
    let logits = model.classify(photo("astronaut_224x224.png", &device)).unwrap();
    assert_matches(Flavor::Torchvision, "224x224", "logits", "burn", logits.reshape([1, 1000, 1, 1]));
}

#[test]
fn matches_torchvision_on_a_non_square_odd_input() {
    check(Flavor::Torchvision, 97, 131, "chelsea_97x131.png", &["block_5_add", "out_relu"]);
}

/// A state dict written by `torch.save` (width 0.35, 10 classes, `num_batches_tracked`
/// included): its configuration read from its keys, loaded with and without the top.
#[test]
fn a_torchvision_state_dict_loads_and_matches() {
    let device = Device::flex();
    let path = fixture("mobilenet_v2_0.35_torchvision_fixture.pth");
    let config = mobilenet::torchvision_file_config(&path, [96, 96]).unwrap();
    assert_eq!(
        (config.flavor, config.alpha, config.include_top, config.classes),
        (Flavor::Torchvision, 0.35, true, 10)
    );
    assert_eq!(mobilenet::detect_flavor(&path).unwrap(), Flavor::Torchvision);
    let model = MobileNetV2::pretrained(&config, &path, &device).expect("load");
    let input = photo("astronaut_96x96.png", &device);
    let [out_relu] = model.forward_layers(input.clone(), &["out_relu"]).unwrap().try_into().unwrap();
    assert_matches(Flavor::Torchvision, "0.35_96x96", "out_relu", "burn", out_relu);
    let logits = model.classify(input.clone()).unwrap().reshape([1, 10, 1, 1]);
    assert_matches(Flavor::Torchvision, "0.35_96x96", "logits", "burn", logits);
    let base = MobileNetV2::pretrained(&config.clone().with_include_top(false), &path, &device).expect("notop");
    let packed = CpuInference::new(&base.network).unwrap().forward(input).unwrap();
    assert_matches(Flavor::Torchvision, "0.35_96x96", "out_relu", "cpu", packed);

    // The flavours' weights have the same shapes: the wrong one is an error, not a
    // model that computes other values.
    let keras = config.clone().with_flavor(Flavor::Keras);
    let err = MobileNetV2::pretrained(&keras, &path, &device).unwrap_err().to_string();
    assert!(err.contains("torchvision weights") && err.contains("Flavor::Torchvision"), "{err}");
    let h5 = fixture("mobilenet_v2_0.35_96_no_top_fixture.h5");
    let err = MobileNetV2::pretrained(&config.with_include_top(false), &h5, &device).unwrap_err().to_string();
    assert!(err.contains("keras weights") && err.contains("Flavor::Keras"), "{err}");
    // Another network's state dict.
    let inception =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../inception/tests/fixtures/inception/first_unit_torchvision.pth");
    let err = mobilenet::torchvision_file_config(&inception, [96, 96]).unwrap_err().to_string();
    assert!(err.contains("features.17.conv.2.weight") && err.contains("Conv2d_1a_3x3"), "{err}");
}
