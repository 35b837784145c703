//! Inference throughput of the frozen base cut at `mixed7` at 150x150, batch 32, on each
//! compiled CPU backend (the course's feature extractor), and the full base at 299x299.
//! Each host backend runs twice: Burn's generic convolutions (`flex`) and the packed
//! channels-last path the trainer uses for a frozen base (`flex+packed`, [`CpuInference`]).
//!
//! ```text
//! cargo bench --bench forward
//! ```
//! Reports images/s; multiply by 1.838 GFLOP per image (mixed7 at 150) or 11.42 (mixed10 at
//! 299) for GFLOP/s. Random weights: speed does not depend on the values.

use burn::tensor::{Device, Distribution, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use inception::{CpuInference, Flavor, InceptionV3Config, LayerName};
use inception_transfer::backend::Backend;

fn bench_forward(c: &mut Criterion, id: &str, layer: LayerName, size: usize, batch: usize, backends: &[Backend]) {
    let mut group = c.benchmark_group("forward");
    group.throughput(Throughput::Elements(batch as u64)).sample_size(10);
    for &backend in backends {
        let device: Device = backend.device().expect("compiled backend");
        let model = InceptionV3Config::new(Flavor::Keras).with_cut(layer).init(&device).expect("model");
        let x = Tensor::<4>::random([batch, 3, size, size], Distribution::Uniform(0.0, 1.0), &device);
        group.bench_with_input(BenchmarkId::new(id, backend), &x, |b, x| {
            b.iter(|| {
                let y = model.forward(x.clone()).expect("forward");
                y.into_data() // wait for the result
            })
        });
        if backbone::cpu::is_host_device(&device) {
            let packed = CpuInference::new(&model).expect("pack");
            group.bench_with_input(BenchmarkId::new(id, format!("{backend}+packed")), &x, |b, x| {
                b.iter(|| packed.forward(x.clone()).expect("forward").into_data())
            });
        }
    }
    group.finish();
}

fn forward(c: &mut Criterion) {
    let cpu: Vec<Backend> = Backend::compiled().into_iter().filter(|b| *b != Backend::Wgpu).collect();
    let only = std::env::var("FORWARD_BACKENDS").ok();
    let chosen: Vec<Backend> = match &only {
        Some(list) => list.split(',').filter_map(|b| b.parse().ok()).filter(|b: &Backend| b.is_compiled()).collect(),
        None => cpu,
    };
    bench_forward(c, "mixed7_150_b32", LayerName::Mixed7, 150, 32, &chosen);
    if std::env::var("FORWARD_FULL").is_ok() {
        bench_forward(c, "mixed10_299_b32", LayerName::Mixed10, 299, 32, &chosen);
    }
}

criterion_group!(benches, forward);
criterion_main!(benches);
