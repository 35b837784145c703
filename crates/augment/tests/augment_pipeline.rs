//! The generator's configuration, draws and the folder pipeline's behaviour on real-world
//! messes (corrupt files, empty folders), and determinism whatever the thread count.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use augment::{
    AugmentError, ClassMode, DirectoryIterator, FillMode, FlowConfig, Geometry, Image, ImageDataGeneratorConfig,
    Interpolation, ShiftRange, TransformParams, apply_transform, image_rng,
};
use burn::tensor::Device;

fn course() -> ImageDataGeneratorConfig {
    ImageDataGeneratorConfig::course()
}

#[test]
fn invalid_parameters_are_typed_errors_at_construction() {
    let cases = [
        ImageDataGeneratorConfig::new().with_rotation_range(-1.0),
        ImageDataGeneratorConfig::new().with_rotation_range(f64::NAN),
        ImageDataGeneratorConfig::new().with_zoom_range([1.2, 0.8]),
        ImageDataGeneratorConfig::new().with_zoom(1.5),
        ImageDataGeneratorConfig::new().with_width_shift_range(ShiftRange::Uniform(-0.2)),
        ImageDataGeneratorConfig::new().with_brightness_range(Some([1.5, 0.5])),
    ];
    for config in cases {
        let err = config.build().unwrap_err();
        assert!(matches!(err, AugmentError::InvalidParameter { .. }), "{err}");
    }
    assert!(course().build().is_ok());
    let err = Interpolation::from_order(3).unwrap_err();
    assert!(matches!(err, AugmentError::InvalidParameter { parameter: "interpolation_order", .. }), "{err}");
}

#[test]
fn course_draws_stay_in_keras_ranges() {
    let generator = course().build().unwrap();
    let mut flips = 0;
    for i in 0..2000 {
        let p = generator.random_transform(150, 150, &mut image_rng(7, 0, i));
        assert!(p.theta.abs() <= 40.0 && p.tx.abs() <= 30.0 && p.ty.abs() <= 30.0);
        assert!(p.shear.abs() <= 0.2 && (0.8..=1.2).contains(&p.zx) && (0.8..=1.2).contains(&p.zy));
        assert!(!p.flip_vertical);
        flips += p.flip_horizontal as usize;
    }
    assert!((900..1100).contains(&flips), "{flips} flips of 2000");
}

#[test]
fn tx_moves_content_horizontally_as_keras_does() {
    let data: Vec<f32> = (0..10 * 12).flat_map(|i| [i as f32; 3]).collect();
    let image = Image::new(10, 12, 3, data).unwrap();
    let p = TransformParams { tx: 3.0, ..Default::default() };
    let keras = apply_transform(&image, &p, FillMode::Nearest, Interpolation::Bilinear, Geometry::Keras);
    assert_eq!(keras.pixel(4, 2)[0], image.pixel(4, 5)[0], "out[r, c] = in[r, c + tx]");
    let corrected = apply_transform(&image, &p, FillMode::Nearest, Interpolation::Bilinear, Geometry::Corrected);
    assert_eq!(
        corrected.pixel(4, 2)[0],
        image.pixel(7, 2)[0],
        "corrected: tx (the height shift) moves content vertically"
    );
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("augment-tests-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn copy_fixture_folder(to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/augment/folder");
    for class in ["cats", "dogs"] {
        std::fs::create_dir_all(to.join(class)).unwrap();
        for entry in std::fs::read_dir(from.join(class)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, to.join(class).join(path.file_name().unwrap())).unwrap();
        }
    }
}

fn flow(dir: &Path, seed: u64) -> DirectoryIterator {
    flow_with_workers(dir, seed, 0)
}

fn flow_with_workers(dir: &Path, seed: u64, workers: usize) -> DirectoryIterator {
    let config = FlowConfig {
        target_size: [30, 40],
        batch_size: 3,
        class_mode: ClassMode::Categorical,
        seed,
        workers,
        ..FlowConfig::default()
    };
    DirectoryIterator::new(dir, course().build().unwrap(), config).unwrap()
}

