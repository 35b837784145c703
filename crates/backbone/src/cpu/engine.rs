//! [`CpuInference`]: a frozen copy of a [`Network`] for fast inference on the CPU, run step
//! by step from the network's description.

use std::time::Instant;

use burn::tensor::Tensor;
use rayon::prelude::*;

use super::buffers::Buffers;
use super::conv::ConvAlgorithm;
use super::nhwc::NhwcBatch;
use super::plan::{Packed, Step, pack, plan};
use super::profile::StepProfile;
use super::steps::{Op, copy_into, describe, dropped, forward, forward_into, multiply_adds_per_output, output_size};
use crate::architecture::Architecture;
use crate::error::{NetworkError, Result};
use crate::layer::LayerKind;
use crate::network::Network;

/// A [`Network`]'s weights packed for inference on the CPU: channels-last feature maps,
/// convolutions on a register-tiled direct kernel, as matrix products of the input (short
/// 1x1 sums) or by Winograd's F(4x4, 3x3) (3x3 stride-1 on 64 channels or more), unless
/// another [`ConvAlgorithm`] is asked for, each with its batch norm and activation applied
/// on the tile, depthwise convolutions vectorised over channels, an average pooling read
/// only by a 1x1 convolution computed after it (on its fewer output channels), every
/// branch writing straight into its concatenation, and a batch split among the threads.
///
/// It computes what [`Network::forward_layers`] computes on an inference device (batch
/// norms on their moving statistics, in the same order of operations; with
/// [`ConvAlgorithm::Direct`] the poolings too, in Burn's order), about 5x faster than
/// Burn's generic CPU convolutions on InceptionV3. It is a snapshot: weights changed later
/// (training) are not seen; pack again.
#[derive(Debug, Clone)]
pub struct CpuInference {
    architecture: Architecture,
    end: usize,
    packed: Vec<Option<Packed>>,
    /// The run to `end`, planned once.
    plan: Vec<Step>,
    /// The run to `end` as a training step runs it (dropouts drop), if the network has
    /// dropouts before `end`.
    dropping_plan: Option<Vec<Step>>,
    /// Feature-map memory kept between layers and passes.
    buffers: Buffers,
    /// The layers the packed end depends on: the ones a pass can return.
    held: Vec<bool>,
    /// Whether a 1x1 convolution's average-pooled input is pooled after it instead (not
    /// with [`ConvAlgorithm::Direct`], which keeps Burn's order of operations).
    pools_after: bool,
    /// The layer whose value each layer's is: its own, or for a dropout (the identity at
    /// inference) its input's.
    alias: Vec<usize>,
}

/// Every layer its own value.
fn identity(layers: usize) -> Vec<usize> {
    (0..layers).collect()
}

impl CpuInference {
    /// Packs `network`'s current weights (read from whatever device it lives on), with
    /// Winograd 3x3 convolutions ([`ConvAlgorithm::Winograd`]).
    pub fn new(network: &Network) -> Result<Self> {
        Self::with_algorithm(network, ConvAlgorithm::Winograd)
    }

    /// Packs `network`'s current weights with the given algorithm for 3x3 convolutions.
    pub fn with_algorithm(network: &Network, algorithm: ConvAlgorithm) -> Result<Self> {
        Self::up_to(network, network.architecture().output(), algorithm)
    }

    /// Packs only the layers of `network` up to the layer at `end` (the frozen part of a
    /// partly trainable network).
    pub fn up_to(network: &Network, end: usize, algorithm: ConvAlgorithm) -> Result<Self> {
        let architecture = network.architecture().clone();
        architecture.layer(end)?;
        let needed = architecture.ancestors(&[end]);
        let packed = pack(network, &needed, algorithm)?;
        let pools_after = algorithm != ConvAlgorithm::Direct;
        let buffers = Buffers::default();
        let mut alias: Vec<usize> = Vec::with_capacity(architecture.len());
        for (i, layer) in architecture.layers().iter().enumerate() {
            alias.push(match layer.kind {
                LayerKind::Dropout { .. } => alias[layer.inputs[0]],
                _ => i,
            });
        }
        let has_dropouts =
            architecture.layers().iter().zip(&needed).any(|(l, &n)| n && matches!(l.kind, LayerKind::Dropout { .. }));
        let (plan, dropping_plan) = (Vec::new(), None);
        let held = needed;
        let mut inference = Self { architecture, end, packed, plan, dropping_plan, buffers, held, pools_after, alias };
        inference.plan = inference.plan_for(&[end]);
        if has_dropouts {
            inference.dropping_plan = Some(inference.plan_with(&[end], &identity(inference.architecture.len())));
        }
        Ok(inference)
    }

