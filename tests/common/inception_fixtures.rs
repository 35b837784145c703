//! The InceptionV3 fixtures (`crates/inception/tests/fixtures/inception`, made by the scripts
//! there) and the deterministic weights they were computed with, for the tests of every crate
//! that runs InceptionV3: included with `#[path]` beside `common` (`tests/common/mod.rs`).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use backbone::LayerKind;
use backbone::npy::{NpyArray, read_npy};
use burn::tensor::{Device, Tensor};
use inception::weights::{KerasLayer, KerasWeight, KerasWeightFile};
use inception::{Flavor, InceptionV3, InceptionV3Config};

use crate::common::{detrand, workspace_root};

/// Path of a committed fixture of the inception tests.
pub fn fixture(name: &str) -> PathBuf {
    workspace_root().join("crates/inception/tests/fixtures/inception").join(name)
}

/// A committed `.npy` fixture.
pub fn npy(name: &str) -> NpyArray {
    read_npy(&fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// The conv units of the full network in Keras creation order (the `N` of `conv2d_N`):
/// torchvision module path and Keras kernel shape `(rows, cols, in, out)`.
pub fn conv_units() -> Vec<(String, [usize; 4])> {
    let full = InceptionV3Config::new(Flavor::Keras).init(&Device::flex()).expect("full model");
    let architecture = full.architecture();
    let mut units: Vec<(usize, String, [usize; 4])> = architecture
        .layers()
        .iter()
        .filter_map(|layer| {
            let LayerKind::Conv2D { filters, kernel, .. } = layer.kind else { return None };
            let counter = layer.name.strip_prefix("conv2d").map(|n| n.trim_start_matches('_').parse().unwrap_or(0))?;
            let input = architecture.channels(layer.inputs[0]);
            let torch = layer.torch_path.as_ref()?.trim_end_matches(".conv").to_string();
            Some((counter, torch, [kernel[0], kernel[1], input, filters]))
        })
        .collect();
    units.sort_by_key(|(counter, ..)| *counter);
    units.into_iter().map(|(_, torch, shape)| (torch, shape)).collect()
}

/// Keras kernel shapes `(rows, cols, in, out)` of the full network's units, creation order.
pub fn unit_shapes() -> Vec<[usize; 4]> {
    conv_units().into_iter().map(|(_, shape)| shape).collect()
}

/// The committed batch-norm arrays, split per unit: (beta, moving_mean, moving_variance).
pub fn bn_arrays() -> Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> {
    let (beta, mean, var) =
        (npy("bn_beta.npy").values, npy("bn_moving_mean.npy").values, npy("bn_moving_variance.npy").values);
    let mut offset = 0;
    unit_shapes()
        .into_iter()
        .map(|[_, _, _, c]| {
            let range = offset..offset + c;
            offset += c;
            (beta[range.clone()].to_vec(), mean[range.clone()].to_vec(), var[range].to_vec())
        })
        .collect()
}

fn auto_name(prefix: &str, n: usize) -> String {
    if n == 0 { prefix.to_string() } else { format!("{prefix}_{n}") }
}

/// The deterministic fixture weights as a Keras weight file of the full base, TF2 naming.
pub fn keras_weight_file() -> KerasWeightFile {
    let mut layers = Vec::new();
    for (unit, (shape, (beta, mean, var))) in unit_shapes().into_iter().zip(bn_arrays()).enumerate() {
        let c = shape[3];
        layers.push(KerasLayer {
            name: auto_name("conv2d", unit),
            weights: vec![KerasWeight {
                name: "kernel".into(),
                shape: shape.to_vec(),
                values: detrand::conv_kernel(unit, shape),
            }],
        });
        let w = |name: &str, values: Vec<f32>| KerasWeight { name: name.into(), shape: vec![c], values };
        layers.push(KerasLayer {
            name: auto_name("batch_normalization", unit),
            weights: vec![w("beta", beta), w("moving_mean", mean), w("moving_variance", var)],
        });
    }
    KerasWeightFile { layers }
}

/// The deterministic fixture weights as a torchvision state dict (key -> shape, values).
pub fn torchvision_state() -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let mut state = BTreeMap::new();
    for (unit, ((p, shape), (beta, mean, var))) in conv_units().into_iter().zip(bn_arrays()).enumerate() {
        let [r, c, i, o] = shape;
        let hwio = detrand::conv_kernel(unit, shape);
        let mut oihw = vec![0.0; hwio.len()];
        for (idx, v) in hwio.iter().enumerate() {
            let (oo, rest) = (idx % o, idx / o);
            let (ii, rest) = (rest % i, rest / i);
            let (cc, rr) = (rest % c, rest / c);
            oihw[((oo * i + ii) * r + rr) * c + cc] = *v;
        }
        state.insert(format!("{p}.conv.weight"), (vec![o, i, r, c], oihw));
        state.insert(format!("{p}.bn.weight"), (vec![o], detrand::gamma(unit, o)));
        state.insert(format!("{p}.bn.bias"), (vec![o], beta));
        state.insert(format!("{p}.bn.running_mean"), (vec![o], mean));
        state.insert(format!("{p}.bn.running_var"), (vec![o], var));
    }
    state
}

/// Writes float32 tensors as a safetensors file (what `safetensors.torch.save_file` writes).
pub fn write_safetensors(path: &Path, tensors: &BTreeMap<String, (Vec<usize>, Vec<f32>)>) {
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for (key, (shape, values)) in tensors {
        let end = offset + values.len() * 4;
        header.insert(key.clone(), serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, end]}));
        offset = end;
    }
    let mut header = serde_json::to_vec(&header).expect("json");
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&header);
    for (_, values) in tensors.values() {
        bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    }
    std::fs::write(path, bytes).expect("write safetensors");
}

/// A model of `config` with the deterministic Keras-flavour fixture weights.
pub fn keras_model(config: &InceptionV3Config, device: &Device) -> InceptionV3 {
    let model = config.init(device).expect("model");
    model.with_keras_weights(&keras_weight_file(), Path::new("<fixture>")).expect("load")
}

/// The output of the named InceptionV3 layer through a packed engine (`layer` may be cut away:
/// an error naming it).
pub fn packed_to(
    packed: &backbone::CpuInference,
    input: Tensor<4>,
    layer: inception::LayerName,
) -> backbone::Result<Tensor<4>> {
    let index = packed.architecture().index_of(layer.keras_name())?;
    Ok(packed.forward_layers(input, &[index])?.remove(0))
}
