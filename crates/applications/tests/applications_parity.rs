//! ResNet50, VGG16, Xception and EfficientNetB0 / B3 against the real Keras 2.15: the layer
//! lists (names, classes, shapes, parameters, order) and outputs at several layers at 160x160
//! (Xception: 150x150 and 299x299; EfficientNet: B0 at 224x224, B3 at 300x300) and at an odd,
//! non-square 97x131 (ResNet50, Xception and EfficientNetB0 there with their tops), through
//! Burn and the packed CPU path, on weights handed over as a Keras weight file. Fixtures:
//! crates/applications/tests/fixtures/applications/make_keras_fixtures.py, make_xception_fixtures.py and
//! make_efficientnet_fixtures.py.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use applications::BackboneConfig;
use backbone::npy::{NpyArray, read_npy};
use backbone::weights::{KerasLayer, KerasWeight, KerasWeightFile};
use backbone::{CpuInference, LayerKind, Network, Summary};
use burn::tensor::{Device, Tensor, TensorData};
use common::{compare, detrand, nhwc};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/applications").join(name)
}

fn npy(name: &str) -> NpyArray {
    read_npy(&fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A photo committed beside the MobileNetV2 fixtures (or these), through `network`'s
/// `preprocess_input`.
fn photo(network: &str, name: &str, device: &Device) -> Tensor<4> {
    let mobilenet = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mobilenet/tests/fixtures/mobilenet").join(name);
    let path = if mobilenet.exists() { mobilenet } else { fixture(name) };
    photo_at(network, &path, device)
}

/// The photo at `path` (an image, or a `.npy` of pixels resized by TF) through `network`'s
/// `preprocess_input` (raw pixels for a network without one), NCHW.
fn photo_at(network: &str, path: &Path, device: &Device) -> Tensor<4> {
    let (values, h, w) = match path.extension().is_some_and(|e| e == "npy") {
        true => {
            let array = read_npy(path).expect("resized photo");
            (array.values, array.shape[0], array.shape[1])
        }
        false => {
            let image = image::open(path).expect("photo").to_rgb8();
            let (w, h) = (image.width() as usize, image.height() as usize);
            (image.into_raw().into_iter().map(f32::from).collect(), h, w)
        }
    };
    let pixels = Tensor::<4>::from_data(TensorData::new(values, [1, h, w, 3]), device).permute([0, 3, 1, 2]);
    match BackboneConfig::new(network).unwrap().preprocess() {
        Some(preprocess) => preprocess.apply(pixels),
        None => pixels,
    }
}

/// The fixtures' prefix of a network (`efficientnet_b0` for Keras' `efficientnetb0`).
fn fixture_prefix(model_name: &str) -> String {
    match model_name.strip_prefix("efficientnet") {
        Some(member) => format!("efficientnet_{member}"),
        None => model_name.to_string(),
    }
}

/// Keras' own float32 error (against its float64 run) for a network, size and layer.
fn reference_error(network: &str, size: &str, layer: &str) -> f32 {
    let text = std::fs::read_to_string(fixture("keras_f32_error.txt")).expect("error file");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let parts: Vec<&str> = l.split(' ').collect();
            (parts[0] == network && parts[1] == size && parts[2] == layer).then(|| parts[3].parse().expect("a number"))
        })
        .unwrap_or_else(|| panic!("no error figure for {network} {size} {layer}"))
}

