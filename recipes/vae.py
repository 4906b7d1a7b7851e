"""Recipe for the VAE presets: vae_mnist, beta_vae_mnist, vae_mnist_2d, vae_fashion.

    python recipes/vae.py --variant vae_mnist --out zoo/presets/vae_mnist     # what shipped
    python recipes/vae.py --variant beta_vae_mnist --epochs 2 --limit 5000     # a quick look
    zoo train vae_fashion --data my_clothes.npz --init vae_fashion             # fine-tune

The card gets the test set's negative ELBO in nats per example (one posterior sample
per image). MNIST variants train on dynamically binarized digits and are measured on the
test set binarized once with seed 0; vae_fashion models grey levels with a Bernoulli
likelihood (binary cross-entropy), a number not comparable with binarized-MNIST ones.
"""

import sys

import numpy as np

from zoo import harness

VARIANTS = {
    "vae_mnist": dict(data="mnist", latent_dim=16, beta=1.0, binarize=True),
    "beta_vae_mnist": dict(data="mnist", latent_dim=16, beta=4.0, binarize=True),
    "vae_mnist_2d": dict(data="mnist", latent_dim=2, beta=1.0, binarize=True),
    "vae_fashion": dict(data="fashion_mnist", latent_dim=16, beta=1.0, binarize=False),
}
CLASSES = {"mnist": [str(i) for i in range(10)],
           "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                             "Shirt", "Sneaker", "Bag", "Ankle boot"]}


def main(argv=None):
    p = harness.parser("vae", __doc__, epochs=30, batch_size=128, data=None)
    p.add_argument("--variant", choices=sorted(VARIANTS), default="vae_mnist")
    p.add_argument("--beta", type=float, default=None, help="override the variant's beta")
    args = p.parse_args(argv)
    spec = dict(VARIANTS[args.variant])
    dataset = spec.pop("data")
    args.data = args.data or dataset
    if args.beta is not None:
        spec["beta"] = args.beta
    if args.workdir == "runs/vae":
        args.workdir = f"runs/{args.variant}"

    from zoo import data, viz
    from zoo.models.vae import VAE

    x = data.load_images(args.data, size=(28, 28), channels=1, limit=args.limit)
    model = harness.init_model(args, lambda: VAE(seed=args.seed, name=args.variant, **spec))
    model.compile()
    z = model.sample_noise(64, seed=0)
    history = harness.fit(model, x, args, grid=lambda: model.decode(z))

    # Measured on the held-out split of the named dataset (or the last 10% of a user's data).
    try:
        test = data.load_npz(data.find(args.data))
        x_test, y_test = test["x_test"][..., None], test["y_test"]
    except Exception:  # noqa: BLE001  (an image folder: no labels, no split)
        x_test, y_test = x[-len(x) // 10:], None
    elbo = model.negative_elbo(x_test, seed=0, binarize_seed=0 if model.binarize else None)
    # Active units (Burda et al. 2016): latent dimensions whose posterior mean varies
    # across the data, Cov_x(E_q[z_u]) > 0.01.
    activity = np.var(model.encode(x_test)[0], axis=0)
    metrics = {
        "test_negative_elbo_nats": round(float(elbo["negative_elbo"].mean()), 2),
        "test_negative_elbo_sem": round(float(elbo["negative_elbo"].std() / np.sqrt(len(x_test))), 2),
        "test_reconstruction_nats": round(float(elbo["reconstruction"].mean()), 2),
        "test_kl_nats": round(float(elbo["kl"].mean()), 2),
        "test_images": int(len(x_test)),
        "active_latent_dims": int((activity > 0.01).sum()),
        "evaluation": ("one z sample per image, numpy seed 0; "
                       + ("test images binarized once (pixel ~ Bernoulli(intensity), seed 0)"
                          if model.binarize else "grey levels in [0, 1] as Bernoulli targets")),
    }
    print("test-set measurements:", metrics)
    order = np.argsort(y_test, kind="stable") if y_test is not None else np.arange(len(x_test))
    picks = x_test[order[:: max(1, len(order) // 8)][:8]]
    pictures = {"sample.png": model.generate(64, seed=0),
                "reconstructions.png": np.concatenate([picks, model.reconstruct(picks)])}
    preset = harness.finish(
        model, args, args.variant, history,
        dataset=harness.dataset(args.data, len(x), f"{args.data} ({len(x)} training images, 28x28 grayscale)",
                                image_size="28x28"),
        description=(f"convolutional {'beta-' if model.beta != 1 else ''}VAE, {model.latent_dim}-d "
                     f"latent, beta={model.beta:g}, Bernoulli likelihood"),
        pictures=pictures, test_metrics=metrics, variant=args.variant)
    viz.save_grid(pictures["reconstructions.png"], preset / "reconstructions.png", nrow=8)
    viz.save_strip(model.interpolate(picks[1], picks[7], steps=10), preset / "interpolation.png")
    if model.latent_dim == 2 and y_test is not None:
        q = np.linspace(-2.0, 2.0, 20, dtype="float32")  # a 20x20 grid over the prior's bulk
        grid = np.array([[q[c], q[::-1][r]] for r in range(20) for c in range(20)], "float32")
        viz.save_grid(model.decode(grid), preset / "manifold.png", nrow=20, scale=1)
        viz.save_latent_scatter(model.encode(x_test)[0], y_test, preset / "latent_scatter.png",
                                CLASSES.get(args.data), title=f"{args.variant}: test-set posterior means")
    return preset


if __name__ == "__main__":
    main(sys.argv[1:])
