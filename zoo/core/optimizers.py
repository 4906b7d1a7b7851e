"""OptimizerGroup: several optimizers acting as the one `model.optimizer` of `fit`.

A GAN updates its generator and discriminator with two optimizers in one step.
Keras' trainers know one `model.optimizer`; on JAX its `variables` are what the
jitted step receives and returns as state. The group builds each member on the
variables of its own part of the model and lists all members' variables, so every
slot, learning rate and iteration counter is threaded through the step, saved by
`save_weights` (and so by the recipes' checkpoints), and seen by LR callbacks (`.optimizers`).
"""

import keras


class OptimizerGroup(keras.optimizers.Optimizer):
    """`OptimizerGroup({"generator": (optimizer, layer), ...})`.

    Each member optimizer updates `layer.trainable_variables`. Apply gradients
    with the member (`group["generator"].apply(grads, variables)`), never with
    the group itself.
    """

    def __init__(self, members, name="optimizer_group"):
        super().__init__(learning_rate=0.0, name=name)
        self._members = {key: keras.optimizers.get(opt) for key, (opt, _) in members.items()}
        # Functions, not layers: the saving walker must not reach the layers from here.
        self._targets = {key: (lambda layer=layer: layer.trainable_variables)
                         for key, (_, layer) in members.items()}

    def __getitem__(self, key):
        return self._members[key]

    def members(self):
        """{key: optimizer}. (A method, not a property: Keras' saving walks the
        properties of a saveable, and checkpoints must name each optimizer once,
        under `optimizers`.)"""
        return dict(self._members)

    def wrap_members(self, wrapper):
        """Replaces each member `opt` by `wrapper(opt)` (a `LossScaleOptimizer`), before building."""
        self._members = {key: opt if isinstance(opt, wrapper) else wrapper(opt) for key, opt in self._members.items()}

    def owner_of(self, variables):
        """The member whose part holds `variables` (the first of them decides)."""
        first = id(next(iter(variables)))
        for key, opt in self._members.items():
            if any(id(v) == first for v in self._targets[key]()):
                return opt
        return None

    @property
    def optimizers(self):
        return list(self._members.values())

    def build(self, var_list=None):
        for key, opt in self._members.items():
            if not opt.built:
                opt.build(self._targets[key]())
        self.built = True

    @property
    def variables(self):
        return [v for opt in self.optimizers for v in opt.variables]

    @property
    def iterations(self):
        return self.optimizers[0].iterations

    def apply(self, grads, trainable_variables=None):
        raise NotImplementedError(
            "OptimizerGroup.apply: apply gradients with a member optimizer, "
            "e.g. model.optimizer['generator'].apply(grads, variables)"
        )

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        self.apply(grads)

    def finalize_variable_values(self, var_list):
        for key, opt in self._members.items():
            opt.finalize_variable_values(self._targets[key]())

    def save_own_variables(self, store):
        pass  # the members save their own variables, as children of the group

    def load_own_variables(self, store):
        pass

    def _obj_type(self):
        return "Optimizer"

    def get_config(self):
        raise NotImplementedError(
            "OptimizerGroup holds layers; serialize its members instead "
            "(ZooModel.get_compile_config does)."
        )