/// The fixture weights (see the script) as a Keras weight file with `network`'s layer names.
fn fixture_weights(network: &Network) -> KerasWeightFile {
    let architecture = network.architecture();
    let prefix = fixture_prefix(architecture.name());
    let statistics = match prefix.as_str() {
        "vgg16" => None,
        name => Some((
            npy(&format!("{name}_bn_moving_mean.npy")).values,
            npy(&format!("{name}_bn_moving_variance.npy")).values,
        )),
    };
    // The last batch norm of each residual branch (ResNet50's, Xception's middle blocks',
    // EfficientNet's blocks with a shortcut).
    let has_add = |name: &str| {
        name.strip_suffix("project_bn").is_some_and(|block| architecture.index_of(&format!("{block}add")).is_ok())
    };
    let residual_end = |name: &str| {
        name.ends_with("_3_bn") || (5..=12).any(|block| name == format!("block{block}_sepconv3_bn")) || has_add(name)
    };
    let mut offset = 0;
    let mut layers = Vec::new();
    let weighted = architecture.layers().iter().enumerate().filter(|(_, l)| l.kind.has_weights());
    for (k, (index, layer)) in weighted.enumerate() {
        let in_channels = architecture.channels(layer.inputs[0]);
        let stream = (2000 + k as u64) * 8;
        let w = |name: &str, shape: Vec<usize>, values: Vec<f32>| KerasWeight { name: name.into(), shape, values };
        let weights = match &layer.kind {
            LayerKind::Conv2D { filters, kernel, use_bias, .. } => {
                let shape = [kernel[0], kernel[1], in_channels, *filters];
                let mut values = detrand::conv_kernel(2000 + k, shape);
                if network.architecture().name() == "vgg16" && layer.name == "block1_conv1" {
                    values.iter_mut().for_each(|v| *v *= 1.0 / 128.0);
                }
                let mut weights = vec![w("kernel", shape.to_vec(), values)];
                if *use_bias {
                    weights.push(w("bias", vec![*filters], detrand::symmetric(stream + 5, *filters, 0.1)));
                }
                weights
            }
            LayerKind::DepthwiseConv2D { kernel, .. } => {
                let taps = kernel[0] * kernel[1];
                let depthwise = detrand::symmetric(stream, taps * in_channels, (6.0 / taps as f64).sqrt());
                vec![w("depthwise_kernel", vec![kernel[0], kernel[1], in_channels, 1], depthwise)]
            }
            // Keras' official values (the standard deviations as the variance).
            LayerKind::Normalization => vec![
                w("mean", vec![3], vec![0.485, 0.456, 0.406]),
                w("variance", vec![3], vec![0.229, 0.224, 0.225]),
                w("count", vec![], vec![0.0]),
            ],
            LayerKind::SeparableConv2D { filters, kernel, .. } => {
                let taps = kernel[0] * kernel[1];
                let depthwise = detrand::symmetric(stream, taps * in_channels, (6.0 / taps as f64).sqrt());
                let pointwise =
                    detrand::symmetric(stream + 2, in_channels * filters, (6.0 / in_channels as f64).sqrt());
                vec![
                    w("depthwise_kernel", vec![kernel[0], kernel[1], in_channels, 1], depthwise),
                    w("pointwise_kernel", vec![1, 1, in_channels, *filters], pointwise),
                ]
            }
            LayerKind::BatchNormalization { .. } => {
                let c = architecture.channels(index);
                let quarter = if residual_end(&layer.name) { 0.25f32 } else { 1.0 };
                let gamma = detrand::uniform(k as u64 * 8 + 1, c).into_iter().map(|u| (0.75f32 + 0.5f32 * u) * quarter);
                let (means, variances) = statistics.as_ref().expect("calibrated statistics");
                let range = offset..offset + c;
                offset += c;
                vec![
                    w("gamma", vec![c], gamma.collect()),
                    w("beta", vec![c], detrand::symmetric(k as u64 * 8 + 4, c, 0.2)),
                    w("moving_mean", vec![c], means[range.clone()].to_vec()),
                    w("moving_variance", vec![c], variances[range].to_vec()),
                ]
            }
            LayerKind::Dense { units, .. } => {
                let kernel = detrand::symmetric(stream, in_channels * units, (6.0 / in_channels as f64).sqrt());
                vec![
                    w("kernel", vec![in_channels, *units], kernel),
                    w("bias", vec![*units], detrand::symmetric(stream + 5, *units, 0.1)),
                ]
            }
            other => panic!("no fixture weights for {}", other.class_name()),
        };
        layers.push(KerasLayer { name: layer.name.clone(), weights });
    }
    if let Some((means, _)) = &statistics {
        assert_eq!(offset, means.len(), "every statistic used");
    }
    KerasWeightFile { layers }
}

