//! Keras-style `model.summary()`: one row per Keras layer, in Keras' `model.layers` order,
//! with Keras' auto-names and Keras' parameter counting (batch-norm moving statistics are
//! non-trainable parameters).

use std::fmt;

use crate::conv_bn::BasicConv2d;
use crate::error::Result;
use crate::layer_name::{LayerName, check_input_size, grid_sizes};
use crate::model::InceptionV3;

/// One row of a summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// Layer name (`conv2d_5`, `mixed0`).
    pub name: String,
    /// Keras class name (`Conv2D`, `BatchNormalization`).
    pub layer_type: String,
    /// Output shape without the batch axis (NHWC: `[rows, cols, channels]`).
    pub output_shape: Vec<usize>,
    /// Trainable parameters.
    pub trainable: usize,
    /// Non-trainable parameters (frozen weights and moving statistics).
    pub non_trainable: usize,
}

impl SummaryRow {
    /// All parameters of the layer.
    pub fn params(&self) -> usize {
        self.trainable + self.non_trainable
    }
}

/// A Keras-style model summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Model name in the header.
    pub model_name: String,
    /// One row per layer.
    pub rows: Vec<SummaryRow>,
}

impl Summary {
    /// Total parameters.
    pub fn total_params(&self) -> usize {
        self.rows.iter().map(SummaryRow::params).sum()
    }

    /// Trainable parameters.
    pub fn trainable_params(&self) -> usize {
        self.rows.iter().map(|r| r.trainable).sum()
    }

    /// Non-trainable parameters.
    pub fn non_trainable_params(&self) -> usize {
        self.rows.iter().map(|r| r.non_trainable).sum()
    }

    /// The row of a layer by name.
    pub fn row(&self, name: &str) -> Option<&SummaryRow> {
        self.rows.iter().find(|r| r.name == name)
    }
}

/// `21802784` -> `21,802,784`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = |f: &mut fmt::Formatter<'_>, c: char| writeln!(f, "{}", c.to_string().repeat(86));
        writeln!(f, "Model: \"{}\"", self.model_name)?;
        rule(f, '_')?;
        writeln!(f, "{:<50}{:<24}{:>12}", " Layer (type)", "Output Shape", "Param #")?;
        rule(f, '=')?;
        for row in &self.rows {
            let dims: Vec<String> = row.output_shape.iter().map(usize::to_string).collect();
            let shape = format!("(None, {})", dims.join(", "));
            let label = format!(" {} ({})", row.name, row.layer_type);
            writeln!(f, "{label:<50}{shape:<24}{:>12}", thousands(row.params()))?;
        }
        rule(f, '=')?;
        writeln!(f, "Total params: {}", thousands(self.total_params()))?;
        writeln!(f, "Trainable params: {}", thousands(self.trainable_params()))?;
        writeln!(f, "Non-trainable params: {}", thousands(self.non_trainable_params()))?;
        rule(f, '_')
    }
}

/// Keras' `model.layers` order inside each block family, read off Keras 2.15: `cN`, `bN`,
/// `aN` are the conv, batch norm and activation of the block's N-th unit (creation order);
/// `max`/`avg` pools; `inner` the `mixed9_x` concatenation, `concat` the unnamed one, `cat`
/// the block's `mixedN`.
const STEM_ORDER: &str = "c0 b0 a0 c1 b1 a1 c2 b2 a2 max c3 b3 a3 c4 b4 a4 max";
const A_ORDER: &str = "c3 b3 a3 c1 c4 b1 b4 a1 a4 avg c0 c2 c5 c6 b0 b2 b5 b6 a0 a2 a5 a6 cat";
const B_ORDER: &str = "c1 b1 a1 c2 b2 a2 c0 c3 b0 b3 a0 a3 max cat";
const C_ORDER: &str =
    "c4 b4 a4 c5 b5 a5 c1 c6 b1 b6 a1 a6 c2 c7 b2 b7 a2 a7 avg c0 c3 c8 c9 b0 b3 b8 b9 a0 a3 a8 a9 cat";
const D_ORDER: &str = "c2 b2 a2 c3 b3 a3 c0 c4 b0 b4 a0 a4 c1 c5 b1 b5 a1 a5 max cat";
const E_ORDER: &str =
    "c4 b4 a4 c1 c5 b1 b5 a1 a5 c2 c3 c6 c7 avg c0 b2 b3 b6 b7 c8 b0 a2 a3 a6 a7 b8 a0 inner concat a8 cat";

