//! Shapes, names, errors and the Keras summary of InceptionV3.

use burn::tensor::{Device, Tensor};
use inception::{Flavor, InceptionError, InceptionV3Config, LayerName};

#[test]
fn output_shapes_match_keras_at_150_and_299() {
    let at = |layer: LayerName, size| layer.output_shape([size, size]).unwrap();
    assert_eq!(at(LayerName::Mixed0, 150), [16, 16, 256]);
    assert_eq!(at(LayerName::Mixed2, 150), [16, 16, 288]);
    assert_eq!(at(LayerName::Mixed7, 150), [7, 7, 768]);
    assert_eq!(at(LayerName::Mixed8, 150), [3, 3, 1280]);
    assert_eq!(at(LayerName::Mixed9_0, 150), [3, 3, 768]);
    assert_eq!(at(LayerName::Mixed10, 150), [3, 3, 2048]);
    assert_eq!(at(LayerName::Mixed0, 299), [35, 35, 256]);
    assert_eq!(at(LayerName::Mixed7, 299), [17, 17, 768]);
    assert_eq!(at(LayerName::Mixed10, 299), [8, 8, 2048]);
    assert_eq!(at(LayerName::Mixed10, 75), [1, 1, 2048]);
    assert!(matches!(LayerName::Mixed0.output_shape([74, 150]), Err(InceptionError::InputTooSmall { .. })));
}

#[test]
fn names_parse_in_keras_and_torchvision_spelling() {
    assert_eq!("mixed7".parse::<LayerName>().unwrap(), LayerName::Mixed7);
    assert_eq!("Mixed_6e".parse::<LayerName>().unwrap(), LayerName::Mixed7);
    assert_eq!("mixed9_1".parse::<LayerName>().unwrap(), LayerName::Mixed9_1);
    let err = "mixed11".parse::<LayerName>().unwrap_err();
    assert!(err.to_string().contains("mixed11"));
}

#[test]
fn the_forward_shapes_agree_with_output_shape() {
    let device = Device::flex();
    let model = InceptionV3Config::new(Flavor::Keras).init(&device).unwrap();
    let x = Tensor::<4>::zeros([2, 3, 75, 80], &device);
    for layer in LayerName::ALL {
        let [h, w, c] = layer.output_shape([75, 80]).unwrap();
        assert_eq!(model.forward_to(x.clone(), layer).unwrap().dims(), [2, c, h, w], "{layer}");
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    let device = Device::flex();
    let model = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed0).init(&device).unwrap();
    let small = Tensor::<4>::zeros([1, 3, 74, 100], &device);
    assert!(matches!(model.forward(small), Err(InceptionError::InputTooSmall { height: 74, width: 100, .. })));
    let gray = Tensor::<4>::zeros([1, 1, 100, 100], &device);
    assert!(matches!(model.forward(gray), Err(InceptionError::InputChannels { channels: 1 })));
    let top_on_cut =
        InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed7).with_include_top(true).init(&device);
    let err = top_on_cut.unwrap_err();
    println!("{err}");
    assert!(err.to_string().contains("top") && err.to_string().contains("mixed7"), "{err}");
}

#[test]
fn forward_from_a_block_end_continues_to_the_cut() {
    let device = Device::flex();
    let model = InceptionV3Config::new(Flavor::Keras).init(&device).unwrap();
    let x = Tensor::<4>::random([1, 3, 80, 75], burn::tensor::Distribution::Uniform(0.0, 1.0), &device);
    let whole = model.forward(x.clone()).unwrap().into_data();
    for after in [LayerName::Mixed0, LayerName::Mixed3, LayerName::Mixed7, LayerName::Mixed9, LayerName::Mixed10] {
        let middle = model.forward_to(x.clone(), after).unwrap();
        assert_eq!(model.forward_from(middle, after).unwrap().into_data(), whole, "from {after}");
    }
    let mixed9_0 = model.forward_to(x.clone(), LayerName::Mixed9_0).unwrap();
    let inside = model.forward_from(mixed9_0, LayerName::Mixed9_0).unwrap_err();
    assert!(matches!(&inside, InceptionError::UnusableLayer { layer, .. } if layer == "mixed9_0"), "{inside}");
    let mixed2 = model.forward_to(x, LayerName::Mixed2).unwrap();
    let err = model.forward_from(mixed2, LayerName::Mixed3).unwrap_err();
    assert!(matches!(err, InceptionError::FeatureChannels { expected: 768, channels: 288, .. }), "{err}");
}

/// Every row of Keras' `model.layers` for the notop base at 150x150: name, class, shape, params.
#[test]
fn the_summary_is_keras_layer_for_layer() {
    let model = InceptionV3Config::new(Flavor::Keras).init(&Device::flex()).unwrap();
    let summary = model.summary([150, 150]).unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inception/keras_layers_150.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let keras: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    let (total, rows) = keras.split_last().unwrap();
    assert_eq!(summary.rows.len(), rows.len(), "311 layers");
    for (ours, theirs) in summary.rows.iter().zip(rows) {
        let shape: Vec<String> = ours.output_shape.iter().map(usize::to_string).collect();
        assert_eq!(
            (ours.name.as_str(), ours.layer_type.as_str(), shape.join(","), ours.params().to_string()),
            (theirs[0], theirs[1], theirs[2].to_string(), theirs[3].to_string())
        );
    }
    assert_eq!(summary.total_params().to_string(), total[1]);
    assert_eq!(summary.total_params(), 21_802_784);
    assert_eq!(summary.non_trainable_params(), 34_432);
    let printed = summary.to_string();
    assert!(printed.contains("Total params: 21,802,784"), "{printed}");
    assert!(printed.contains(" mixed7 (Concatenate)"));
}

#[test]
fn the_summary_of_a_cut_model_stops_at_the_cut() {
    let model = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed7).init(&Device::flex()).unwrap();
    let summary = model.summary([150, 150]).unwrap();
    assert_eq!(summary.rows.last().unwrap().name, "mixed7");
    assert_eq!(summary.total_params(), 8_975_264);
    let inner = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed9_0).init(&Device::flex()).unwrap();
    let rows = inner.summary([150, 150]).unwrap().rows;
    assert_eq!(rows.last().unwrap().name, "mixed9_0");
    assert_eq!(rows.last().unwrap().output_shape, vec![3, 3, 768]);
}