fn fixture_network(model: &str, size: [usize; 2], include_top: bool, device: &Device) -> Network {
    let config = BackboneConfig::new(model).unwrap().with_input_size(size).with_include_top(include_top);
    let network = config.init(device).expect("network");
    let weights = fixture_weights(&network);
    network.with_keras_weights(&weights, Path::new("<fixture>")).expect("load")
}

/// Compares an output with its reference within 2e-4 plus 1.5x Keras' own float32 error
/// (a softmax of ~1e-3 values also within 0.1% of its largest value).
fn assert_matches(network: &str, size: &str, layer: &str, path: &str, output: Tensor<4>) {
    let network = &fixture_prefix(&network.replace('_', ""));
    let reference = npy(&format!("{network}_{size}_{layer}.npy"));
    let keras_error = reference_error(network, size, layer);
    let (shape, ours) = nhwc(output);
    let squeezed = |s: &[usize]| s.iter().copied().filter(|&d| d != 1).collect::<Vec<_>>();
    assert_eq!(squeezed(&shape), squeezed(&reference.shape), "{network} {size} {layer} shape");
    let (diff, scale) = compare(&ours, &reference.values);
    let mut tolerance = 2e-4 + 1.5 * keras_error;
    if layer == "predictions" {
        tolerance = tolerance.min(1e-3 * scale);
    }
    println!(
        "{network} {size} {layer} ({path}): max |diff| {diff:.2e} (allowed {tolerance:.2e}, Keras' own {keras_error:.2e}), max |value| {scale:.3}"
    );
    assert!(diff <= tolerance, "{network} {size} {layer} ({path}): max |diff| {diff:.2e} > {tolerance:.2e}");
}

/// One comparison: (network, photo, rows, cols, include_top, layers).
type Case = (&'static str, &'static str, usize, usize, bool, &'static [&'static str]);

/// As the script's CASES.
const CASES: [Case; 10] = [
    ("resnet50", "coffee_160x160.png", 160, 160, false, &["conv4_block6_out", "conv5_block3_out"]),
    ("resnet50", "chelsea_97x131.png", 97, 131, true, &["conv3_block4_out", "conv5_block3_out", "predictions"]),
    ("vgg16", "coffee_160x160.png", 160, 160, false, &["block4_pool", "block5_conv3", "block5_pool"]),
    ("vgg16", "chelsea_97x131.png", 97, 131, false, &["block3_pool", "block5_pool"]),
    (
        "xception",
        "chelsea_150x150.png",
        150,
        150,
        false,
        &["block4_pool", "block13_sepconv2_bn", "block14_sepconv2_act"],
    ),
    ("xception", "astronaut_299x299.png", 299, 299, false, &["block13_pool", "block14_sepconv2_act"]),
    ("xception", "chelsea_97x131.png", 97, 131, true, &["block3_pool", "block14_sepconv2_act", "predictions"]),
    (
        "efficientnet_b0",
        "astronaut_224x224.png",
        224,
        224,
        false,
        &["block2b_add", "block4a_se_excite", "block6d_add", "top_activation"],
    ),
    ("efficientnet_b0", "chelsea_97x131.png", 97, 131, true, &["block3b_add", "top_activation", "predictions"]),
    ("efficientnet_b3", "astronaut_300x300.npy", 300, 300, false, &["block3c_add", "block6f_add", "top_activation"]),
];

