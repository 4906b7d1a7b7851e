"""DPM-Solver++(2M) (Lu et al. 2022): a second-order multistep solver of the diffusion ODE
in its data-prediction form, deterministic given x_T.

With lambda_t = log(alpha_t / sigma_t) (alpha_t = sqrt(abar_t), sigma_t = sqrt(1 - abar_t))
and h = lambda_s - lambda_t for the step from t to s:

    D   = (1 + 1/(2r)) x0_t - 1/(2r) x0_prev,     r = h_prev / h   (first step: D = x0_t)
    x_s = (sigma_s / sigma_t) x_t + alpha_s (1 - exp(-h)) D

The last step goes to x_0 itself (sigma = 0) at first order: x = x0 (diffusers'
`final_sigmas_type="zero"` with `lower_order_final`). All coefficients are computed in
float64 once per call (`tables`); the loop carries (x, previous x0).
"""

import numpy as np

from zoo.diffusion.samplers.base import Sampler, predict_x0


class DPMSolverPlusPlus2M(Sampler):
    name = "dpmpp_2m"
    default_steps = 20

    def tables(self, schedule, steps, settings):
        t, abar, abar_next = schedule.timesteps_for(steps)
        with np.errstate(divide="ignore"):
            lam = lambda a: 0.5 * (np.log(a) - np.log1p(-a))  # noqa: E731  (inf at abar = 1)
            h = lam(abar_next) - lam(abar)
        final = abar_next >= 1.0
        ratio = np.where(final, 0.0, np.sqrt(np.clip(1 - abar_next, 0, None) / (1 - abar)))
        coef = np.where(final, 1.0, np.sqrt(abar_next) * -np.expm1(-np.where(final, 0.0, h)))
        r = np.ones(steps)
        r[1:] = h[:-1] / np.where(final[1:], 1.0, h[1:])
        second = np.arange(steps) > 0
        second &= ~final  # first order on the first and the last step
        c_prev = np.where(second, -1.0 / (2.0 * r), 0.0)
        return {"t": t.astype("float32"), "abar": abar.astype("float32"), "ratio": ratio.astype("float32"),
                "coef": coef.astype("float32"), "c0": (1.0 - c_prev).astype("float32"),
                "c_prev": c_prev.astype("float32")}

    def init(self, x):
        return (x, x * 0.0)

    def step(self, state, eps, table, noise, settings):
        x, previous = state
        x0 = predict_x0(x, eps, table["abar"], settings["clip_x0"])
        d = table["c0"] * x0 + table["c_prev"] * previous
        return (table["ratio"] * x + table["coef"] * d, x0)
