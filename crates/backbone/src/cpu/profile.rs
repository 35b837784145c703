//! Where a packed pass spends its time, step by step ([`super::CpuInference::profile`]).

/// One step of a packed pass, timed: the layer whose output it gives (after the batch norm
/// and activation fused into it), what it computes and on what.
#[derive(Debug, Clone, PartialEq)]
pub struct StepProfile {
    /// The layer whose output the step gives.
    pub layer: String,
    /// What it computes, e.g. `"conv 3x3/1 64->96 F4x4"` (a Winograd tile when it uses
    /// one), `"conv 1x7/1 160->160"`, `"max pool 3x3/2"`, `"concatenate"`.
    pub operation: String,
    /// The first input's `[batch, rows, cols, channels]`.
    pub input_shape: [usize; 4],
    /// The output's `[batch, rows, cols, channels]`.
    pub output_shape: [usize; 4],
    /// Multiply-adds of the step computed as a direct convolution (its own kernel over the
    /// whole output; 0 for a step that is not a convolution): what a rate is measured
    /// against, whatever algorithm ran it.
    pub multiply_adds: u64,
    /// Wall time of the step, in seconds (its work is spread over every thread).
    pub seconds: f64,
}