    /// The network's description.
    pub fn architecture(&self) -> &Architecture {
        &self.architecture
    }

    /// The last layer packed.
    pub fn end(&self) -> usize {
        self.end
    }

    /// The steps that compute the layers `outputs` ([`plan`]).
    fn plan_for(&self, outputs: &[usize]) -> Vec<Step> {
        self.plan_with(outputs, &self.alias)
    }

    /// [`CpuInference::plan_for`] with each layer's value that of the layer `alias` gives it:
    /// dropouts' readers read the dropouts' inputs (inference), or the dropouts themselves
    /// (the identity: a training step's run).
    fn plan_with(&self, outputs: &[usize], alias: &[usize]) -> Vec<Step> {
        plan(&self.architecture, &self.packed, alias, outputs, self.pools_after)
    }

    /// Runs the network on a channels-last batch and returns the outputs of the layers at
    /// `outputs` (each at most [`CpuInference::end`]).
    ///
    /// # Shapes
    /// - input: `[batch, rows, cols, 3]`
    /// - outputs: `[batch, rows', cols', channels]`, vectors as `[batch, 1, 1, features]`
    pub fn forward_nhwc(&self, input: &NhwcBatch, outputs: &[usize]) -> Result<Vec<NhwcBatch>> {
        self.check(input, outputs)?;
        let outputs: Vec<usize> = outputs.iter().map(|&o| self.alias[o]).collect();
        let outputs = outputs.as_slice();
        let planned;
        let plan = match outputs == [self.alias[self.end]] {
            true => &self.plan,
            false => {
                planned = self.plan_for(outputs);
                &planned
            }
        };
        Ok(self.run_split(plan, input, outputs, None))
    }

    /// [`CpuInference::forward_nhwc`] to [`CpuInference::end`] as a training step runs
    /// layers that do not train: Keras' `Dropout` layers drop (in `fit` a frozen layer still
    /// drops: EfficientNet's drop-connect), their draws made from `seed` (the same for a
    /// seed, however the batch is split among threads). The plain forward pass for a network
    /// without dropouts.
    pub fn forward_nhwc_dropping(&self, input: &NhwcBatch, seed: u64) -> Result<NhwcBatch> {
        self.check(input, &[self.end])?;
        let Some(plan) = &self.dropping_plan else {
            return Ok(self.run_split(&self.plan, input, &[self.alias[self.end]], None).remove(0));
        };
        Ok(self.run_split(plan, input, &[self.end], Some(seed)).remove(0))
    }

    /// Whether the packed layers hold dropouts (which drop in a training step's run, see
    /// [`CpuInference::forward_nhwc_dropping`]).
    pub fn has_dropouts(&self) -> bool {
        self.dropping_plan.is_some()
    }

    /// [`CpuInference::forward_nhwc_dropping`] on Burn tensors (see
    /// [`CpuInference::forward_layers`]).
    ///
    /// # Shapes
    /// - input: `[batch, 3, rows, cols]`; output: `[batch, channels, rows', cols']`
    pub fn forward_dropping(&self, input: Tensor<4>, seed: u64) -> Result<Tensor<4>> {
        let device = input.device();
        let features = self.forward_nhwc_dropping(&NhwcBatch::from_nchw(input)?, seed)?;
        Ok(features.into_nchw(&device))
    }

