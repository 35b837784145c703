//! Parameter identities by module path. The optimizer keys its state (Keras' RMSprop
//! velocities) by [`ParamId`]; safetensors stores values only, so a checkpoint records the
//! identities beside the weights and loading gives them back, or a resumed run would
//! silently start its velocities from zero.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

/// The identity of every float parameter of `module`, by dotted module path.
pub(crate) fn param_ids<M: Module>(module: &M) -> BTreeMap<String, u64> {
    let mut collect = Collect { path: Vec::new(), ids: BTreeMap::new() };
    module.visit(&mut collect);
    collect.ids
}

/// `module` with the identities of `ids` given back to the parameters at those paths.
pub(crate) fn restore_param_ids<M: Module>(module: M, ids: &BTreeMap<String, u64>) -> M {
    module.map(&mut Restore { path: Vec::new(), ids })
}

struct Collect {
    path: Vec<String>,
    ids: BTreeMap<String, u64>,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.ids.insert(self.path.join("."), param.id.val());
    }
}

struct Restore<'a> {
    path: Vec<String>,
    ids: &'a BTreeMap<String, u64>,
}

impl ModuleMapper for Restore<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if let Some(id) = self.ids.get(&self.path.join(".")) {
            param.id = ParamId::from(*id);
        }
        param
    }
}
