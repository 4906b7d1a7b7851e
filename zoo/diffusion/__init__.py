"""Diffusion in parts, as diffusers and keras-hub separate them:

* `schedule.NoiseSchedule`: the betas, the forward process q(x_t | x_0) (`add_noise`) and
  the timesteps a sampler walks;
* `samplers`: one update rule a file (`ddim.py`: DDIM, and DDPM as its full-length eta = 1
  case; `dpm_solver.py`: DPM-Solver++(2M)), found by name in `samplers.SAMPLERS`;
* the network is `zoo.networks.unet`, and `zoo.models.diffusion.DiffusionModel` ties them
  together with the EMA weights, the compiled chunked loop and classifier-free guidance.
"""
