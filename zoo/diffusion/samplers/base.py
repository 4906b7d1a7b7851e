"""What every sampler shares: its options, its per-step tables, and the x_0 prediction.

A sampler walks `steps` timesteps of a `NoiseSchedule`, noisiest first. The diffusion
model's compiled loop calls, at step k,

    state = sampler.step(state, eps, table_k, noise, settings)

with `state[0]` the current x (a sampler may carry more, e.g. the previous x_0
prediction), `eps` the network's (guided) noise prediction for x at `table_k["t"]`,
`table_k` the k-th row of `sampler.tables(...)` (float32 scalars) and `noise()` a draw
of standard-normal noise keyed by (seed, k). Everything in `settings` that changes the
traced computation is named by `static(settings)`.
"""

from keras import ops

from zoo.tasks import Option

CLIP_MODES = ("clip", "dynamic", "none")


def clip_option(default="clip"):
    return Option("clip_x0", "choice", default, choices=CLIP_MODES,
                  label={"clip": "", "none": "no x̂0 clip", "dynamic": "x̂0 dyn. thr."},
                  help="the x_0 prediction: clip to [-1, 1], dynamic thresholding (Saharia et al. 2022: "
                       "per image, the 99.5th percentile of |x_0| if above 1), or none")


def predict_x0(x, eps, abar, clip):
    """x_0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar), clipped as `clip` says."""
    x0 = (x - ops.sqrt(1.0 - abar) * eps) / ops.sqrt(abar)
    if clip == "clip":
        return ops.clip(x0, -1.0, 1.0)
    if clip == "dynamic":
        flat = ops.reshape(ops.abs(x0), (ops.shape(x0)[0], -1))
        s = ops.maximum(ops.quantile(flat, 0.995, axis=1), 1.0)[:, None, None, None]
        return ops.clip(x0, -s, s) / s
    return x0


class Sampler:
    name = None
    default_steps = 50

    def declare(self, model):
        """This sampler's options, with their defaults (a preset may set others: the model's
        `sampling_defaults`)."""
        return [clip_option()]

    def resolve_steps(self, steps, schedule):
        steps = min(self.default_steps, schedule.timesteps) if steps is None else steps
        if not 1 <= steps <= schedule.timesteps:
            raise ValueError(f"steps must be in 1..{schedule.timesteps}; got {steps}")
        return steps

    def static(self, settings):
        """The settings that change the traced loop (one compiled loop each)."""
        return (settings["clip_x0"],)

    def tables(self, schedule, steps, settings):
        """{name: float32 array (steps,)}, "t" included."""
        raise NotImplementedError

    def init(self, x):
        """The loop state at x_T: a tuple whose first entry is x."""
        return (x,)

    def step(self, state, eps, table, noise, settings):
        raise NotImplementedError