#[test]
fn same_seed_same_batches_whatever_the_thread_count() {
    let dir = scratch("determinism");
    copy_fixture_folder(&dir);
    let device = Device::flex();
    let run = |workers: usize| {
        let mut it = flow_with_workers(&dir, 42, workers);
        (0..4)
            .map(|_| {
                let b = it.next_batch(&device).unwrap();
                (b.images.into_data().try_to_vec::<f32>().unwrap(), b.classes, b.paths)
            })
            .collect::<Vec<_>>()
    };
    let one = run(1);
    assert_eq!(one, run(3));
    assert_ne!(one, {
        let mut it = flow(&dir, 43);
        (0..4)
            .map(|_| {
                let b = it.next_batch(&device).unwrap();
                (b.images.into_data().try_to_vec::<f32>().unwrap(), b.classes, b.paths)
            })
            .collect::<Vec<_>>()
    });
    // Labels always follow the file: cats are class 0, dogs class 1.
    for (_, classes, paths) in &one {
        for (class, path) in classes.iter().zip(paths) {
            assert_eq!(*class, path.parent().unwrap().ends_with("dogs") as usize);
        }
    }
}

/// A bad file is found when the folder is scanned, before any training: an error listing
/// it by default, left out with `BadImages::Skip`; one that goes bad after the scan is an
/// error naming it by default, and left out of its batch with `BadImages::Skip`.
#[test]
fn a_corrupt_image_is_reported_by_path() {
    let dir = scratch("corrupt");
    copy_fixture_folder(&dir);
    std::fs::write(dir.join("cats/broken.jpg"), b"\xff\xd8\xff\xe0 definitely not a jpeg").unwrap();
    std::fs::write(dir.join("dogs/empty.png"), b"").unwrap();
    let config = FlowConfig { target_size: [30, 40], batch_size: 10, shuffle: false, ..FlowConfig::default() };
    let err = DirectoryIterator::new(&dir, course().build().unwrap(), config.clone()).err().unwrap();
    assert!(matches!(&err, AugmentError::BadImages { files, .. } if files.len() == 2), "{err}");
    assert!(err.to_string().contains("broken.jpg") && err.to_string().contains("empty.png"), "{err}");

    let skip = FlowConfig { bad_images: augment::BadImages::Skip, ..config };
    let mut it = DirectoryIterator::new(&dir, course().build().unwrap(), skip.clone()).unwrap();
    assert_eq!(it.samples(), 5, "the five good images");
    assert!(it.skipped().iter().any(|p| p.ends_with("cats/broken.jpg")));
    it.next_batch(&Device::flex()).unwrap();

    std::fs::remove_file(dir.join("cats/broken.jpg")).unwrap();
    std::fs::remove_file(dir.join("dogs/empty.png")).unwrap();
    let mut it = DirectoryIterator::new(&dir, course().build().unwrap(), skip).unwrap();
    let strict = FlowConfig { bad_images: augment::BadImages::Error, ..it.config().clone() };
    let mut strict = DirectoryIterator::new(&dir, course().build().unwrap(), strict).unwrap();
    std::fs::write(dir.join("cats/rgb.png"), b"gone bad").unwrap();
    let batch = it.next_batch(&Device::flex()).unwrap();
    assert_eq!(batch.paths.len(), 4, "left out of its batch");
    assert!(!batch.paths.iter().any(|p| p.ends_with("cats/rgb.png")));
    let err = strict.next_batch(&Device::flex()).unwrap_err();
    assert!(matches!(err, AugmentError::CorruptImage { .. }), "{err}");
    assert!(err.to_string().contains("rgb.png"), "{err}");
}

#[test]
fn empty_folders_are_errors() {
    let dir = scratch("empty");
    let err = DirectoryIterator::new(&dir, course().build().unwrap(), FlowConfig::default()).err().unwrap();
    assert!(err.to_string().contains("no class sub-folders"), "{err}");
    std::fs::create_dir_all(dir.join("cats")).unwrap();
    std::fs::write(dir.join("cats/readme.txt"), "x").unwrap();
    let err = DirectoryIterator::new(&dir, course().build().unwrap(), FlowConfig::default()).err().unwrap();
    assert!(err.to_string().contains("no image files"), "{err}");
}

