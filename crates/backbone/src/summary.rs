//! Keras-style `model.summary()`: one row per Keras layer, in Keras' `model.layers` order,
//! with Keras' parameter counting (batch-norm moving statistics are non-trainable
//! parameters), derived from the network's description.

use std::fmt;

use crate::architecture::Architecture;
use crate::error::Result;

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
    /// Keras' layout; the first two columns widen to their longest entry (Keras truncates
    /// instead) so a long name never runs into the next column.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<(String, String, String)> = self
            .rows
            .iter()
            .map(|row| {
                let dims: Vec<String> = row.output_shape.iter().map(usize::to_string).collect();
                (
                    format!(" {} ({})", row.name, row.layer_type),
                    format!("(None, {})", dims.join(", ")),
                    thousands(row.params()),
                )
            })
            .collect();
        let label_width = rows.iter().map(|r| r.0.chars().count() + 1).max().unwrap_or(0).max(50);
        let shape_width = rows.iter().map(|r| r.1.chars().count() + 1).max().unwrap_or(0).max(24);
        let width = label_width + shape_width + 12;
        let rule = |f: &mut fmt::Formatter<'_>, c: char| writeln!(f, "{}", c.to_string().repeat(width));
        writeln!(f, "Model: \"{}\"", self.model_name)?;
        rule(f, '_')?;
        writeln!(f, "{:<label_width$}{:<shape_width$}{:>12}", " Layer (type)", "Output Shape", "Param #")?;
        rule(f, '=')?;
        for (label, shape, params) in &rows {
            writeln!(f, "{label:<label_width$}{shape:<shape_width$}{params:>12}")?;
        }
        rule(f, '=')?;
        writeln!(f, "Total params: {}", thousands(self.total_params()))?;
        writeln!(f, "Trainable params: {}", thousands(self.trainable_params()))?;
        writeln!(f, "Non-trainable params: {}", thousands(self.non_trainable_params()))?;
        rule(f, '_')
    }
}

impl Summary {
    /// Keras' `model.summary()` of `architecture` for an input of `[rows, cols]` pixels;
    /// layer `i` counts as trainable when `trainable(i)` (Keras `layer.trainable`).
    pub fn of(architecture: &Architecture, input: [usize; 2], trainable: &dyn Fn(usize) -> bool) -> Result<Summary> {
        let shapes = architecture.output_shapes(input)?;
        let rows = architecture
            .layers()
            .iter()
            .enumerate()
            .map(|(i, layer)| {
                let in_channels = layer.inputs.first().map_or(0, |&j| architecture.channels(j));
                let (learned, fixed) = layer.kind.parameter_counts(in_channels, architecture.channels(i));
                let (trainable, non_trainable) = match trainable(i) {
                    true => (learned, fixed),
                    false => (0, learned + fixed),
                };
                SummaryRow {
                    name: layer.name.clone(),
                    layer_type: layer.kind.class_name().into(),
                    output_shape: shapes[i].clone(),
                    trainable,
                    non_trainable,
                }
            })
            .collect();
        Ok(Summary { model_name: architecture.name().to_string(), rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_widen_so_long_names_never_run_into_the_shape() {
        let row = |name: &str, layer_type: &str| SummaryRow {
            name: name.into(),
            layer_type: layer_type.into(),
            output_shape: vec![1280],
            trainable: 0,
            non_trainable: 0,
        };
        let summary = Summary {
            model_name: "model".into(),
            rows: vec![row("global_average_pooling2d", "GlobalAveragePooling2D"), row("dense", "Dense")],
        };
        let text = summary.to_string();
        let starts: Vec<usize> = text.lines().filter_map(|line| line.find("(None, 1280)")).collect();
        assert_eq!(starts.len(), 2, "{text}");
        assert_eq!(starts[0], starts[1], "{text}");
        assert!(text.contains("GlobalAveragePooling2D) "), "a space before the shape: {text}");
    }
}
