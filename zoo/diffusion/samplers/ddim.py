"""DDIM (Song et al. 2021), and DDPM (Ho et al. 2020) as its full-length eta = 1 case.

From x_t: predict x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t) (clipped), then

    x_s = sqrt(abar_s) x_0 + sqrt(1 - abar_s - sigma^2) eps' + sigma z,
    sigma = eta sqrt((1 - abar_s) / (1 - abar_t)) sqrt(1 - abar_t / abar_s).

`clipped_eps=True` re-derives eps' from the clipped x_0 (diffusers'
`use_clipped_model_output=True`); `False` keeps the network's eps (diffusers' default).
Over all T steps with eta = 1 the update is DDPM's ancestral step (posterior mean,
variance beta~_t): `DDPM` is that, with its step count fixed to T.
"""

import numpy as np
from keras import ops

from zoo.diffusion.samplers.base import Sampler, predict_x0
from zoo.tasks import Option


class DDIM(Sampler):
    name = "ddim"
    default_steps = 50

    def declare(self, model):
        return super().declare(model) + [
            Option("eta", "float", 0.0, low=0.0, high=1.0, label="η={value:g}",
                   help="DDIM's eta: 0 deterministic given x_T, 1 fresh noise every step (DDPM-like); above 1 the "
                        "noise outgrows the schedule and the images turn to noise"),
            Option("clipped_eps", "bool", True, label={True: "", False: "raw ε"},
                   help="re-derive eps from the clipped x_0 (true) or keep the network's (false)")]

    def eta(self, settings):
        return settings["eta"]

    def static(self, settings):
        return (settings["clip_x0"], settings["clipped_eps"], self.eta(settings) == 0)

    def tables(self, schedule, steps, settings):
        t, abar, abar_prev = schedule.timesteps_for(steps)
        sigma = self.eta(settings) * np.sqrt((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev))
        return {"t": t.astype("float32"), "abar": abar.astype("float32"),
                "abar_prev": abar_prev.astype("float32"), "sigma": sigma.astype("float32")}

    def step(self, state, eps, table, noise, settings):
        x, a, a_prev, s = state[0], table["abar"], table["abar_prev"], table["sigma"]
        x0 = predict_x0(x, eps, a, settings["clip_x0"])
        if settings["clipped_eps"]:
            eps = (x - ops.sqrt(a) * x0) / ops.sqrt(1.0 - a)
        direction = ops.sqrt(ops.maximum(1.0 - a_prev - s * s, 0.0)) * eps
        x = ops.sqrt(a_prev) * x0 + direction
        return (x if self.eta(settings) == 0 else x + s * noise(),)


class DDPM(DDIM):
    """Ancestral DDPM: DDIM over all T steps with eta = 1."""

    name = "ddpm"

    def declare(self, model):
        return [o for o in super().declare(model) if o.name != "eta"]

    def eta(self, settings):
        return 1.0

    def resolve_steps(self, steps, schedule):
        if steps not in (None, schedule.timesteps):
            raise ValueError(f"the ddpm sampler takes all T={schedule.timesteps} steps; for fewer, "
                             f"use sampler='ddim' with eta=1")
        return schedule.timesteps
