//! InceptionV3 against the real Keras 2.15 and torchvision 0.29, on deterministic weights
//! (crates/inception/tests/fixtures/inception/make_*_fixtures.py made the references).

#[path = "../../../tests/common/mod.rs"]
mod common;
#[path = "../../../tests/common/inception_fixtures.rs"]
mod inception_fixtures;

use backbone::CpuInference;
use backbone::cpu::ConvAlgorithm;
use burn::tensor::{Device, Tensor};
use common::{compare, image, nhwc};
use inception::{Flavor, InceptionV3, InceptionV3Config, LayerName};
use inception_fixtures::{keras_model, npy};

/// Keras' own float32 error (vs Keras in float64) where it exceeds 1e-4, by (size, layer).
fn keras_f32_error(size: usize, layer: LayerName) -> Option<f32> {
    let text =
        std::fs::read_to_string(inception_fixtures::fixture("keras_f32_error.txt")).expect("keras_f32_error.txt");
    text.lines().find_map(|line| {
        let parts: Vec<&str> = line.split_whitespace().collect();
        (parts[0] == size.to_string() && parts[1] == layer.keras_name()).then(|| parts[2].parse().expect("number"))
    })
}

/// An output as NHWC shape and values, named by the path that computed it.
type NamedOutput = (&'static str, (Vec<usize>, Vec<f32>));

/// A model with its two packed CPU forms: the three paths every parity check runs.
struct ThreePaths<'a> {
    model: &'a InceptionV3,
    winograd: CpuInference,
    direct: CpuInference,
}

impl<'a> ThreePaths<'a> {
    fn new(model: &'a InceptionV3) -> Self {
        let winograd = CpuInference::new(&model.network).expect("pack");
        let direct = CpuInference::with_algorithm(&model.network, ConvAlgorithm::Direct).expect("pack");
        Self { model, winograd, direct }
    }

    /// The output of `layer` through Burn, the packed Winograd and the packed direct path,
    /// each named, as NHWC shape and values.
    fn outputs(&self, input: &Tensor<4>, layer: LayerName) -> [NamedOutput; 3] {
        let run = |output: inception::Result<Tensor<4>>| nhwc(output.expect("forward"));
        [
            ("burn", run(self.model.forward_to(input.clone(), layer))),
            ("cpu", run(inception_fixtures::packed_to(&self.winograd, input.clone(), layer))),
            ("cpu-direct", run(inception_fixtures::packed_to(&self.direct, input.clone(), layer))),
        ]
    }
}

/// Within 2e-4 of Keras' float32 output, through Burn ([`InceptionV3::forward_to`]) and
/// through the packed CPU path ([`CpuInference`], Winograd and direct); where the fixture network amplifies rounding so
/// much that Keras' own float32 result is more than 1e-4 from the exact (float64) one,
/// within 1.5x Keras' own float32 error of the exact result (or within 2e-4 of it): the
/// same accuracy class as Keras, which is all float32 arithmetic in another order can give.
fn check_keras(model: &InceptionV3, size: usize, layers: &[LayerName], device: &Device) {
    let paths = ThreePaths::new(model);
    let input = image(size, size, 1, device);
    for &layer in layers {
        let (reference, tolerance, against) = match keras_f32_error(size, layer) {
            None => (npy(&format!("keras_{size}_{layer}.npy")), 2e-4, "Keras float32"),
            Some(keras_error) => {
                (npy(&format!("keras64_{size}_{layer}.npy")), (1.5 * keras_error).max(2e-4), "Keras float64")
            }
        };
        for (path, (shape, ours)) in paths.outputs(&input, layer) {
            assert_eq!(shape, reference.shape, "{layer} at {size} ({path}): shape");
            let (diff, scale) = compare(&ours, &reference.values);
            println!(
                "{layer} at {size}x{size} ({path}): max |diff| {diff:.2e} vs {against} (allowed {tolerance:.2e}), max |value| {scale:.2}"
            );
            assert!(diff <= tolerance, "{layer} at {size} ({path}): max |diff| {diff} > {tolerance} vs {against}");
        }
    }
}

#[test]
fn keras_flavour_matches_keras_at_every_block_end() {
    let device = Device::flex();
    let model = keras_model(&InceptionV3Config::new(Flavor::Keras), &device);
    use LayerName::*;
    check_keras(&model, 150, &[Mixed0, Mixed3, Mixed7, Mixed9_0, Mixed9_1, Mixed10], &device);
    check_keras(&model, 75, &[Mixed0, Mixed10], &device);
    check_keras(&model, 299, &[Mixed10], &device);
}