/// Keras auto-name: `conv2d` for the first, `conv2d_N` after.
fn auto_name(prefix: &str, counter: usize) -> String {
    match counter {
        0 => prefix.to_string(),
        n => format!("{prefix}_{n}"),
    }
}

/// Builds the rows of one block from its order pattern.
struct BlockRows<'a> {
    /// Units held, by creation index within the block, with their global Keras index.
    units: Vec<Option<(usize, &'a BasicConv2d)>>,
    /// Spatial size of the block input.
    grid_in: [usize; 2],
    /// Channels of the block input.
    channels_in: usize,
    /// Block output name and spatial size.
    name: &'a str,
    grid_out: [usize; 2],
    /// Counters of pool and concatenate names at this block.
    pool_counter: usize,
    concat_counter: usize,
    inner_name: &'a str,
    trainable: bool,
}

fn unit_rows(rows: &mut Vec<SummaryRow>, kind: char, index: usize, unit: &BasicConv2d, grid: [usize; 2], trainable: bool) {
    let [out, cin, kh, kw] = unit.conv.weight.dims();
    let shape = vec![grid[0], grid[1], out];
    let split = |params: usize, fixed: usize| match trainable {
        true => (params, fixed),
        false => (0, params + fixed),
    };
    let (name, layer_type, (trainable, non_trainable)) = match kind {
        'c' => (auto_name("conv2d", index), "Conv2D", split(kh * kw * cin * out, 0)),
        'b' => {
            let learned = if unit.bn.gamma.is_some() { 2 * out } else { out };
            (auto_name("batch_normalization", index), "BatchNormalization", split(learned, 2 * out))
        }
        _ => (auto_name("activation", index), "Activation", (0, 0)),
    };
    rows.push(SummaryRow { name, layer_type: layer_type.into(), output_shape: shape, trainable, non_trainable });
}

/// The spatial output of a unit whose input is `grid`.
fn unit_grid(unit: &BasicConv2d, grid: [usize; 2]) -> [usize; 2] {
    let [_, _, kh, kw] = unit.conv.weight.dims();
    let stride = unit.conv.stride;
    let axis = |n: usize, k: usize, s: usize, pad: usize| (n + 2 * pad - k) / s + 1;
    [axis(grid[0], kh, stride[0], unit.padding[0]), axis(grid[1], kw, stride[1], unit.padding[1])]
}

impl BlockRows<'_> {
    fn push(&self, rows: &mut Vec<SummaryRow>, order: &str, out_channels: usize) {
        for token in order.split_whitespace() {
            let (kind, index) = token.split_at(1);
            match (kind, index.parse::<usize>()) {
                (k, Ok(i)) => {
                    let Some((global, unit)) = self.units[i] else { continue };
                    let grid = unit_grid(unit, self.grid_in);
                    unit_rows(rows, k.chars().next().unwrap_or('a'), global, unit, grid, self.trainable);
                }
                _ => {
                    let full = self.units.iter().all(Option::is_some);
                    let (name, layer_type, grid, channels) = match token {
                        "max" => (auto_name("max_pooling2d", self.pool_counter), "MaxPooling2D", self.grid_out, self.channels_in),
                        "avg" if full => (auto_name("average_pooling2d", self.pool_counter), "AveragePooling2D", self.grid_in, self.channels_in),
                        "inner" => (self.inner_name.to_string(), "Concatenate", self.grid_in, 768),
                        "concat" if full => (auto_name("concatenate", self.concat_counter), "Concatenate", self.grid_in, 768),
                        "cat" if full => (self.name.to_string(), "Concatenate", self.grid_out, out_channels),
                        _ => continue,
                    };
                    rows.push(SummaryRow {
                        name,
                        layer_type: layer_type.into(),
                        output_shape: vec![grid[0], grid[1], channels],
                        trainable: 0,
                        non_trainable: 0,
                    });
                }
            }
        }
    }
}

impl InceptionV3 {
    /// Keras' `model.summary()` for an input of `[rows, cols]` pixels, every layer trainable
    /// (Keras' default): TF2 fresh-session names, `model.layers` order.
    pub fn summary(&self, input: [usize; 2]) -> Result<Summary> {
        self.summary_with_frozen(input, &|_| false)
    }

