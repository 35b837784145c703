//! Augmentation throughput with the course's parameters.
//!
//! ```text
//! cargo bench --bench augment
//! ```
//! - `augment/course_150`: 150x150 RGB images in memory, course parameters, all cores.
//! - `augment/folder_150`: the whole pipeline on a folder of ~400 px JPEGs: decode, resize
//!   to 150x150 (nearest, as Keras), augment, batch of 20 as a Burn tensor.

use augment::{ClassMode, DirectoryIterator, FlowConfig, Image, ImageDataGeneratorConfig, image_rng};
use burn::tensor::Device;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;

fn course() -> augment::ImageDataGenerator {
    ImageDataGeneratorConfig::course().build().expect("course parameters")
}

fn augment(c: &mut Criterion) {
    let mut group = c.benchmark_group("augment");
    let generator = course();
    let images: Vec<Image> = (0..64)
        .map(|i| {
            let data = (0..150 * 150 * 3).map(|k| ((k * 7 + i * 13) % 256) as f32).collect();
            Image::new(150, 150, 3, data).expect("image")
        })
        .collect();
    group.throughput(Throughput::Elements(images.len() as u64));
    let mut epoch = 0u64;
    group.bench_function("course_150", |b| {
        b.iter(|| {
            epoch += 1;
            images
                .par_iter()
                .enumerate()
                .map(|(i, image)| generator.augment(image, &mut image_rng(0, epoch, i as u64)))
                .collect::<Vec<_>>()
        })
    });

    // ~400 px photos: a smooth scene plus per-pixel texture, so the JPEGs carry about the
    // entropy (and decoding cost) of real photographs (~40-60 KB each).
    let dir = std::env::temp_dir().join("inception-transfer-bench-photos");
    if !dir.join("cats").is_dir() {
        for (class, name) in ["cats", "dogs"].iter().enumerate() {
            let class_dir = dir.join(name);
            std::fs::create_dir_all(&class_dir).expect("dir");
            for i in 0..100 {
                let mut state = 0x9E37_79B9u32.wrapping_mul(i + 1);
                let img = image::RgbImage::from_fn(400, 300, |x, y| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    let noise = (state % 48) as f32 - 24.0;
                    let smooth = 128.0 + 90.0 * ((x as f32 * 0.021 + i as f32).sin() * (y as f32 * 0.017).cos());
                    let v = |k: f32| (smooth + noise + k).clamp(0.0, 255.0) as u8;
                    image::Rgb([v(0.0), v(30.0 * class as f32), v(-20.0)])
                });
                img.save(class_dir.join(format!("{i}.jpg"))).expect("jpeg");
            }
        }
    }
    let device = Device::default();
    let config =
        FlowConfig { target_size: [150, 150], batch_size: 20, class_mode: ClassMode::Binary, ..FlowConfig::default() };
    let mut flow = DirectoryIterator::new(&dir, course(), config).expect("folder");
    group.throughput(Throughput::Elements(20));
    group.bench_function("folder_150", |b| b.iter(|| flow.next_batch(&device).expect("batch")));

    group.finish();
}

criterion_group!(benches, augment);
criterion_main!(benches);
