"""Mixed precision (`--precision` on every recipe): Keras' dtype policies with float32 weights,
float32 losses and attention softmax, and, under float16, a LossScaleOptimizer per optimizer
(each member of a GAN's group) that skips overflowing steps and lowers its scale."""

import json

import keras
import numpy as np
import pytest
from conftest import numpy, policy, small_gan


def test_bfloat16_vae_learns_with_float32_weights(digits):
    from zoo.models.vae import VAE

    with policy("mixed_bfloat16"):
        model = VAE(seed=0)
        model.compile()
        losses = model.fit(digits[:256], batch_size=32, epochs=4, verbose=0).history["loss"]
    conv = model.encoder.layers[1]
    assert conv.compute_dtype == "bfloat16" and conv.kernel.dtype == "float32"
    assert all(np.isfinite(losses)) and losses[-1] < 0.6 * losses[0], losses


def test_bfloat16_diffusion_and_gpt_learn(digits):
    from zoo.models.diffusion import DiffusionModel
    from zoo.models.gpt import GPT

    with policy("mixed_bfloat16"):
        ddpm = DiffusionModel(widths=(8, 16), attention=(1,), timesteps=100, seed=0)
        ddpm.compile()
        ddpm_losses = ddpm.fit(digits[:256], batch_size=32, epochs=3, verbose=0).history["loss"]
        gpt = GPT(list("abcdefgh"), block_size=16, num_layers=1, num_heads=2, embed_dim=32, dropout=0.0)
        gpt.compile(keras.optimizers.Adam(3e-3))
        ids = np.tile(np.arange(8), 40)  # a cycle: each token predicts the next
        windows = np.stack([ids[i:i + 17] for i in range(0, 256, 2)])
        gpt_losses = gpt.fit(windows[:, :-1], windows[:, 1:], batch_size=32, epochs=4, verbose=0).history["loss"]
        images = ddpm.generate(2, seed=0, steps=3, progress=False)  # the samplers' arithmetic stays float32
        text = gpt.generate("a", 1, seed=0, max_new_tokens=8)
    assert images.dtype == np.uint8 and images.shape == (2, 28, 28, 1)
    assert len(text[0] if isinstance(text, list) else text) >= 8
    assert ddpm_losses[-1] < 0.9 * ddpm_losses[0], ddpm_losses
    assert gpt_losses[-1] < 0.7 * gpt_losses[0], gpt_losses


def test_bfloat16_wgan_gp_trains():
    """The gradient penalty interpolates between real (float32) and generated images: under a
    bfloat16 policy the generator's images enter the loss in float32, as the critic's scores do."""
    from zoo.models.wgan import WGANGP

    x = np.random.default_rng(0).integers(0, 256, (32, 16, 16, 3)).astype("uint8")
    with policy("mixed_bfloat16"):
        model = WGANGP(image_shape=(16, 16, 3), width=4, n_critic=2, seed=0)
        model.compile()
        history = model.fit(x, batch_size=8, epochs=1, verbose=0).history
    assert {layer.compute_dtype for layer in model.generator.layers if layer.weights} == {"bfloat16"}
    assert all(np.isfinite(v).all() for v in history.values()), history
    assert history["gradient_penalty"][0] > 0


def test_float16_loss_scaling_recovers_from_overflow(digits):
    """Scale 2**24 overflows float16 gradients: those steps are skipped (the weights stay), the
    scale halves each time, and training goes on once it fits, for both optimizers of the GAN."""
    with policy("mixed_float16"):
        gan = small_gan()
        gan.compile()
        members = gan.optimizer.members()
        assert all(isinstance(opt, keras.optimizers.LossScaleOptimizer) for opt in members.values())
        gan.optimizer.build()
        for opt in members.values():
            opt.dynamic_scale.assign(2.0 ** 24)
        before = [numpy(v).copy() for v in gan.generator.trainable_variables]
        history = gan.fit(digits[:256], batch_size=32, epochs=2, verbose=0).history
    steps = 2 * 256 // 32
    for key, opt in members.items():
        scale, applied = float(numpy(opt.dynamic_scale)), int(numpy(opt.inner_optimizer.iterations))
        assert scale < 2.0 ** 24, key  # lowered after overflows
        assert 0 < applied < steps, (key, applied)  # some steps skipped, the rest applied
    after = [numpy(v) for v in gan.generator.trainable_variables]
    assert all(np.isfinite(a).all() for a in after)
    assert max(float(np.abs(a - b).max()) for a, b in zip(after, before)) > 0
    assert all(np.isfinite(v).all() for v in history.values())
    # the compile config names each member once, wrapped once
    config = json.dumps(gan.get_compile_config())
    assert config.count("LossScaleOptimizer") == 2


def test_preset_trained_in_mixed_precision_loads_as_float32(digits, tmp_path):
    from zoo.models.vae import VAE
    from zoo.publish import save_preset
    from zoo.registry import load

    with policy("mixed_bfloat16"):
        model = VAE(seed=0, name="vae_bf16")
        model.compile()
        model.fit(digits[:64], batch_size=32, epochs=1, verbose=0)
        save_preset(model, tmp_path / "vae_bf16", name="vae_bf16", description="test")
    with pytest.warns(UserWarning):
        loaded = load(tmp_path / "vae_bf16")
    assert loaded.dtype_policy.name == "float32"
    assert {layer.compute_dtype for layer in loaded.decoder.layers} == {"float32"}
    copy = VAE(seed=0)  # the trained weights in a float32 model
    copy.set_weights(model.get_weights())
    z = np.random.default_rng(0).standard_normal((4, 16)).astype("float32")
    np.testing.assert_array_equal(loaded.decode(z), copy.decode(z))


@pytest.mark.parametrize("kind", ["Conv2D", "Conv2DTranspose"])
def test_bfloat16_convolutions_equal_keras(kind):
    """zoo's convolutions in bfloat16 (on torch, the channels_last kernels) give Keras' result."""
    from keras import layers

    import zoo.layers

    x = np.random.default_rng(0).standard_normal((2, 8, 8, 6)).astype("float32")
    with policy("mixed_bfloat16"):
        ours = getattr(zoo.layers, kind)(5, 3, strides=2, padding="same")
        theirs = getattr(layers, kind)(5, 3, strides=2, padding="same")
        ours.build(x.shape)
        theirs.build(x.shape)
        theirs.set_weights(ours.get_weights())
        y, expected = ours(x), theirs(x)
    assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"
    np.testing.assert_allclose(numpy(y).astype("float32"), numpy(expected).astype("float32"), atol=0.05, rtol=0.02)