    /// Like [`InceptionV3::summary`], with the blocks for which `frozen(block)` is true
    /// (`"stem"`, `"mixed0"`, ..., `"mixed10"`) counted as non-trainable.
    pub fn summary_with_frozen(&self, input: [usize; 2], frozen: &dyn Fn(&str) -> bool) -> Result<Summary> {
        check_input_size(input[0], input[1])?;
        let mut rows = vec![SummaryRow {
            name: "input_1".into(),
            layer_type: "InputLayer".into(),
            output_shape: vec![input[0], input[1], 3],
            trainable: 0,
            non_trainable: 0,
        }];
        let held = self.conv_units();
        let block_units = |block: &str, count: usize| -> Vec<Option<(usize, &BasicConv2d)>> {
            let mut units = vec![None; count];
            let first = crate::units::all_unit_places().iter().position(|p| p.block == block).unwrap_or(0);
            for h in held.iter().filter(|h| h.place.block == block) {
                units[h.place.keras_index - first] = Some((h.place.keras_index, h.unit));
            }
            units
        };
        // The stem is sequential: walk it unit by unit.
        let stem = block_units("stem", 5);
        let mut grid = input;
        let mut max_pools = 0;
        let stem_trainable = !frozen("stem");
        for token in STEM_ORDER.split_whitespace() {
            if token == "max" {
                grid = [(grid[0] - 3) / 2 + 1, (grid[1] - 3) / 2 + 1];
                let channels = rows.last().map_or(3, |r| r.output_shape[2]);
                rows.push(SummaryRow {
                    name: auto_name("max_pooling2d", max_pools),
                    layer_type: "MaxPooling2D".into(),
                    output_shape: vec![grid[0], grid[1], channels],
                    trainable: 0,
                    non_trainable: 0,
                });
                max_pools += 1;
                continue;
            }
            let (kind, index) = token.split_at(1);
            let Ok(index) = index.parse::<usize>() else { continue };
            let Some((global, unit)) = stem[index] else { continue };
            if kind == "c" {
                grid = unit_grid(unit, grid);
            }
            unit_rows(&mut rows, kind.chars().next().unwrap_or('a'), global, unit, grid, stem_trainable);
        }
        let [g35, g17, g8] = grid_sizes(input);
        let mut avg_pools = 0;
        let mut concats = 0;
        // (block end, order pattern, units, field, grid in, grid out, channels in)
        type Family<'a> = (LayerName, &'a str, usize, &'a str, [usize; 2], [usize; 2], usize);
        let families: [Family; 11] = [
            (LayerName::Mixed0, A_ORDER, 7, "mixed0", g35, g35, 192),
            (LayerName::Mixed1, A_ORDER, 7, "mixed1", g35, g35, 256),
            (LayerName::Mixed2, A_ORDER, 7, "mixed2", g35, g35, 288),
            (LayerName::Mixed3, B_ORDER, 4, "mixed3", g35, g17, 288),
            (LayerName::Mixed4, C_ORDER, 10, "mixed4", g17, g17, 768),
            (LayerName::Mixed5, C_ORDER, 10, "mixed5", g17, g17, 768),
            (LayerName::Mixed6, C_ORDER, 10, "mixed6", g17, g17, 768),
            (LayerName::Mixed7, C_ORDER, 10, "mixed7", g17, g17, 768),
            (LayerName::Mixed8, D_ORDER, 6, "mixed8", g17, g8, 768),
            (LayerName::Mixed9, E_ORDER, 9, "mixed9", g8, g8, 1280),
            (LayerName::Mixed10, E_ORDER, 9, "mixed10", g8, g8, 2048),
        ];
        for (layer, order, count, block, grid_in, grid_out, channels_in) in families {
            let units = block_units(block, count);
            if units.iter().all(Option::is_none) {
                break;
            }
            let uses_max = order.contains("max");
            let block_rows = BlockRows {
                units,
                grid_in,
                channels_in,
                name: block,
                grid_out,
                pool_counter: if uses_max { max_pools } else { avg_pools },
                concat_counter: concats,
                inner_name: if layer == LayerName::Mixed9 { "mixed9_0" } else { "mixed9_1" },
                trainable: !frozen(block),
            };
            block_rows.push(&mut rows, order, layer.channels());
            match uses_max {
                true => max_pools += 1,
                false => avg_pools += 1,
            }
            if order.contains("concat") {
                concats += 1;
            }
        }
        if let Some(top) = &self.top {
            let [input_features, classes] = top.fc.weight.dims();
            rows.push(SummaryRow {
                name: "avg_pool".into(),
                layer_type: "GlobalAveragePooling2D".into(),
                output_shape: vec![input_features],
                trainable: 0,
                non_trainable: 0,
            });
            rows.push(SummaryRow {
                name: "predictions".into(),
                layer_type: "Dense".into(),
                output_shape: vec![classes],
                trainable: input_features * classes + classes,
                non_trainable: 0,
            });
        }
        Ok(Summary { model_name: "inception_v3".into(), rows })
    }
}
