"""The noise schedule of a diffusion model: betas, q(x_t | x_0), sampling timesteps.

Timesteps are t = 0 .. T-1; abar_t is the cumulative product of 1 - beta_t, and
q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I).
"""

import math

import numpy as np
from keras import ops

KINDS = ("linear", "cosine")


def beta_schedule(kind, timesteps):
    """beta_t for t = 0 .. T-1 (float64 numpy)."""
    if kind == "linear":  # Ho et al., scaled for T other than 1000 (clipped at 0.999 for tiny T)
        scale = 1000 / timesteps
        return np.clip(np.linspace(scale * 1e-4, scale * 0.02, timesteps, dtype=np.float64), 0, 0.999)
    if kind == "cosine":  # Nichol & Dhariwal, s = 0.008, beta clipped at 0.999
        s = 0.008
        f = np.cos((np.arange(timesteps + 1) / timesteps + s) / (1 + s) * math.pi / 2) ** 2
        return np.clip(1 - f[1:] / f[:-1], 0, 0.999)
    raise ValueError(f"unknown beta schedule {kind!r}; use one of {', '.join(KINDS)}")


class NoiseSchedule:
    """`NoiseSchedule("linear", 1000)`: `betas`, `alphas_cumprod` (float64 numpy),
    `add_noise(x0, noise, t)` and `timesteps_for(steps)`."""

    def __init__(self, kind="linear", timesteps=1000):
        if isinstance(timesteps, bool) or not isinstance(timesteps, int) or timesteps < 1:
            raise ValueError(f"timesteps must be an integer >= 1; got {timesteps!r}")
        self.kind, self.timesteps = kind, timesteps
        self.betas = beta_schedule(kind, timesteps)
        self.alphas_cumprod = np.cumprod(1.0 - self.betas)

    def add_noise(self, x0, noise, t):
        """x_t ~ q(x_t | x_0) in closed form, for integer timesteps t (batch,)."""
        abar = ops.take(ops.convert_to_tensor(self.alphas_cumprod, "float32"), t)[:, None, None, None]
        return ops.sqrt(abar) * x0 + ops.sqrt(1.0 - abar) * noise

    def timesteps_for(self, steps):
        """`steps` evenly spaced timesteps ending at T-1 ("trailing" spacing), noisiest first,
        and abar at each and at the one after it (1.0 after the last: x_0 itself)."""
        t = np.round(np.linspace(self.timesteps, 0, steps, endpoint=False)).astype(np.int64) - 1
        abar = self.alphas_cumprod[t]
        return t, abar, np.append(self.alphas_cumprod[t[1:]], 1.0)
