//! Which way a monitored figure improves (Keras' `mode` argument).

use std::fmt;
use std::str::FromStr;

use crate::error::TransferError;

/// Keras' `mode`: whether the monitored figure should fall (`min`), rise (`max`), or which
/// of the two its name says (`auto`; each callback has Keras' own rule for that).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Decided from the monitored name.
    #[default]
    Auto,
    /// Lower is better (losses).
    Min,
    /// Higher is better (accuracies).
    Max,
}

impl Mode {
    /// Whether higher is better, with `auto` resolved by `rises_by_name` (the callback's
    /// Keras rule for the monitored name).
    pub(crate) fn higher_is_better(self, monitor: &str, rises_by_name: fn(&str) -> bool) -> bool {
        match self {
            Mode::Auto => rises_by_name(monitor),
            Mode::Min => false,
            Mode::Max => true,
        }
    }
}

impl FromStr for Mode {
    type Err = TransferError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Mode::Auto),
            "min" => Ok(Mode::Min),
            "max" => Ok(Mode::Max),
            other => Err(TransferError::Config(format!("unknown mode `{other}`: expected auto, min or max"))),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Auto => "auto",
            Mode::Min => "min",
            Mode::Max => "max",
        })
    }
}

/// Keras' warning when a callback monitors a figure that is not logged (through the `log`
/// crate, as every warning of the library: a program shows them by installing a logger).
pub(crate) fn warn_missing(callback: &str, monitor: &str, logs: &crate::callbacks::Logs) {
    log::warn!(
        "{callback} conditioned on metric `{monitor}` which is not available. Available metrics are: {}",
        logs.key_list()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_read_and_print_as_keras_spells_them() {
        for mode in [Mode::Auto, Mode::Min, Mode::Max] {
            assert_eq!(mode.to_string().parse::<Mode>().unwrap(), mode);
        }
        let err = "maximum".parse::<Mode>().unwrap_err().to_string();
        assert!(err.contains("`maximum`") && err.contains("auto, min or max"), "{err}");
    }
}