    /// Runs `plan` with the batch split among the threads, each running its own images
    /// through every step (the steps' own parallel loops then mostly stay on their thread,
    /// and no thread waits for the other at the end of each layer: ~10% faster on
    /// InceptionV3 at 150x150, batch 32, on 2 cores, 0-16% over four alternated pairs; no
    /// clear difference at 299x299 or on MobileNetV2). Every image's values are computed as in the
    /// whole batch (no kernel mixes images), so the result is the same to the bit.
    fn run_split(&self, plan: &[Step], input: &NhwcBatch, outputs: &[usize], seed: Option<u64>) -> Vec<NhwcBatch> {
        let threads = rayon::current_num_threads();
        let n = input.shape[0];
        if threads < 2 || n < 2 * threads {
            return self.run(plan, &input.data, input.shape, outputs, seed.map(|s| (s, 0)), None);
        }
        let image = input.data.len() / n;
        let [_, h, w, c] = input.shape;
        let results: Vec<Vec<NhwcBatch>> = (0..threads)
            .into_par_iter()
            .with_max_len(1)
            .map(|t| {
                let (first, last) = (t * n / threads, (t + 1) * n / threads);
                let part = &input.data[first * image..last * image];
                self.run(plan, part, [last - first, h, w, c], outputs, seed.map(|s| (s, first)), None)
            })
            .collect();
        (0..outputs.len())
            .map(|o| {
                let [_, h, w, c] = results[0][o].shape;
                let mut data = Vec::with_capacity(n * h * w * c);
                results.iter().for_each(|part| data.extend_from_slice(&part[o].data));
                NhwcBatch { data, shape: [n, h, w, c] }
            })
            .collect()
    }

    /// Runs the packed layers to [`CpuInference::end`] on a channels-last batch, timing each
    /// step: where a pass spends its time, layer by layer (run a pass first to warm the
    /// caches and the memory it reuses). The batch runs whole, every step's work spread over
    /// the threads (not split among them as [`CpuInference::forward_nhwc`] splits it), so
    /// that each step's time is its own.
    pub fn profile(&self, input: &NhwcBatch) -> Result<Vec<StepProfile>> {
        self.check(input, &[self.end])?;
        let mut profile = Vec::with_capacity(self.plan.len());
        self.run(&self.plan, &input.data, input.shape, &[self.alias[self.end]], None, Some(&mut profile));
        Ok(profile)
    }

    fn check(&self, input: &NhwcBatch, outputs: &[usize]) -> Result<()> {
        for &o in outputs {
            self.architecture.layer(o)?;
            if !self.held[o] {
                return Err(NetworkError::LayerCutAway {
                    layer: self.architecture.layers()[o].name.clone(),
                    cut: self.architecture.layers()[self.end].name.clone(),
                });
            }
        }
        let [_, rows, cols, channels] = input.shape;
        if channels != self.architecture.channels(0) {
            return Err(NetworkError::InputChannels { channels });
        }
        self.architecture.check_input_size([rows, cols])
    }

