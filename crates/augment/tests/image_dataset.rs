//! `image_dataset_from_directory` against TF 2.15 (fixtures made by
//! crates/augment/tests/fixtures/dataset/make_tf_dataset_fixtures.py): Keras' file order and validation
//! subsets for a seed, and the pixels of every resize method, crop and colour mode.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use augment::{ImageDatasetConfig, LabelMode, Subset, image_dataset_from_directory, image_dataset_from_directory_both};
use burn::tensor::Device;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dataset")
}

fn cases() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("cases.json")).unwrap()).unwrap()
}

fn relative(files: &[(PathBuf, usize)]) -> Vec<String> {
    let root = fixtures().join("folder");
    files.iter().map(|(p, _)| p.strip_prefix(&root).unwrap().to_string_lossy().into_owned()).collect()
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[test]
fn file_order_and_validation_subsets_are_the_files_keras_picks() {
    let cases = cases();
    let folder = fixtures().join("folder");
    let small = ImageDatasetConfig { batch_size: 4, image_size: [8, 8], ..ImageDatasetConfig::default() };
    let unshuffled =
        image_dataset_from_directory(&folder, ImageDatasetConfig { shuffle: false, ..small.clone() }).unwrap();
    assert_eq!(
        relative(unshuffled.files()),
        strings(&cases["unshuffled"]),
        "sorted walk, hidden folder and .txt left out"
    );
    assert_eq!(unshuffled.class_names(), strings(&cases["class_names"]));
    for seed in [123u32, 7] {
        let expected = &cases["orders"][seed.to_string()];
        let config = ImageDatasetConfig { seed: Some(seed), ..small.clone() };
        let all = image_dataset_from_directory(&folder, config.clone()).unwrap();
        assert_eq!(relative(all.files()), strings(&expected["all"]), "seed {seed}");
        let (train, validation) = image_dataset_from_directory_both(&folder, 0.3, config.clone()).unwrap();
        assert_eq!(relative(train.files()), strings(&expected["training"]), "seed {seed}");
        assert_eq!(relative(validation.files()), strings(&expected["validation"]), "seed {seed}");
        let subset = ImageDatasetConfig { validation_split: Some(0.3), subset: Some(Subset::Validation), ..config };
        assert_eq!(
            relative(image_dataset_from_directory(&folder, subset).unwrap().files()),
            strings(&expected["validation"])
        );
    }
}

#[test]
fn pixels_match_tensorflow_resize_for_every_method_crop_and_colour_mode() {
    let cases = cases();
    let folder = fixtures().join("folder");
    let device = Device::flex();
    let (mut worst_png, mut worst_jpeg, mut jpeg_sum, mut jpeg_values) = (0.0f32, 0.0f32, 0.0f64, 0usize);
    for case in cases["images"].as_array().unwrap() {
        let size: Vec<usize> =
            case["image_size"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        let config = ImageDatasetConfig {
            shuffle: false,
            batch_size: 100,
            image_size: [size[0], size[1]],
            interpolation: case["interpolation"].as_str().unwrap().parse().unwrap(),
            crop_to_aspect_ratio: case["crop_to_aspect_ratio"].as_bool().unwrap(),
            color_mode: case["color_mode"].as_str().unwrap().parse().unwrap(),
            ..ImageDatasetConfig::default()
        };
        let mut dataset = image_dataset_from_directory(&folder, config.clone()).unwrap();
        let batch = dataset.next_batch(&device).unwrap();
        let labels: Vec<usize> =
            case["labels"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        assert_eq!(batch.classes, labels);
        let ours = batch.images.permute([0, 2, 3, 1]).into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        let theirs = backbone::npy::read_npy(&fixtures().join(case["file"].as_str().unwrap())).unwrap();
        assert_eq!(ours.len(), theirs.values.len(), "{}", case["file"]);
        let per_image = ours.len() / labels.len();
        for (i, (path, _)) in dataset.files().iter().enumerate() {
            let range = i * per_image..(i + 1) * per_image;
            let differences: Vec<f32> =
                ours[range.clone()].iter().zip(&theirs.values[range]).map(|(a, b)| (a - b).abs()).collect();
            let difference = differences.iter().copied().fold(0.0, f32::max);
            let jpeg = path.extension().is_some_and(|e| e.to_string_lossy().to_lowercase().starts_with("jp"));
            match jpeg {
                true => {
                    worst_jpeg = worst_jpeg.max(difference);
                    jpeg_sum += differences.iter().map(|&d| d as f64).sum::<f64>();
                    jpeg_values += differences.len();
                }
                false => {
                    worst_png = worst_png.max(difference);
                    assert!(difference <= 1e-3, "{} {}: {difference} on 0..255", case["file"], path.display());
                }
            }
        }
    }
    let jpeg_mean = jpeg_sum / jpeg_values as f64;
    println!(
        "difference from TF on 0..255: PNG largest {worst_png:.2e}; JPEG (random-noise files, decoders differ) largest {worst_jpeg:.2}, mean {jpeg_mean:.3}"
    );
    assert!(jpeg_mean <= 2.0, "JPEG decoding differs by {jpeg_mean} on average");
}

#[test]
fn batches_take_skip_labels_and_keras_argument_errors() {
    let folder = fixtures().join("folder");
    let device = Device::flex();
    let config = ImageDatasetConfig {
        seed: Some(1),
        batch_size: 3,
        image_size: [5, 5],
        label_mode: LabelMode::Categorical,
        ..ImageDatasetConfig::default()
    };
    let dataset = image_dataset_from_directory(&folder, config.clone()).unwrap();
    assert_eq!(dataset.len(), 4, "10 files in batches of 3");
    let (mut test, validation) = (dataset.take(1), dataset.skip(1));
    assert_eq!((test.len(), validation.len(), dataset.skip(9).len()), (1, 3, 0));
    let batch = test.next_batch(&device).unwrap();
    assert_eq!(batch.images.dims(), [3, 3, 5, 5]);
    let targets = batch.targets.unwrap().into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    for (i, class) in batch.classes.iter().enumerate() {
        assert_eq!(targets[i * 2 + class], 1.0, "one-hot");
    }
    // Every epoch serves every file once, in a new order.
    let mut all = image_dataset_from_directory(&folder, config.clone()).unwrap();
    let epoch = |all: &mut augment::ImageDataset| {
        let mut paths: Vec<PathBuf> = (0..4).flat_map(|_| all.next_batch(&device).unwrap().paths).collect();
        let order = paths.clone();
        paths.sort();
        (order, paths)
    };
    let (first, sorted_first) = epoch(&mut all);
    let (second, sorted_second) = epoch(&mut all);
    assert_eq!(sorted_first, sorted_second);
    assert_eq!(sorted_first.len(), 10);
    assert_ne!(first, second, "reshuffled each epoch");

    let err = |config: ImageDatasetConfig| image_dataset_from_directory(&folder, config).err().unwrap().to_string();
    let message = err(ImageDatasetConfig { validation_split: Some(0.2), ..ImageDatasetConfig::default() });
    assert!(message.contains("validation_split` must be set, and inversely"), "{message}");
    let message = err(ImageDatasetConfig {
        validation_split: Some(0.2),
        subset: Some(Subset::Training),
        ..ImageDatasetConfig::default()
    });
    assert!(message.contains("provide a `seed`"), "{message}");
    let message = err(ImageDatasetConfig {
        validation_split: Some(1.5),
        subset: Some(Subset::Training),
        seed: Some(1),
        ..config.clone()
    });
    assert!(message.contains("between 0 and 1"), "{message}");
    let message = err(ImageDatasetConfig { class_names: Some(vec!["cats".into(), "birds".into()]), ..config.clone() });
    assert!(message.contains("did not match"), "{message}");
    assert!("sparse".parse::<LabelMode>().unwrap_err().to_string().contains("int, categorical, binary"));
    let empty = std::env::temp_dir().join(format!("empty-dataset-{}", std::process::id()));
    std::fs::create_dir_all(empty.join("a")).unwrap();
    let message = image_dataset_from_directory(&empty, config).err().unwrap().to_string();
    assert!(message.contains("no images found"), "{message}");
    std::fs::remove_dir_all(&empty).unwrap();
}

/// Leaving files out of a batch, and hints to stop decoding them ahead, change nothing else:
/// the same samples in the same order, each image that is there the same pixels (a hinted
/// image still asked for is decoded on the spot).
#[test]
fn batches_without_some_files_keep_the_others_exactly() {
    let folder = fixtures().join("folder");
    let device = Device::flex();
    let config =
        ImageDatasetConfig { seed: Some(4), batch_size: 3, image_size: [6, 7], ..ImageDatasetConfig::default() };
    let dataset = image_dataset_from_directory(&folder, config).unwrap();
    let (mut reference, mut hinted, mut partial) = (dataset.skip(1), dataset.skip(1), dataset.skip(1));
    let files = dataset.files().len();
    hinted.skip_decoding(&(0..files).collect::<Vec<_>>()).unwrap();
    let leave_out = |file: usize| file % 3 == 1;
    partial.skip_decoding(&(0..files).filter(|&f| leave_out(f)).collect::<Vec<_>>()).unwrap();
    let pixels = |t: burn::tensor::Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
    let per_image = 3 * 6 * 7;
    for _ in 0..7 {
        let expected = reference.next_batch(&device).unwrap();
        let again = hinted.next_batch(&device).unwrap();
        assert_eq!(again.paths, expected.paths);
        let expected_pixels = pixels(expected.images);
        assert_eq!(pixels(again.images), expected_pixels);
        let some = partial.next_batch_without(&device, &leave_out).unwrap();
        assert_eq!((some.classes, some.paths), (expected.classes, expected.paths));
        let kept = common::kept_images(&expected_pixels, per_image, some.files.len(), |i| !leave_out(some.files[i]));
        assert_eq!(some.images.map(pixels).unwrap_or_default(), kept);
    }
    hinted.decode_all();
    assert_eq!(
        pixels(hinted.next_batch(&device).unwrap().images),
        pixels(reference.next_batch(&device).unwrap().images)
    );
}
