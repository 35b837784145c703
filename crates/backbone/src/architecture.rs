//! A network described once: its layers in Keras' `model.layers` order, and everything that
//! follows from that list alone (truncation at a name, layer indices, output shapes, where
//! a network can be split).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{NetworkError, Result};
use crate::layer::{Layer, LayerKind, OutputError};

/// A network: every layer with its kind, parameters and inputs, in the order Keras lists
/// them (`model.layers`), possibly cut at a named layer.
///
/// It is built once per network by a [`crate::NetworkBuilder`] in the Keras source's creation
/// order and re-ordered as Keras' functional `Model` orders its layers (by depth from the
/// output, ties by the order of a depth-first walk from the output), so indices mean what
/// they mean in Keras: `base_model.layers[:100]` are layers `0..100` here.
#[derive(Debug, Clone, PartialEq)]
pub struct Architecture {
    name: String,
    min_input: usize,
    /// The whole network in creation order (inputs are creation indices), to cut from.
    full: Arc<Vec<Layer>>,
    full_output: usize,
    /// The layers held, Keras order; inputs are positions in this list.
    layers: Vec<Layer>,
    /// Output channels (units for vectors) of each held layer.
    channels: Vec<usize>,
}

/// Keras' `model.layers` order of the layers `output` depends on, as creation indices.
fn keras_order(layers: &[Layer], output: usize) -> Vec<usize> {
    fn walk(layers: &[Layer], node: usize, seen: &mut Vec<Option<usize>>, count: &mut usize, post: &mut Vec<usize>) {
        if seen[node].is_some() {
            return;
        }
        seen[node] = Some(*count);
        *count += 1;
        for &input in &layers[node].inputs {
            walk(layers, input, seen, count, post);
        }
        post.push(node);
    }
    let mut seen = vec![None; layers.len()];
    let mut post = Vec::new();
    walk(layers, output, &mut seen, &mut 0, &mut post);
    let mut depth = vec![0usize; layers.len()];
    for &node in post.iter().rev() {
        for &input in &layers[node].inputs {
            depth[input] = depth[input].max(depth[node] + 1);
        }
    }
    let mut held = post;
    held.sort_by_key(|&node| (std::cmp::Reverse(depth[node]), seen[node]));
    held
}

/// Output channels of each layer of `layers` (inputs are indices into `layers`).
fn layer_channels(layers: &[Layer]) -> Vec<usize> {
    let mut channels: Vec<usize> = Vec::with_capacity(layers.len());
    for layer in layers {
        let inputs: Vec<usize> = layer.inputs.iter().map(|&i| channels[i]).collect();
        channels.push(layer.kind.output_channels(&inputs));
    }
    channels
}

impl Architecture {
    /// Orders `layers` (creation order, inputs by creation index) as Keras does for a model
    /// ending at `output`.
    pub(crate) fn from_creation_order(name: String, min_input: usize, layers: Vec<Layer>, output: usize) -> Self {
        let full = Arc::new(layers);
        Self::holding(name, min_input, full, output, output)
    }

    fn holding(name: String, min_input: usize, full: Arc<Vec<Layer>>, full_output: usize, output: usize) -> Self {
        let order = keras_order(&full, output);
        let mut position = vec![usize::MAX; full.len()];
        for (i, &node) in order.iter().enumerate() {
            position[node] = i;
        }
        let layers: Vec<Layer> = order
            .iter()
            .map(|&node| {
                let mut layer = full[node].clone();
                layer.inputs = layer.inputs.iter().map(|&i| position[i]).collect();
                layer
            })
            .collect();
        let channels = layer_channels(&layers);
        Self { name, min_input, full, full_output, layers, channels }
    }

    /// Keras' model name (`inception_v3`, `mobilenetv2_1.00_160`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The layers, in Keras' `model.layers` order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Number of layers (Keras `len(model.layers)`).
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers (never: the input is one).
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The layer at Keras index `index`.
    pub fn layer(&self, index: usize) -> Result<&Layer> {
        self.layers.get(index).ok_or_else(|| NetworkError::LayerIndex {
            index,
            network: self.name.clone(),
            layers: self.layers.len(),
        })
    }

    /// Smallest rows and columns of an input.
    pub fn min_input(&self) -> usize {
        self.min_input
    }

    /// Output channels of the layer at `index` (features for vectors).
    pub fn channels(&self, index: usize) -> usize {
        self.channels[index]
    }

    /// Index of the last layer (the output).
    pub fn output(&self) -> usize {
        self.layers.len() - 1
    }

    /// Whether this is the whole network, not cut.
    pub fn is_whole(&self) -> bool {
        self.full[self.full_output].name == self.layers[self.output()].name
    }