    /// Runs `plan` on the `shape` batch `input` (channels last), returning `outputs`; a
    /// dropping plan's draws come from `drops`: the seed and the index of the batch's first
    /// image in the whole batch.
    fn run(
        &self,
        plan: &[Step],
        input: &[f32],
        shape: [usize; 4],
        outputs: &[usize],
        drops: Option<(u64, usize)>,
        mut profile: Option<&mut Vec<StepProfile>>,
    ) -> Vec<NhwcBatch> {
        let n = self.architecture.len();
        let mut reads = vec![0usize; n];
        for step in plan {
            step.inputs.iter().for_each(|&j| reads[j] += 1);
        }
        outputs.iter().for_each(|&o| reads[o] += 1);
        let mut values: Vec<Option<NhwcBatch>> = vec![None; n];
        let mut buffers: Vec<Option<NhwcBatch>> = vec![None; n];
        let mut first = self.buffers.take(shape);
        first.data.copy_from_slice(input);
        values[0] = Some(first);
        for step in plan {
            let started = Instant::now();
            let input_shape = step.inputs.first().and_then(|&j| values[j].as_ref()).map(|v| v.shape);
            let value = |j: usize| values[j].as_ref().expect("inputs come first");
            match (&step.op, step.into) {
                (Op::Drop { rate, per_image }, _) => {
                    let (seed, first_image) = drops.expect("a dropping plan runs with a seed");
                    // Each dropout its own stream.
                    let seed = seed ^ (step.layer as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
                    let dropped =
                        dropped(value(step.inputs[0]), (*rate, *per_image), (seed, first_image), &self.buffers);
                    values[step.layer] = Some(dropped);
                }
                (Op::Concat, _) => {
                    let inputs = &step.inputs;
                    let first = inputs.iter().find_map(|&j| values[j].as_ref()).map(|v| v.shape);
                    let mut buffer = buffers[step.layer].take().unwrap_or_else(|| {
                        let [b, h, w, _] = first.expect("a concatenation of nothing written in place");
                        self.buffers.take([b, h, w, self.architecture.channels(step.layer)])
                    });
                    let mut offset = 0;
                    for &j in inputs {
                        let width = self.architecture.channels(j);
                        if let Some(part) = &values[j] {
                            copy_into(part, &mut buffer.as_target().narrow(offset, width));
                        }
                        offset += width;
                    }
                    values[step.layer] = Some(buffer);
                }
                (op, Some((concat, offset))) => {
                    let x = value(step.inputs[0]);
                    let [b, h, w, _] = x.shape;
                    let [oh, ow] = output_size(op, [h, w]);
                    let width = self.architecture.channels(step.layer);
                    let channels = self.architecture.channels(concat);
                    let buffer = buffers[concat].get_or_insert_with(|| self.buffers.take([b, oh, ow, channels]));
                    forward_into(op, x, &mut buffer.as_target().narrow(offset, width), &self.buffers);
                }
                (op, None) => {
                    let inputs: Vec<&NhwcBatch> = step.inputs.iter().map(|&j| value(j)).collect();
                    values[step.layer] = Some(forward(op, &inputs, &self.buffers));
                }
            }
            if let Some(profile) = profile.as_deref_mut() {
                // Its own value, or the concatenation it wrote its channels into.
                let written = values[step.layer].as_ref().or(step.into.and_then(|(c, _)| buffers[c].as_ref()));
                let [b, h, w, _] = written.map(|v| v.shape).unwrap_or_default();
                let output_shape = [b, h, w, self.architecture.channels(step.layer)];
                let outputs: usize = output_shape.iter().product();
                profile.push(StepProfile {
                    layer: self.architecture.layers()[step.layer].name.clone(),
                    operation: describe(&step.op, input_shape.map_or([0, 0], |[_, h, w, _]| [h, w])),
                    input_shape: input_shape.unwrap_or_default(),
                    output_shape,
                    multiply_adds: (outputs * multiply_adds_per_output(&step.op)) as u64,
                    seconds: started.elapsed().as_secs_f64(),
                });
            }
            for &j in &step.inputs {
                reads[j] -= 1;
                if reads[j] == 0
                    && let Some(done) = values[j].take()
                {
                    self.buffers.give(done);
                }
            }
        }
        let mut results = Vec::with_capacity(outputs.len());
        for &o in outputs {
            reads[o] -= 1;
            results.push(match reads[o] {
                0 => values[o].take().expect("computed"),
                _ => values[o].clone().expect("computed"),
            });
        }
        results
    }

    /// [`Network::forward_layers`] on Burn tensors: reads the NCHW batch to the host, runs
    /// [`CpuInference::forward_nhwc`], and returns the outputs as NCHW on the input's device
    /// (permuted views of channels-last data).
    ///
    /// # Shapes
    /// - input: `[batch, 3, rows, cols]`; outputs: `[batch, channels, rows', cols']`
    pub fn forward_layers(&self, input: Tensor<4>, outputs: &[usize]) -> Result<Vec<Tensor<4>>> {
        let [_, channels, rows, cols] = input.dims();
        if channels != self.architecture.channels(0) {
            return Err(NetworkError::InputChannels { channels });
        }
        self.architecture.check_input_size([rows, cols])?;
        let device = input.device();
        let features = self.forward_nhwc(&NhwcBatch::from_nchw(input)?, outputs)?;
        Ok(features.into_iter().map(|f| f.into_nchw(&device)).collect())
    }

    /// Runs the packed layers to [`CpuInference::end`].
    pub fn forward(&self, input: Tensor<4>) -> Result<Tensor<4>> {
        Ok(self.forward_layers(input, &[self.end])?.remove(0))
    }
}
