//! Writing a network down the way the Keras source builds it: each call creates one layer on
//! the outputs of earlier ones, named as Keras names it.

use std::collections::HashMap;

use crate::architecture::Architecture;
use crate::layer::{Layer, LayerKind};

/// A layer's output while a network is being written down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node(usize);

/// Builds an [`Architecture`] layer by layer, in the order the Keras source creates the
/// layers, so automatic names (`conv2d_5`) come out as a fresh Keras session gives them.
#[derive(Debug)]
pub struct NetworkBuilder {
    name: String,
    min_input: usize,
    layers: Vec<Layer>,
    channels: Vec<usize>,
    counters: HashMap<&'static str, usize>,
}

impl NetworkBuilder {
    /// Starts a network called `name` (Keras' model name) with an image input of `channels`
    /// (named `input_1`, as Keras names the first input of a session); `min_input` is the
    /// smallest rows and columns it accepts (Keras' `min_size`).
    pub fn new(name: &str, channels: usize, min_input: usize) -> (Self, Node) {
        let mut builder = Self {
            name: name.to_string(),
            min_input,
            layers: Vec::new(),
            channels: Vec::new(),
            counters: HashMap::new(),
        };
        let input = builder.push("input_1".into(), true, LayerKind::Input { channels }, &[]);
        (builder, input)
    }

    /// Adds a layer with Keras' automatic name for its class.
    pub fn layer(&mut self, kind: LayerKind, inputs: &[Node]) -> Node {
        let prefix = kind.auto_name_prefix();
        let counter = self.counters.entry(prefix).or_insert(0);
        let name = match *counter {
            0 => prefix.to_string(),
            n => format!("{prefix}_{n}"),
        };
        *counter += 1;
        self.push(name, true, kind, inputs)
    }

    /// Adds a layer with an explicit name.
    pub fn named(&mut self, name: &str, kind: LayerKind, inputs: &[Node]) -> Node {
        self.push(name.to_string(), false, kind, inputs)
    }

    /// Records where `node`'s weights live in torchvision's state dict (`Mixed_5b.branch1x1.conv`).
    pub fn torch_path(&mut self, node: Node, path: impl Into<String>) {
        self.layers[node.0].torch_path = Some(path.into());
    }

    /// Output channels of `node` (Keras' `backend.int_shape(x)[-1]`).
    pub fn channels(&self, node: Node) -> usize {
        self.channels[node.0]
    }

    /// The Keras name of `node`.
    pub fn name_of(&self, node: Node) -> &str {
        &self.layers[node.0].name
    }

    /// The finished network, ending at `output` (Keras `Model(inputs, output)`).
    pub fn finish(self, output: Node) -> Architecture {
        Architecture::from_creation_order(self.name, self.min_input, self.layers, output.0)
    }

    fn push(&mut self, name: String, auto_named: bool, kind: LayerKind, inputs: &[Node]) -> Node {
        let in_channels: Vec<usize> = inputs.iter().map(|n| self.channels[n.0]).collect();
        let channels = kind.output_channels(&in_channels);
        self.channels.push(channels);
        self.layers.push(Layer {
            name,
            kind,
            inputs: inputs.iter().map(|n| n.0).collect(),
            auto_named,
            torch_path: None,
        });
        Node(self.layers.len() - 1)
    }
}