    /// The Keras index of the layer called `name`, or an error listing the valid names.
    pub fn index_of(&self, name: &str) -> Result<usize> {
        if let Some(index) = self.layers.iter().position(|l| l.name == name) {
            return Ok(index);
        }
        if self.full.iter().any(|l| l.name == name) {
            return Err(NetworkError::LayerCutAway {
                layer: name.to_string(),
                cut: self.layers[self.output()].name.clone(),
            });
        }
        Err(NetworkError::UnknownLayer {
            name: name.to_string(),
            network: self.name.clone(),
            valid: self.valid_names(),
        })
    }

    /// The layer names, automatic ones summarised as ranges (`conv2d .. conv2d_93`).
    pub fn valid_names(&self) -> String {
        let mut named = Vec::new();
        let mut auto: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for layer in &self.layers {
            match layer.auto_named && !matches!(layer.kind, LayerKind::Input { .. }) {
                true => auto.entry(layer.kind.auto_name_prefix()).or_default().push(&layer.name),
                false => named.push(layer.name.clone()),
            }
        }
        for names in auto.values() {
            named.push(match names.len() {
                1 => names[0].to_string(),
                n => format!("{} .. {} ({n} layers)", names[0], names[n - 1]),
            });
        }
        named.join(", ")
    }

    /// The network cut at the layer `name`: that layer and every layer it depends on,
    /// ordered as Keras orders `Model(base.input, base.get_layer(name).output).layers`.
    pub fn cut_at(&self, name: &str) -> Result<Architecture> {
        self.index_of(name)?;
        let node = self.full.iter().position(|l| l.name == name).expect("a held layer is in the full network");
        Ok(Self::holding(self.name.clone(), self.min_input, self.full.clone(), self.full_output, node))
    }

    /// The whole network this one was cut from.
    pub fn whole(&self) -> Architecture {
        Self::holding(self.name.clone(), self.min_input, self.full.clone(), self.full_output, self.full_output)
    }

    /// Every layer of the whole network, in creation order (the order of the Keras source).
    pub fn whole_in_creation_order(&self) -> &[Layer] {
        &self.full
    }

    /// The layers the layers `outputs` depend on (themselves included), as a mask by index.
    pub fn ancestors(&self, outputs: &[usize]) -> Vec<bool> {
        let mut needed = vec![false; self.layers.len()];
        for &o in outputs {
            needed[o] = true;
        }
        for i in (0..self.layers.len()).rev() {
            if needed[i] {
                for &input in &self.layers[i].inputs {
                    needed[input] = true;
                }
            }
        }
        needed
    }

    /// Whether every path from the input to the output passes through layer `index`: the
    /// network can be split there, the layers after it needing only its output.
    pub fn is_split_point(&self, index: usize) -> bool {
        self.layers
            .iter()
            .enumerate()
            .skip(index + 1)
            .all(|(_, layer)| layer.inputs.iter().all(|&input| input >= index))
    }

    /// The last split point at or before `index`.
    pub fn split_point_at_or_before(&self, index: usize) -> usize {
        (0..=index.min(self.output())).rev().find(|&i| self.is_split_point(i)).unwrap_or(0)
    }

    /// Checks an input of `[rows, cols]` against the smallest size the network takes.
    pub fn check_input_size(&self, [height, width]: [usize; 2]) -> Result<()> {
        if height < self.min_input || width < self.min_input {
            return Err(NetworkError::InputTooSmall {
                height,
                width,
                network: self.name.clone(),
                minimum: self.min_input,
            });
        }
        Ok(())
    }

    /// Output shape of every layer for an input of `[rows, cols]`: `[rows, cols, channels]`
    /// for feature maps, `[features]` for vectors (Keras' `output_shape` without the batch).
    pub fn output_shapes(&self, input: [usize; 2]) -> Result<Vec<Vec<usize>>> {
        self.check_input_size(input)?;
        let too_small = || NetworkError::InputTooSmall {
            height: input[0],
            width: input[1],
            network: self.name.clone(),
            minimum: self.min_input,
        };
        let mut shapes: Vec<Vec<usize>> = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            let first = layer.inputs.first().map(|&j| shapes[j].clone()).unwrap_or_default();
            let spatial = layer.kind.output_spatial(&first, input).map_err(|error| match error {
                OutputError::TooSmall => too_small(),
                OutputError::Flatten { expected, found } | OutputError::Reshape { expected, found } => {
                    NetworkError::FixedInput {
                        height: input[0],
                        width: input[1],
                        layer: layer.name.clone(),
                        expected,
                        found,
                    }
                }
            })?;
            shapes.push(match spatial {
                Some([rows, cols]) => vec![rows, cols, self.channels[i]],
                None => vec![self.channels[i]],
            });
        }
        Ok(shapes)
    }

    /// Output shape of the layer at `index` for an input of `[rows, cols]`.
    pub fn output_shape(&self, index: usize, input: [usize; 2]) -> Result<Vec<usize>> {
        self.layer(index)?;
        Ok(self.output_shapes(input)?.swap_remove(index))
    }
}
