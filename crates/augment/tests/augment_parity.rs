//! Augmentation against the real Keras 2.15 `ImageDataGenerator` (fixtures made by
//! crates/augment/tests/fixtures/augment/make_augment_fixtures.py).

use std::path::{Path, PathBuf};

use augment::{
    ClassMode, DirectoryIterator, FillMode, FlowConfig, Geometry, Image, ImageDataGenerator, Interpolation,
    TransformParams, apply_transform,
};
use backbone::npy::read_npy;
use burn::tensor::Device;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/augment").join(name)
}

fn load(name: &str) -> (Vec<usize>, Vec<f32>) {
    let array = read_npy(&fixture(name)).unwrap_or_else(|e| panic!("{e}"));
    (array.shape, array.values)
}

#[test]
fn apply_transform_matches_keras_on_every_case() {
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(fixture("cases.json")).unwrap()).unwrap();
    assert!(cases.len() >= 40);
    let mut worst = (0.0f32, String::new());
    for case in &cases {
        let file = case["file"].as_str().unwrap();
        let (h, w) = (case["height"].as_u64().unwrap() as usize, case["width"].as_u64().unwrap() as usize);
        let tag = if h == w { "square" } else { "nonsquare" };
        let (_, input) = load(&format!("input_{tag}.npy"));
        let image = Image::new(h, w, 3, input).unwrap();
        let params: TransformParams = serde_json::from_value(case["params"].clone()).unwrap();
        let cval = case["cval"].as_f64().unwrap_or(0.0) as f32;
        let fill = match case["fill_mode"].as_str().unwrap_or("nearest") {
            "constant" => FillMode::Constant(cval),
            "reflect" => FillMode::Reflect,
            "wrap" => FillMode::Wrap,
            _ => FillMode::Nearest,
        };
        let order = Interpolation::from_order(case["interpolation_order"].as_u64().unwrap_or(1) as u8).unwrap();
        let ours = apply_transform(&image, &params, fill, order, Geometry::Keras);
        let (shape, reference) = load(file);
        assert_eq!(shape, vec![h, w, 3]);
        let diff = ours.data.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        if diff > worst.0 {
            worst = (diff, file.to_string());
        }
        assert!(diff <= 1e-3, "{file}: max |diff| {diff} on the 0..255 scale");
    }
    println!("worst case {} : {:.2e}", worst.1, worst.0);
}

#[test]
fn flow_from_directory_matches_keras_without_augmentation() {
    let device = Device::flex();
    for (interpolation, file) in
        [(Interpolation::Nearest, "folder_batch_nearest.npy"), (Interpolation::Bilinear, "folder_batch_bilinear.npy")]
    {
        let config = FlowConfig {
            target_size: [30, 40],
            batch_size: 5,
            class_mode: ClassMode::Binary,
            shuffle: false,
            interpolation,
            ..FlowConfig::default()
        };
        let mut flow =
            DirectoryIterator::new(&fixture("folder"), ImageDataGenerator::rescale_only(1.0 / 255.0), config).unwrap();
        assert_eq!(flow.found_message(), "Found 5 images belonging to 2 classes.");
        assert_eq!(flow.skipped().len(), 1, "notes.txt is skipped");
        let batch = flow.next_batch(&device).unwrap();
        let (_, reference) = load(file);
        let ours = batch.images.permute([0, 2, 3, 1]).into_data().try_to_vec::<f32>().unwrap();
        let diff = ours.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(diff <= 1e-6, "{file}: max |diff| {diff}");
        let (_, labels) = load("folder_labels.npy");
        let targets = batch.targets.unwrap().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(targets, labels);
        assert_eq!(batch.classes, vec![0, 0, 1, 1, 1]);
    }
}