#[test]
fn outputs_match_keras_through_burn_and_the_packed_engine() {
    let device = Device::flex();
    for (network, photo_name, rows, cols, include_top, layers) in CASES {
        let model = fixture_network(network, [rows, cols], include_top, &device);
        let size = format!("{rows}x{cols}");
        let indices: Vec<usize> = layers.iter().map(|l| model.architecture().index_of(l).unwrap()).collect();
        let x = photo(network, photo_name, &device);
        let burn = model.forward_layers(x.clone(), &indices).expect("Burn forward");
        let packed = CpuInference::new(&model).expect("packs every layer");
        let fast = packed.forward_layers(x, &indices).expect("packed forward");
        for ((layer, ours), fast) in layers.iter().zip(burn).zip(fast) {
            assert_matches(network, &size, layer, "Burn", ours);
            assert_matches(network, &size, layer, "packed", fast);
        }
    }
}

/// Keras' layer list: every name (but the session-numbered input), class, output shape and
/// parameter count, in `model.layers` order.
fn assert_layer_list(config: BackboneConfig, file: &str, layers: usize, total: usize) {
    let size = match file.rsplit('_').next() {
        Some("299.txt") => [299, 299],
        Some("300.txt") => [300, 300],
        _ => [224, 224],
    };
    let summary = Summary::of(&config.architecture().unwrap(), size, &|_| true).unwrap();
    let text = std::fs::read_to_string(fixture(file)).unwrap();
    let keras: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(summary.rows.len(), keras.len(), "{file}: layer count");
    assert_eq!(summary.rows.len(), layers, "{file}: len(model.layers)");
    for (row, keras) in summary.rows.iter().zip(&keras).skip(1) {
        let shape: Vec<String> = row.output_shape.iter().map(usize::to_string).collect();
        let ours = [row.name.clone(), row.layer_type.clone(), shape.join(","), row.params().to_string()];
        assert_eq!(ours.to_vec(), *keras, "{file}");
    }
    assert_eq!(summary.total_params(), total, "{file}: Total params");
}

#[test]
fn layer_lists_and_parameter_counts_match_keras() {
    let resnet = BackboneConfig::new("resnet50").unwrap();
    assert_layer_list(resnet.clone(), "resnet50_layers_224.txt", 175, 23_587_712);
    assert_eq!(resnet.with_include_top(true).summary([224, 224]).unwrap().total_params(), 25_636_712);
    let vgg = BackboneConfig::new("vgg16").unwrap();
    assert_layer_list(vgg.clone(), "vgg16_layers_224.txt", 19, 14_714_688);
    assert_layer_list(vgg.with_include_top(true), "vgg16_top_layers_224.txt", 23, 138_357_544);
    let xception = BackboneConfig::new("xception").unwrap();
    assert_layer_list(xception.clone(), "xception_layers_299.txt", 132, 20_861_480);
    assert_layer_list(xception.clone().with_include_top(true), "xception_top_layers_299.txt", 134, 22_910_480);
    // The Keras guide's base at 150x150: the same parameters.
    assert_eq!(xception.summary([150, 150]).unwrap().total_params(), 20_861_480);
    let b0 = BackboneConfig::new("efficientnet_b0").unwrap();
    assert_layer_list(b0.clone(), "efficientnet_b0_layers_224.txt", 238, 4_049_571);
    assert_layer_list(b0.with_include_top(true), "efficientnet_b0_top_layers_224.txt", 241, 5_330_571);
    let b3 = BackboneConfig::new("efficientnet_b3").unwrap();
    assert_layer_list(b3, "efficientnet_b3_layers_300.txt", 385, 10_783_535);
}

#[test]
fn a_flattening_top_names_the_input_size_it_was_built_for() {
    let vgg = BackboneConfig::new("vgg16").unwrap().with_include_top(true);
    let err = vgg.summary([160, 160]).unwrap_err().to_string();
    assert!(err.contains("160x160") && err.contains("flatten") && err.contains("25088"), "{err}");
}

