//! Weight files: real Keras .h5 in both namings, torchvision .pth, our safetensors, and the
//! typed errors for every way a file can be wrong.

#[path = "../../../tests/common/mod.rs"]
mod common;
#[path = "../../../tests/common/inception_fixtures.rs"]
mod inception_fixtures;

use std::path::Path;

use burn::tensor::Device;
use common::{compare, image, nhwc};
use inception::weights::{WeightFormat, detect_format};
use inception::{Flavor, InceptionError, InceptionV3, InceptionV3Config, LayerName};
use inception_fixtures::{fixture, keras_model, npy};

fn mixed0_config() -> InceptionV3Config {
    InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed0)
}

fn assert_mixed0_matches_keras(model: &InceptionV3, device: &Device) {
    let reference = npy("keras_150_mixed0.npy");
    let (_, ours) = nhwc(model.forward(image(150, 150, 1, device)).expect("forward"));
    let (diff, _) = compare(&ours, &reference.values);
    assert!(diff <= 2e-4, "mixed0 differs from Keras by {diff}");
}

#[test]
fn keras_h5_in_the_official_naming_loads() {
    let device = Device::flex();
    let path = fixture("mixed0_official_names.h5");
    assert_eq!(detect_format(&path).unwrap(), WeightFormat::KerasH5);
    let model = InceptionV3::pretrained(&mixed0_config(), &path, &device).expect("load");
    assert_mixed0_matches_keras(&model, &device);
}

#[test]
fn keras_h5_with_tf2_names_offset_by_an_earlier_model_loads() {
    let device = Device::flex();
    let model =
        InceptionV3::pretrained(&mixed0_config(), &fixture("mixed0_tf2_offset_names.h5"), &device).expect("load");
    assert_mixed0_matches_keras(&model, &device);
}

#[test]
fn a_cut_file_does_not_fit_a_longer_model() {
    let err = InceptionV3::pretrained(
        &InceptionV3Config::new(Flavor::Keras),
        &fixture("mixed0_official_names.h5"),
        &Device::flex(),
    )
    .unwrap_err();
    assert!(matches!(err, InceptionError::OtherArchitecture { .. }), "{err}");
    assert!(err.to_string().contains("12 batch_normalization layers; inception_v3 has 94"), "{err}");
}

#[test]
fn a_keras_file_does_not_fit_the_torchvision_flavour() {
    let config = InceptionV3Config::new(Flavor::Torchvision).with_cut(LayerName::Mixed0);
    let err = InceptionV3::pretrained(&config, &fixture("mixed0_official_names.h5"), &Device::flex()).unwrap_err();
    assert!(err.to_string().contains("gamma"), "{err}");
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("inception-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir.join(name)
}

#[test]
fn truncated_and_random_files_are_typed_errors() {
    let bytes = std::fs::read(fixture("mixed0_official_names.h5")).expect("fixture");
    let truncated = scratch("truncated.h5");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let err = InceptionV3::pretrained(&mixed0_config(), &truncated, &Device::flex()).unwrap_err();
    assert!(matches!(err, InceptionError::BadWeightFile { .. }), "{err}");
    assert!(err.to_string().contains("truncated.h5"), "{err}");

    let random = scratch("random.bin");
    std::fs::write(&random, (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<_>>()).expect("write");
    let err = InceptionV3::pretrained(&mixed0_config(), &random, &Device::flex()).unwrap_err();
    assert!(matches!(err, InceptionError::BadWeightFile { .. }), "{err}");

    let missing =
        InceptionV3::pretrained(&mixed0_config(), Path::new("/no/such/weights.h5"), &Device::flex()).unwrap_err();
    assert!(matches!(missing, InceptionError::Io { .. }), "{missing}");
}

#[test]
fn a_torchvision_pth_that_lacks_parameters_names_the_first_one() {
    let config = InceptionV3Config::new(Flavor::Torchvision).with_cut(LayerName::Mixed0);
    let path = fixture("first_unit_torchvision.pth");
    assert_eq!(detect_format(&path).unwrap(), WeightFormat::Torchvision);
    let err = InceptionV3::pretrained(&config, &path, &Device::flex()).unwrap_err();
    match &err {
        InceptionError::MissingWeights { missing, .. } => assert_eq!(missing, "conv2d_1 (kernel)", "{err}"),
        other => panic!("expected MissingWeights, got {other}"),
    }
}

#[test]
fn a_tensor_of_the_wrong_shape_is_named() {
    let mut state = inception_fixtures::torchvision_state();
    state.insert("Mixed_5b.branch1x1.conv.weight".into(), (vec![64, 192, 3, 3], vec![0.0; 64 * 192 * 9]));
    let path = scratch("wrong_shape.safetensors");
    inception_fixtures::write_safetensors(&path, &state);
    let config = InceptionV3Config::new(Flavor::Torchvision).with_cut(LayerName::Mixed0);
    let err = InceptionV3::pretrained(&config, &path, &Device::flex()).unwrap_err();
    match &err {
        InceptionError::ShapeMismatch { layer, expected, found, .. } => {
            assert_eq!(layer, "Mixed_5b.branch1x1.conv.weight");
            assert_eq!(expected, &vec![64, 192, 1, 1]);
            assert_eq!(found, &vec![64, 192, 3, 3]);
        }
        other => panic!("expected ShapeMismatch, got {other}"),
    }
}

#[test]
fn a_file_of_another_architecture_is_refused() {
    let mut state = std::collections::BTreeMap::new();
    state.insert("conv1.weight".to_string(), (vec![64, 3, 7, 7], vec![0.0f32; 64 * 3 * 49]));
    let path = scratch("resnet.safetensors");
    inception_fixtures::write_safetensors(&path, &state);
    let err =
        InceptionV3::pretrained(&InceptionV3Config::new(Flavor::Torchvision), &path, &Device::flex()).unwrap_err();
    assert!(matches!(err, InceptionError::OtherArchitecture { .. }), "{err}");
}

#[test]
fn our_safetensors_round_trip_and_rebuild_the_config() {
    let device = Device::flex();
    let config = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed3);
    let model = keras_model(&config, &device);
    let path = scratch("mixed3.safetensors");
    model.save_safetensors(&path).expect("save");
    assert_eq!(detect_format(&path).unwrap(), WeightFormat::Native);
    let loaded = InceptionV3::load_safetensors(&path, &device).expect("load");
    assert_eq!(loaded.cut, LayerName::Mixed3);
    let x = image(75, 75, 1, &device);
    let (_, a) = nhwc(model.forward(x.clone()).unwrap());
    let (_, b) = nhwc(loaded.forward(x).unwrap());
    assert_eq!(a, b, "a saved and reloaded model computes the same bits");
    // A file of a longer model loads into a shorter cut.
    let shorter = InceptionV3::pretrained(&mixed0_config(), &path, &device).expect("shorter cut");
    assert_mixed0_matches_keras(&shorter, &device);
}
