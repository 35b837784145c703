//! An optimizer state tensor that may still be on the host: Burn reads a saved optimizer
//! state onto the default device (the GPU once a GPU backend is compiled in) and moves it
//! to each parameter's device at the next step; a state read back here stays host data until
//! that step, then goes straight to the parameter's device, so resuming a CPU run never
//! round-trips 150 MB through a GPU (or fails there on a 128 MiB binding limit).

use burn::tensor::{Device, Tensor, TensorData};

/// A state tensor on a device, or as read from a checkpoint.
#[derive(Clone)]
pub enum StateTensor<const D: usize> {
    /// On a device.
    Device(Tensor<D>),
    /// Read back, not yet placed.
    Host(TensorData),
}

impl<const D: usize> StateTensor<D> {
    /// The tensor on `device`.
    pub fn on(self, device: &Device) -> Tensor<D> {
        match self {
            StateTensor::Device(tensor) => tensor.to_device(device),
            StateTensor::Host(data) => Tensor::from_data(data, device),
        }
    }

    /// Its values (for saving).
    pub fn data(&self) -> TensorData {
        match self {
            StateTensor::Device(tensor) => tensor.clone().into_data(),
            StateTensor::Host(data) => data.clone(),
        }
    }

    /// Moved to `device`, or left on the host until it is used.
    pub fn to_device(self, device: &Device) -> Self {
        match self {
            StateTensor::Device(tensor) => StateTensor::Device(tensor.to_device(device)),
            host => host,
        }
    }
}
