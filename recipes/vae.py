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
import time

import numpy as np

from zoo import harness

# The MNIST variants share one architecture (residual blocks, zoo/models/vae.py) and schedule;
# vae_fashion is the plain mirror of the first wave.
MNIST = dict(data="mnist", blocks=1, binarize=True, schedule="cosine", epochs=40)
VARIANTS = {
    "vae_mnist": dict(MNIST, latent_dim=16, beta=1.0, epochs=60),  # 40 gave 88.4 nats; 60: 87.3
    "beta_vae_mnist": dict(MNIST, latent_dim=16, beta=4.0),
    "vae_mnist_2d": dict(MNIST, latent_dim=2, beta=1.0),
    "vae_fashion": dict(data="fashion_mnist", latent_dim=16, beta=1.0, binarize=False, schedule="constant",
                        epochs=30),
}
CLASSES = {"mnist": [str(i) for i in range(10)],
           "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                             "Shirt", "Sneaker", "Bag", "Ankle boot"]}


def main(argv=None):
    p = harness.parser("vae", __doc__, epochs=None, batch_size=128, data=None)
    p.add_argument("--variant", choices=sorted(VARIANTS), default="vae_mnist")
    p.add_argument("--beta", type=harness.at_least(0, float), default=None, help="override the variant's beta")
    p.add_argument("--blocks", type=harness.at_least(1), default=None, help="override the variant's residual blocks per resolution")
    p.add_argument("--lr", type=harness.POSITIVE, default=1e-3, help="Adam's learning rate (the peak, with --schedule cosine)")
    p.add_argument("--schedule", choices=("constant", "cosine"), default=None,
                   help="the learning rate over the run (default: the variant's; cosine decays to 0 at --epochs)")
    p.add_argument("--iwae-k", type=harness.at_least(0), default=100,
                   help="importance samples of the test-set log-likelihood bound (Burda et al. 2016); 0: not measured")
    args = p.parse_args(argv)
    harness.configure(args)
    spec = dict(VARIANTS[args.variant])
    dataset, schedule, epochs = spec.pop("data"), spec.pop("schedule"), spec.pop("epochs")
    args.schedule, args.epochs = args.schedule or schedule, args.epochs or epochs
    if args.blocks is not None:
        spec["blocks"] = args.blocks
    args.data = args.data or dataset
    if args.beta is not None:
        spec["beta"] = args.beta
    if args.workdir == "runs/vae":
        args.workdir = f"runs/{args.variant}"

    from zoo import data, viz
    from zoo.models.vae import VAE

    x = data.load_images(args.data, size=(28, 28), channels=1, limit=args.limit)
    import keras

    model = harness.init_model(args, lambda: VAE(seed=args.seed, name=args.variant, **spec))
    steps = args.epochs * -(-len(x) // args.batch_size)
    lr = args.lr if args.schedule == "constant" else keras.optimizers.schedules.CosineDecay(args.lr, steps)
    model.compile(keras.optimizers.Adam(lr))
    z = model.sample_noise(64, seed=0)
    history = harness.fit(model, x, args, grid=lambda: model.decode(z))

    # Measured on the held-out split of the named dataset (or the last 10% of a user's data).
    try:
        test = data.load_npz(data.find(args.data))
        x_test, y_test = test["x_test"][..., None], test["y_test"]
    except Exception:  # noqa: BLE001  (an image folder: no labels, no split)
        x_test, y_test = x[-len(x) // 10:], None
    binarize_seed = 0 if model.binarize else None
    elbo = model.negative_elbo(x_test, seed=0, binarize_seed=binarize_seed)
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
    if args.iwae_k:
        start = time.time()
        nll = model.importance_weighted_nll(x_test, k=args.iwae_k, seed=0, binarize_seed=binarize_seed, progress=True)
        metrics.update({"test_iwae_nll_nats": round(float(nll.mean()), 2),
                        "test_iwae_nll_sem": round(float(nll.std() / np.sqrt(len(x_test))), 2),
                        "iwae_k": args.iwae_k, "iwae_seconds": round(time.time() - start, 1),
                        "iwae_evaluation": f"-log p(x) bounded with {args.iwae_k} importance samples from q(z|x) "
                                           f"(Burda et al. 2016), numpy seed 0, the same test images"})
    print("test-set measurements:", metrics)
    order = np.argsort(y_test, kind="stable") if y_test is not None else np.arange(len(x_test))
    picks = x_test[order[:: max(1, len(order) // 8)][:8]]
    pictures = {"sample.png": model.generate(64, seed=0),
                "reconstructions.png": np.concatenate([picks, model.reconstruct(picks)])}
    preset = harness.finish(
        model, args, args.variant, history,
        dataset=harness.dataset(args.data, len(x), f"{args.data} ({len(x)} training images, 28x28 grayscale)",
                                image_size="28x28"),
        description=(f"convolutional {'beta-' if model.beta != 1 else ''}VAE"
                     f"{f', {model.blocks} residual block(s) per resolution' if model.blocks else ''}, "
                     f"{model.latent_dim}-d latent, beta={model.beta:g}, Bernoulli likelihood"),
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
