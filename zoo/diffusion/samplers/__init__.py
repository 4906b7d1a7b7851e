"""Diffusion samplers, one update rule a file. `SAMPLERS` maps each name to its class;
a new sampler is a `Sampler` subclass in its own file, added here."""

from zoo.diffusion.samplers.base import Sampler
from zoo.diffusion.samplers.ddim import DDIM, DDPM
from zoo.diffusion.samplers.dpm_solver import DPMSolverPlusPlus2M

SAMPLERS = {cls.name: cls for cls in (DDIM, DDPM, DPMSolverPlusPlus2M)}

__all__ = ["SAMPLERS", "Sampler", "DDIM", "DDPM", "DPMSolverPlusPlus2M"]
