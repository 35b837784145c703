//! Helpers shared by the integration tests of every crate of the workspace (each includes
//! this file with `#[path]`): deterministic inputs and weights ([`detrand`]), comparisons,
//! and where the workspace is. The InceptionV3 fixture weights are in `inception_fixtures.rs`.
#![allow(dead_code)]

pub mod detrand;

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};

/// The workspace's root folder (where `Cargo.lock` is), from the tests of any of its crates.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().find(|dir| dir.join("Cargo.lock").is_file()).unwrap_or(manifest).to_path_buf()
}

/// The deterministic NHWC test image as an NCHW tensor.
pub fn image(height: usize, width: usize, batch: usize, device: &Device) -> Tensor<4> {
    let data = TensorData::new(detrand::image(height, width, batch, 0), [batch, height, width, 3]);
    Tensor::<4>::from_data(data, device).permute([0, 3, 1, 2])
}

/// An NCHW tensor as NHWC shape and values.
pub fn nhwc(t: Tensor<4>) -> (Vec<usize>, Vec<f32>) {
    let t = t.permute([0, 2, 3, 1]);
    let shape = t.dims().to_vec();
    (shape, t.into_data().try_to_vec::<f32>().expect("f32 tensor"))
}

/// The images `i` of `count` (each `per_image` values of `pixels`) that `keep(i)` accepts,
/// in order: what a batch leaving the others out holds.
pub fn kept_images(pixels: &[f32], per_image: usize, count: usize, keep: impl Fn(usize) -> bool) -> Vec<f32> {
    (0..count).filter(|&i| keep(i)).flat_map(|i| pixels[i * per_image..(i + 1) * per_image].to_vec()).collect()
}

/// Largest absolute difference and largest reference magnitude.
pub fn compare(ours: &[f32], reference: &[f32]) -> (f32, f32) {
    assert_eq!(ours.len(), reference.len(), "different sizes");
    let diff = ours.iter().zip(reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    let scale = reference.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
    (diff, scale)
}
