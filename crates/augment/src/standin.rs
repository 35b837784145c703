//! A generated stand-in for a two-class image folder (`cats_and_dogs_filtered`,
//! `horse-or-human`): two visually distinct classes of JPEG images in the same folder
//! layout, so the whole recipe can run where the real data is not available. It is a smoke
//! test of the pipeline, not a benchmark of accuracy.

use std::path::Path;

use image::{Rgb, RgbImage};
use rand::Rng;

use crate::error::{AugmentError, Result};
use crate::seeding::image_rng;

/// The class folders of the course's dataset, `cats_and_dogs_filtered`.
pub const STANDIN_CLASSES: [&str; 2] = ["cats", "dogs"];

/// Draws one stand-in image: the first class is warm with round blobs, the second cool
/// with stripes.
fn draw(class: usize, rng: &mut impl Rng) -> RgbImage {
    let (w, h) = (rng.random_range(160..240u32), rng.random_range(140..200u32));
    let mut img = RgbImage::new(w, h);
    let base: [f32; 3] = match class {
        0 => [190.0, 120.0, 70.0],
        _ => [70.0, 120.0, 190.0],
    };
    let blobs: Vec<(f32, f32, f32)> = (0..rng.random_range(2..5))
        .map(|_| (rng.random_range(0.0..w as f32), rng.random_range(0.0..h as f32), rng.random_range(12.0..40.0)))
        .collect();
    let (period, phase) = (rng.random_range(10.0..24.0f32), rng.random_range(0.0..std::f32::consts::TAU));
    for (x, y, px) in img.enumerate_pixels_mut() {
        let (xf, yf) = (x as f32, y as f32);
        let pattern = match class {
            0 => blobs.iter().any(|(cx, cy, r)| (xf - cx).powi(2) + (yf - cy).powi(2) < r * r) as u8 as f32,
            _ => (((xf + yf) / period * std::f32::consts::TAU + phase).sin() > 0.3) as u8 as f32,
        };
        let noise = rng.random_range(-25.0..25.0f32);
        let v = |k: usize| (base[k] + 50.0 * pattern + noise).clamp(0.0, 255.0) as u8;
        *px = Rgb([v(0), v(1), v(2)]);
    }
    img
}

/// Writes `root/{train,validation}/{first,second}/*.jpg` for the two `classes` (e.g.
/// [`STANDIN_CLASSES`]): `train` and `validation` images per class, deterministic for a
/// seed, named as the real sets name them (`cat.0.jpg`, ...).
pub fn write_standin_dataset(
    root: &Path,
    classes: [&str; 2],
    train: usize,
    validation: usize,
    seed: u64,
) -> Result<()> {
    for (split, count, salt) in [("train", train, 0u64), ("validation", validation, 1)] {
        for (class, name) in classes.iter().enumerate() {
            let dir = root.join(split).join(name);
            std::fs::create_dir_all(&dir).map_err(|source| AugmentError::Io { path: dir.clone(), source })?;
            for i in 0..count {
                let mut rng = image_rng(seed, salt * 2 + class as u64, i as u64);
                let path = dir.join(format!("{}.{i}.jpg", name.strip_suffix('s').unwrap_or(name)));
                draw(class, &mut rng).save(&path).map_err(|e| AugmentError::CorruptImage {
                    path: path.clone(),
                    reason: format!("cannot write: {e}"),
                })?;
            }
        }
    }
    Ok(())
}
