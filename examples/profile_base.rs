//! Where a frozen base's time goes on the CPU: runs the packed engine ([`CpuInference`]) on a
//! random batch and prints its wall time per kind of layer (operation and grid), heaviest
//! first, with each kind's share of the pass and its rate in direct-convolution GFLOP/s.
//!
//! ```text
//! cargo run --release --example profile_base                       # InceptionV3 to mixed7 at 150, batch 32
//! cargo run --release --example profile_base -- --layer mixed10 --size 299
//! cargo run --release --example profile_base -- --model mobilenet_v2 --size 160
//! cargo run --release --example profile_base -- --model resnet50 --size 224
//! ```
//! Random weights: the time does not depend on the values. The passes are timed after one
//! untimed pass; each kind's time is its median over the passes. The first line gives
//! images/s of the median and the best of as many calls of [`CpuInference::forward`] on a
//! Burn tensor (the path of the trainer and of `benches/forward.rs`: the batch split among
//! the threads, the tensor read in and out), as `benches/reference/forward_tf.py` prints
//! TensorFlow's; the per-layer passes run the batch whole, each layer's work spread over
//! the threads, so that each layer's time is its own (their sum is a little longer).

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Result, bail};
use applications::{BackboneConfig, REGISTRY};
use backbone::cpu::{ConvAlgorithm, NhwcBatch, StepProfile};
use backbone::{CpuInference, Network};
use burn::tensor::Device;
use clap::Parser;
use rand::{Rng, SeedableRng, rngs::StdRng};

#[derive(Parser)]
#[command(allow_negative_numbers = true, about = "Time per layer kind of a frozen base's packed CPU pass")]
struct Args {
    /// Any registered backbone: inception_v3, mobilenet_v2, resnet50, vgg16, xception.
    #[arg(long, default_value = "inception_v3")]
    model: String,
    /// The Keras layer to cut at (default: the backbone's transfer-learning cut: mixed7,
    /// out_relu, conv5_block3_out, block5_pool, block14_sepconv2_act).
    #[arg(long)]
    layer: Option<String>,
    /// Input rows and columns.
    #[arg(long, default_value_t = 150)]
    size: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Timed passes.
    #[arg(long, default_value_t = 10)]
    passes: usize,
    /// 3x3 convolutions: winograd (the default), winograd2x2, winograd4x4 or direct.
    #[arg(long, default_value = "winograd")]
    algorithm: String,
}

fn main() -> Result<()> {
    inception_transfer::prelude::keep_freed_memory();
    let args = Args::parse();
    let algorithm = match args.algorithm.as_str() {
        "winograd" => ConvAlgorithm::Winograd,
        "winograd2x2" => ConvAlgorithm::Winograd2x2,
        "winograd4x4" => ConvAlgorithm::Winograd4x4,
        "direct" => ConvAlgorithm::Direct,
        other => bail!("unknown --algorithm {other}: winograd, winograd2x2, winograd4x4 or direct"),
    };
    let device = Device::flex();
    let backbone = REGISTRY.get(&args.model)?;
    let layer = args.layer.clone().unwrap_or_else(|| backbone.transfer_cut().to_string());
    let config = BackboneConfig::of(backbone).with_input_size([args.size, args.size]).with_cut(Some(layer));
    let network: Network = config.init(&device)?;
    let packed = CpuInference::with_algorithm(&network, algorithm)?;
    let mut rng = StdRng::seed_from_u64(0);
    let shape = [args.batch, args.size, args.size, 3];
    let values = (0..shape.iter().product()).map(|_| rng.random::<f32>()).collect();
    let input = NhwcBatch { data: values, shape };
    let median_and_best = |mut times: Vec<f64>| {
        times.sort_by(f64::total_cmp);
        (times[times.len() / 2], times[0])
    };
    let tensor = input.clone().into_nchw(&device);
    packed.forward(tensor.clone())?.into_data();
    let forward_times = (0..args.passes.max(1))
        .map(|_| {
            let started = Instant::now();
            packed.forward(tensor.clone()).map(|y| y.into_data()).map(|_| started.elapsed().as_secs_f64())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (median_forward, best_forward) = median_and_best(forward_times);
    packed.profile(&input)?;
    let passes: Vec<Vec<StepProfile>> =
        (0..args.passes.max(1)).map(|_| packed.profile(&input)).collect::<Result<_, _>>()?;

    // Per kind: (median seconds per pass, steps per pass, direct GFLOP per pass).
    let mut kinds: BTreeMap<String, (Vec<f64>, usize, f64)> = BTreeMap::new();
    for (pass, steps) in passes.iter().enumerate() {
        for step in steps {
            let [_, h, w, _] = step.output_shape;
            let kind = kinds.entry(format!("{} @{h}x{w}", step.operation)).or_default();
            match kind.0.len() == pass {
                true => kind.0.push(step.seconds),
                false => *kind.0.last_mut().expect("pushed") += step.seconds,
            }
            if pass == 0 {
                kind.1 += 1;
                kind.2 += 2.0 * step.multiply_adds as f64 / 1e9;
            }
        }
    }
    let mut rows: Vec<(String, f64, usize, f64)> =
        kinds.into_iter().map(|(kind, (times, steps, gflop))| (kind, median_and_best(times).0, steps, gflop)).collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total: f64 = rows.iter().map(|r| r.1).sum();
    let gflop: f64 = rows.iter().map(|r| r.3).sum();
    println!(
        "{} to {} at {}x{}, batch {}, {:?}: {:.1} img/s (best {:.1}), {:.2} direct GFLOP/img",
        args.model,
        network.architecture().layers()[network.architecture().output()].name,
        args.size,
        args.size,
        args.batch,
        algorithm,
        args.batch as f64 / median_forward,
        args.batch as f64 / best_forward,
        gflop / args.batch as f64
    );
    println!("per kind: median over the passes; their sum {:.1} ms", total * 1e3);
    println!("{:<58} {:>5} {:>9} {:>6} {:>9}", "operation @ output grid", "steps", "ms", "share", "GFLOP/s");
    for (kind, seconds, steps, gflop) in rows {
        let rate = if gflop > 0.0 { format!("{:.0}", gflop / seconds) } else { String::new() };
        println!("{kind:<58} {steps:>5} {:>9.2} {:>5.1}% {rate:>9}", seconds * 1e3, 100.0 * seconds / total);
    }
    Ok(())
}
