"""Trains a tiny model for a few steps on N devices and writes its losses and weights
(tests/test_distribute.py runs it in fresh processes: the device count is fixed at start).

    python tests/dp_worker.py MODEL DEVICES OUT.npz [--workdir DIR --epochs E]
    torchrun --nproc-per-node 2 tests/dp_worker.py MODEL 2 OUT.npz
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from zoo.core import distribute  # noqa: E402


def build(kind):
    if kind == "gan":  # two optimizers; one hidden layer each, so no BatchNorm
        from zoo.models.gan import GAN

        return GAN(image_shape=(8, 8, 1), latent_dim=4, g_units=(16,), d_units=(16,), seed=0)
    if kind == "wgan":  # a gradient penalty and n_critic
        from zoo.models.wgan import WGANGP

        return WGANGP(image_shape=(8, 8, 1), latent_dim=4, width=4, seed=0)
    if kind == "vae":
        from zoo.models.vae import VAE

        return VAE(image_shape=(8, 8, 1), latent_dim=2, units=8, seed=0)
    if kind == "ddpm":
        from zoo.models.diffusion import DiffusionModel

        return DiffusionModel(image_shape=(8, 8, 1), widths=(8, 16), attention=(), timesteps=50, seed=0)
    raise SystemExit(f"unknown model {kind}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("devices", type=int)
    p.add_argument("out")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workdir", default=None)
    args = p.parse_args()
    distribute.setup(args.devices)

    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).integers(0, 256, (16, 8, 8, 1)).astype("uint8")
    model = build(args.model)
    model.compile()
    if args.workdir:  # the recipes' resumable fit
        from zoo import harness

        hargs = harness.parser("dp_worker", "", epochs=args.epochs, batch_size=args.batch_size,
                               data=None).parse_args(["--workdir", args.workdir, "--epochs", str(args.epochs),
                                                      "--verbose", "0", "--devices", str(args.devices)])
        harness.configure(hargs)
        history = harness.fit(model, x, hargs, shuffle=False)
    else:
        history = model.fit(x, batch_size=args.batch_size, epochs=args.epochs, shuffle=False, verbose=0).history
    weights = {f"w{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(model.weights)}
    opt = {f"o{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(model.optimizer.variables)}
    losses = {f"loss_{k}": np.asarray(v, "float64") for k, v in history.items()}
    if keras.backend.backend() == "jax":  # how many devices hold each optimizer variable (replicated state)
        opt["state_devices"] = np.array([len(v.value.sharding.device_set) for v in model.optimizer.variables])
    np.savez(args.out if distribute.rank() == 0 else f"{args.out}.rank{distribute.rank()}.npz",
             **weights, **opt, **losses)


if __name__ == "__main__":
    main()