#[test]
fn binary_labels_need_exactly_two_classes() {
    let dir = scratch("three-classes");
    copy_fixture_folder(&dir);
    std::fs::create_dir_all(dir.join("zebras")).unwrap();
    let binary = FlowConfig { class_mode: augment::ClassMode::Binary, ..FlowConfig::default() };
    let err = DirectoryIterator::new(&dir, course().build().unwrap(), binary).err().unwrap();
    assert!(err.to_string().contains("class_mode binary needs exactly 2 class folders, found 3"), "{err}");
    assert!(err.to_string().contains("zebras"), "{err}");
}

#[test]
fn epochs_cover_every_image_once() {
    let dir = scratch("epochs");
    copy_fixture_folder(&dir);
    let mut it = flow(&dir, 1);
    assert_eq!(it.batches_per_epoch(), 2);
    let device = Device::flex();
    let mut seen: Vec<PathBuf> = (0..2).flat_map(|_| it.next_batch(&device).unwrap().paths).collect();
    seen.sort();
    let mut all: Vec<PathBuf> = it.files().iter().map(|(p, _)| p.clone()).collect();
    all.sort();
    assert_eq!(seen, all);
}

/// The single-pass path of `augment` (rescale and flip folded into the warp) gives what
/// Keras' sequence `apply_transform` then `standardize` gives.
#[test]
fn augment_equals_apply_transform_then_rescale() {
    let data: Vec<f32> = (0..20 * 28 * 3).map(|i| ((i * 37) % 256) as f32).collect();
    let image = Image::new(20, 28, 3, data).unwrap();
    let generator = course().build().unwrap();
    let mut flipped = 0;
    for i in 0..20 {
        let p = generator.random_transform(20, 28, &mut image_rng(5, 0, i));
        flipped += p.flip_horizontal as usize;
        let ours = generator.augment(&image, &mut image_rng(5, 0, i));
        let keras = apply_transform(&image, &p, FillMode::Nearest, Interpolation::Bilinear, Geometry::Keras);
        for (a, b) in ours.data.iter().zip(&keras.data) {
            assert!((a - b / 255.0).abs() < 1e-6, "image {i}: {a} vs {}", b / 255.0);
        }
    }
    assert!(flipped > 0 && flipped < 20);
}

/// Leaving files out of a batch, and hints to stop decoding them ahead, change nothing else:
/// the same samples in the same order, each image that is there the same pixels (an image
/// hinted away but still asked for is decoded on the spot, with its own random transform).
#[test]
fn batches_without_some_files_keep_the_others_exactly() {
    let dir = scratch("partial");
    copy_fixture_folder(&dir);
    let device = Device::flex();
    let mut reference = flow(&dir, 7);
    let mut hinted = flow(&dir, 7);
    let mut partial = flow(&dir, 7);
    let files = reference.samples();
    hinted.skip_decoding(&(0..files).collect::<Vec<_>>()).unwrap();
    let leave_out = |file: usize| file.is_multiple_of(2);
    partial.skip_decoding(&(0..files).filter(|&f| leave_out(f)).collect::<Vec<_>>()).unwrap();
    let pixels = |t: burn::tensor::Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
    let [h, w] = [30, 40];
    for _ in 0..5 {
        let expected = reference.next_batch(&device).unwrap();
        let again = hinted.next_batch(&device).unwrap();
        assert_eq!((again.classes.clone(), again.paths.clone()), (expected.classes.clone(), expected.paths.clone()));
        let expected_pixels = pixels(expected.images);
        assert_eq!(pixels(again.images), expected_pixels);
        let some = partial.next_batch_without(&device, &leave_out).unwrap();
        assert_eq!((some.classes, some.paths), (expected.classes, expected.paths));
        assert_eq!(some.decoded, some.files.iter().map(|&f| !leave_out(f)).collect::<Vec<_>>());
        // NCHW images: each kept sample's planes, in order.
        let per_image = 3 * h * w;
        let kept = common::kept_images(&expected_pixels, per_image, some.files.len(), |i| some.decoded[i]);
        assert_eq!(some.images.map(pixels).unwrap_or_default(), kept);
    }
    hinted.decode_all();
    assert_eq!(
        pixels(hinted.next_batch(&device).unwrap().images),
        pixels(reference.next_batch(&device).unwrap().images)
    );
    let err = hinted.skip_decoding(&[files]).unwrap_err();
    assert!(matches!(err, AugmentError::InvalidParameter { parameter: "skip_decoding", .. }), "{err:?}");
}
