//! Keras' preprocessing layers against TF 2.15 for drawn parameters (fixtures made by
//! crates/augment/tests/fixtures/layers/make_tf_layer_fixtures.py): rotation, zoom and translation through
//! `ImageProjectiveTransformV3` on square and non-square images for every fill mode and
//! interpolation, and contrast; plus the layers' own draws and validation.

use std::path::Path;

use augment::Image;
use augment::layers::{
    Augmentation, PreprocessingLayer, RandomContrast, RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
    Rescaling, adjust_contrast,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layers").join(name)
}

fn image(name: &str) -> Image {
    let array = backbone::npy::read_npy(&fixture(name)).unwrap();
    Image::new(array.shape[0], array.shape[1], array.shape[2], array.values).unwrap()
}

fn largest_difference(a: &Image, b: &Image) -> f32 {
    assert_eq!((a.height, a.width, a.channels), (b.height, b.width, b.channels));
    a.data.iter().zip(&b.data).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn transforms_match_tensorflow_for_every_fill_mode_and_interpolation() {
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("cases.json")).unwrap()).unwrap();
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 140);
    let mut worst = 0.0f32;
    for case in cases {
        let input = image(case["input"].as_str().unwrap());
        let expected = image(case["output"].as_str().unwrap());
        let p = &case["params"];
        let number = |key: &str| p[key].as_f64().unwrap() as f32;
        let ours = match case["kind"].as_str().unwrap() {
            "contrast" => {
                let mut out = input.clone();
                adjust_contrast(&mut out, number("factor"));
                out
            }
            kind => {
                let fill_mode = case["fill_mode"].as_str().unwrap().parse().unwrap();
                let interpolation = case["interpolation"].as_str().unwrap().parse().unwrap();
                let fill_value = case["fill_value"].as_f64().unwrap() as f32;
                match kind {
                    "rotation" => RandomRotation::new(0.1)
                        .unwrap()
                        .fill_mode(fill_mode)
                        .interpolation(interpolation)
                        .fill_value(fill_value)
                        .rotate(&input, number("angle")),
                    "zoom" => RandomZoom::new(0.1)
                        .unwrap()
                        .fill_mode(fill_mode)
                        .interpolation(interpolation)
                        .fill_value(fill_value)
                        .zoom(&input, number("zx"), number("zy")),
                    _ => RandomTranslation::new(0.1, 0.1)
                        .unwrap()
                        .fill_mode(fill_mode)
                        .interpolation(interpolation)
                        .fill_value(fill_value)
                        .translate(&input, number("dx"), number("dy")),
                }
            }
        };
        let difference = largest_difference(&ours, &expected);
        worst = worst.max(difference);
        assert!(difference <= 1e-3, "{}: largest difference {difference} on 0..255", case["name"]);
    }
    println!("{} cases, largest difference {worst:.2e} on 0..255", cases.len());
}

#[test]
fn layers_draw_keras_ranges_and_validate_keras_arguments() {
    let input = image("input_nonsquare.npy");
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    // A zero-width factor is the identity transform.
    let mut batch = vec![input.clone(); 3];
    RandomRotation::between(0.0, 0.0).unwrap().apply(&mut batch, &mut rng).unwrap();
    assert!(batch.iter().all(|image| largest_difference(image, &input) < 1e-3));
    // Half a turn either way, drawn per image: images of a batch differ.
    let mut batch = vec![input.clone(); 4];
    RandomRotation::between(0.5, 0.5).unwrap().apply(&mut batch, &mut rng).unwrap();
    let half_turn = RandomRotation::new(0.1).unwrap().rotate(&input, std::f32::consts::PI);
    assert!(largest_difference(&batch[0], &half_turn) < 1e-3);
    let mut batch = vec![input.clone(); 8];
    RandomZoom::new(0.5).unwrap().apply(&mut batch, &mut rng).unwrap();
    assert!(largest_difference(&batch[0], &batch[1]) > 1.0, "zoom drawn per image");
    // Flips: over many images both outcomes occur, and each is an exact flip.
    let mut batch = vec![input.clone(); 16];
    RandomFlip::new("horizontal").unwrap().apply(&mut batch, &mut rng).unwrap();
    let mut flipped = input.clone();
    augment::flip_horizontal(&mut flipped);
    assert!(batch.iter().all(|image| *image == input || *image == flipped));
    assert!(batch.contains(&input) && batch.contains(&flipped));
    // Contrast: one factor for the whole batch, clipped to 0..255.
    let mut batch = vec![input.clone(); 2];
    RandomContrast::new(0.9).unwrap().apply(&mut batch, &mut rng).unwrap();
    assert_eq!(batch[0], batch[1]);
    assert!(batch[0].data.iter().all(|v| (0.0..=255.0).contains(v)));
    // Rescaling(1/127.5, -1) is MobileNetV2's preprocess_input.
    let mut batch = vec![Image::filled(1, 1, 3, 255.0), Image::filled(1, 1, 3, 0.0)];
    let augmentation = Augmentation::new().then(Rescaling::new(1.0 / 127.5, -1.0).unwrap());
    augmentation.apply(&mut batch, &mut rng).unwrap();
    assert_eq!((batch[0].data[0], batch[1].data[0]), (1.0, -1.0));

    let message = |e: augment::AugmentError| e.to_string();
    assert!(message(RandomFlip::new("diagonal").unwrap_err()).contains("`horizontal`, `vertical`"));
    assert!(message(RandomRotation::between(0.3, 0.1).unwrap_err()).contains("upper bound is below"));
    assert!(message(RandomZoom::new(1.5).unwrap_err()).contains("between [-1, 1]"));
    assert!(message(RandomTranslation::new(0.1, 2.0).unwrap_err()).contains("width_factor"));
    assert!(message(RandomContrast::new(-0.1).unwrap_err()).contains("cannot have negative values"));
    assert!(message("mirror".parse::<augment::layers::TransformFillMode>().unwrap_err()).contains("`reflect`, `wrap`"));
    assert!(message("bicubic".parse::<augment::layers::TransformInterpolation>().unwrap_err()).contains("`nearest`"));
}