#[test]
fn a_model_cut_at_mixed7_matches_and_holds_nothing_after() {
    let device = Device::flex();
    let config = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed7);
    let model = keras_model(&config, &device);
    let err = model.architecture().index_of("mixed8").unwrap_err();
    assert!(
        matches!(&err, backbone::NetworkError::LayerCutAway { layer, cut } if layer == "mixed8" && cut == "mixed7"),
        "{err:?}"
    );
    assert_eq!(conv_layers(&model), 70);
    check_keras(&model, 150, &[LayerName::Mixed7], &device);
    let err = model.forward_to(image(150, 150, 1, &device), LayerName::Mixed8).unwrap_err();
    assert!(err.to_string().contains("mixed8"), "{err}");
    let packed = CpuInference::new(&model.network).expect("pack");
    let err = inception_fixtures::packed_to(&packed, image(150, 150, 1, &device), LayerName::Mixed8).unwrap_err();
    assert!(err.to_string().contains("mixed8"), "{err}");
}

#[test]
fn models_cut_at_the_inner_concatenations_hold_only_their_branch() {
    let device = Device::flex();
    for layer in [LayerName::Mixed9_0, LayerName::Mixed9_1] {
        let model = keras_model(&InceptionV3Config::new(Flavor::Keras).with_cut(layer), &device);
        // Up to mixed8 (76 units), the blocks before, and the 3 units of the 1x3 / 3x1 branch.
        let expected = if layer == LayerName::Mixed9_0 { 76 + 3 } else { 76 + 9 + 3 };
        assert_eq!(conv_layers(&model), expected, "{layer}");
        assert_eq!(model.architecture().layers().last().unwrap().name, layer.keras_name());
        check_keras(&model, 150, &[layer], &device);
    }
}

#[test]
fn the_keras_top_matches_keras_predictions() {
    let device = Device::flex();
    let config = InceptionV3Config::new(Flavor::Keras).with_include_top(true);
    let model = config.init(&device).expect("model");
    let mut file = inception_fixtures::keras_weight_file();
    let kernel = common::detrand::symmetric(94 * 8, 2048 * 1000, (6.0f64 / 3048.0).sqrt());
    let bias = common::detrand::symmetric(94 * 8 + 1, 1000, 0.1);
    file.layers.push(inception::weights::KerasLayer {
        name: "predictions".into(),
        weights: vec![
            inception::weights::KerasWeight { name: "kernel".into(), shape: vec![2048, 1000], values: kernel },
            inception::weights::KerasWeight { name: "bias".into(), shape: vec![1000], values: bias },
        ],
    });
    let path = std::path::Path::new("<fixture>");
    let model = model.with_keras_weights(&file, path).expect("load");
    let scores = model.classify(image(75, 75, 1, &device)).expect("classify");
    let ours = scores.into_data().try_to_vec::<f32>().expect("f32");
    let reference = npy("keras_75_predictions.npy");
    let (diff, _) = compare(&ours, &reference.values);
    println!("keras predictions at 75x75: max |diff| {diff:.2e}");
    assert!(diff < 1e-6, "predictions differ by {diff}");
}

#[test]
fn torchvision_flavour_matches_torchvision() {
    let device = Device::flex();
    let dir = tempdir();
    let path = dir.join("inception_v3_torchvision.safetensors");
    let mut state = inception_fixtures::torchvision_state();
    // What a real torchvision checkpoint also holds, and the loader must skip.
    state.insert("AuxLogits.fc.weight".into(), (vec![1000, 768], vec![0.0; 768_000]));
    state.insert("fc.bias".into(), (vec![1000], vec![0.0; 1000]));
    inception_fixtures::write_safetensors(&path, &state);
    assert_eq!(inception::weights::detect_flavor(&path).expect("flavour"), Flavor::Torchvision);
    let model = InceptionV3::pretrained(&InceptionV3Config::new(Flavor::Torchvision), &path, &device).expect("load");
    let paths = ThreePaths::new(&model);
    let input = image(150, 150, 1, &device);
    let layers = [(LayerName::Mixed0, "Mixed_5b"), (LayerName::Mixed7, "Mixed_6e"), (LayerName::Mixed10, "Mixed_7c")];
    for (layer, name) in layers {
        let reference = npy(&format!("torchvision_150_{name}.npy"));
        for (path, (shape, ours)) in paths.outputs(&input, layer) {
            assert_eq!(shape, reference.shape);
            let (diff, scale) = compare(&ours, &reference.values);
            println!(
                "torchvision {name} ({path}): max |diff| {diff:.2e} = {:.2e} of max |value| {scale:.2}",
                diff / scale
            );
            assert!(diff <= 1e-4 * scale, "{name} ({path}): relative difference {}", diff / scale);
        }
    }
}

/// The convolutions a model holds.
fn conv_layers(model: &InceptionV3) -> usize {
    model.architecture().layers().iter().filter(|l| l.kind.class_name() == "Conv2D").count()
}

/// A fresh directory under the target dir for files a test writes.
pub fn tempdir() -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("inception-tests-{}-{:?}", std::process::id(), std::thread::current().id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
