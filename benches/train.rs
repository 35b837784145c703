//! One training step of the course model: frozen base to `mixed7` at 150x150 + the course
//! head, batch 20, no augmentation, Keras RMSprop (`course_step_b20`); and the same step
//! fine-tuning `mixed7` (the TensorFlow tutorial's second phase: `course_finetune_mixed7_b20`).
//!
//! ```text
//! cargo bench --bench train
//! ```
//! Reports images/s (TensorFlow fit: 70 img/s, PyTorch: 46 img/s on the reference machine).

use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use inception::LayerName;
use inception_transfer::backend::Backend;
use transfer::{CompileConfig, Inputs, Trainer, TransferModelConfig};

fn train(c: &mut Criterion) {
    let mut group = c.benchmark_group("train");
    group.throughput(Throughput::Elements(20)).sample_size(10);
    let backend =
        std::env::var("TRAIN_BACKEND").ok().and_then(|b| b.parse::<Backend>().ok()).or_else(Backend::default_compiled);
    let device: Device = backend.expect("a backend").device().expect("compiled backend");
    let images = Tensor::<4>::random([20, 3, 150, 150], Distribution::Uniform(0.0, 1.0), &device);
    let targets = Tensor::<2>::random([20, 1], Distribution::Bernoulli(0.5), &device);
    let model = TransferModelConfig::course().init(&device).expect("model");
    let mut trainer = Trainer::new(model.clone(), CompileConfig::course(), &device).expect("trainer");
    group.bench_function("course_step_b20", |b| {
        b.iter(|| trainer.train_step(Inputs::Images(images.clone()), targets.clone()).expect("step"))
    });
    drop(trainer);
    let fine_tuning = CompileConfig { learning_rate: 1e-5, ..CompileConfig::course() };
    let mut trainer = Trainer::new(model.unfreeze_from_block(LayerName::Mixed7).expect("mixed7"), fine_tuning, &device)
        .expect("trainer");
    group.bench_function("course_finetune_mixed7_b20", |b| {
        b.iter(|| trainer.train_step(Inputs::Images(images.clone()), targets.clone()).expect("step"))
    });
    group.finish();
}

criterion_group!(benches, train);
criterion_main!(benches);
