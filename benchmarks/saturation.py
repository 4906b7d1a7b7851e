"""The share of saturated pixels (|v - 127.5| > 120) in 64 samples of a diffusion preset,
drawn from the same x_T with several sampler settings: how oversaturated each looks.

    python -m benchmarks.saturation ddpm_anime
"""

import sys

import numpy as np

SETTINGS = [("ddim-50 eta 0, eps re-derived from the clipped x0",
             dict(sampler="ddim", steps=50, eta=0.0, clipped_eps=True)),
            ("ddim-50 eta 0, the network's eps", dict(sampler="ddim", steps=50, eta=0.0, clipped_eps=False)),
            ("ddim-50 eta 1, eps re-derived", dict(sampler="ddim", steps=50, eta=1.0, clipped_eps=True)),
            ("ddim-50 eta 1, the network's eps", dict(sampler="ddim", steps=50, eta=1.0, clipped_eps=False)),
            ("dpmpp_2m-20, x0 clipped", dict(sampler="dpmpp_2m", steps=20)),
            ("dpmpp_2m-20, x0 not clipped", dict(sampler="dpmpp_2m", steps=20, clip_x0="none")),
            ("dpmpp_2m-20, dynamic thresholding", dict(sampler="dpmpp_2m", steps=20, clip_x0="dynamic"))]


def main(argv):
    import zoo

    model = zoo.load(argv[0] if argv else "ddpm_anime")
    for label, options in SETTINGS:
        images = model.generate(64, seed=0, progress=False, **options)
        print(f"{label}: {100 * (np.abs(images.astype(float) - 127.5) > 120).mean():.1f}% saturated")


if __name__ == "__main__":
    main(sys.argv[1:])