/// Files written by Keras' own `save_weights` (each network cut early) load by layer name
/// into a model cut at the same layer, the registry finds their network, and the outputs
/// match Keras'; a file of the other network is refused, naming it.
#[test]
fn keras_written_files_load_and_match() {
    let device = Device::flex();
    let cases = [
        ("resnet50", "conv2_block3_out", "vgg16", "chelsea_48x48.png"),
        ("vgg16", "block2_pool", "resnet50", "chelsea_48x48.png"),
        ("xception", "block3_sepconv1_act", "resnet50", "chelsea_97x131.png"),
        ("efficientnet_b0", "block2b_add", "resnet50", "chelsea_97x131.png"),
    ];
    for (network, cut, other, crop) in cases {
        let crop = photo(network, crop, &device);
        let [_, _, rows, cols] = crop.dims();
        let path = fixture(&format!("{network}_{cut}_fixture.h5"));
        assert_eq!(applications::REGISTRY.detect(&path).unwrap().name(), network);
        let config = BackboneConfig::new(network).unwrap().with_input_size([rows, cols]).with_cut(Some(cut.into()));
        let model = config.pretrained(&path, &device).expect("a Keras-written file loads");
        let output = model.forward_layers(crop, &[model.architecture().output()]).unwrap().remove(0);
        let reference = npy(&format!("{network}_{rows}x{cols}_{cut}.npy"));
        let (_, ours) = nhwc(output);
        let (diff, scale) = compare(&ours, &reference.values);
        println!("{network} {rows}x{cols} {cut} from Keras' file: max |diff| {diff:.2e}, max |value| {scale:.3}");
        assert!(diff <= 2e-4, "{network}: {diff}");
        let wrong = BackboneConfig::new(other).unwrap().with_cut(Some("block1_pool".into()));
        let wrong = match other {
            "resnet50" => wrong.with_cut(Some("conv2_block3_out".into())),
            _ => wrong,
        };
        let err = wrong.pretrained(&path, &device).unwrap_err();
        assert!(matches!(err, backbone::NetworkError::OtherArchitecture { .. }), "{err}");
        assert!(err.to_string().contains("fixture.h5"), "{err}");
    }
}

/// A Keras file of one EfficientNet loaded into another member is an error naming both.
#[test]
fn an_efficientnet_file_of_another_width_names_both() {
    let path = fixture("efficientnet_b0_block2b_add_fixture.h5");
    let b3 = BackboneConfig::new("efficientnet_b3").unwrap().with_cut(Some("block2b_add".into()));
    let err = b3.pretrained(&path, &Device::flex()).unwrap_err();
    assert!(matches!(err, backbone::NetworkError::OtherArchitecture { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("EfficientNetB0 (width 1, depth 1") && text.contains("not EfficientNetB3"), "{text}");
}

/// EfficientNet's weights (the `normalization` layer's statistics and its scalar `count`
/// among them) survive this project's safetensors: saved and loaded back, the same outputs.
#[test]
fn an_efficientnet_saved_and_loaded_gives_the_same_outputs() {
    let device = Device::flex();
    let path = fixture("efficientnet_b0_block2b_add_fixture.h5");
    let config =
        BackboneConfig::new("efficientnet_b0").unwrap().with_input_size([97, 131]).with_cut(Some("block2b_add".into()));
    let network = config.pretrained(&path, &device).unwrap();
    let saved = std::env::temp_dir().join(format!("efficientnet-b0-{}.safetensors", std::process::id()));
    config.save(&network, &saved).unwrap();
    let (loaded_config, loaded) = BackboneConfig::load(&saved, &device).unwrap();
    std::fs::remove_file(&saved).unwrap();
    assert_eq!(loaded_config, config);
    let x = photo("efficientnet_b0", "chelsea_97x131.png", &device);
    let output = network.architecture().output();
    let expected = network.forward_layers(x.clone(), &[output]).unwrap().remove(0);
    let got = loaded.forward_layers(x, &[output]).unwrap().remove(0);
    assert_eq!(got.into_data(), expected.into_data());
}
