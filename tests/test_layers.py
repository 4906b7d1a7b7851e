"""zoo.layers' Conv2D, Conv2DTranspose, BatchNormalization and GroupNormalization are Keras'
layers with torch fast paths: on every backend they must give Keras' outputs, gradients and
moving statistics, from the same weights, including the configurations the fast paths
leave to Keras (asymmetric padding, output_padding, dilation)."""

import keras
import numpy as np
import pytest
from conftest import policy
from keras import layers

import zoo.layers as zl
from zoo.core import torch_kernels as zoo_backend

CONV = [dict(filters=6, kernel_size=4, strides=2, padding="same"),  # DCGAN: symmetric padding
        dict(filters=6, kernel_size=3, padding="same"),
        dict(filters=6, kernel_size=3, strides=2, padding="same"),  # asymmetric: Keras' path
        dict(filters=6, kernel_size=3, strides=2, padding="valid"),
        dict(filters=6, kernel_size=1, use_bias=False, activation="relu"),
        dict(filters=6, kernel_size=3, padding="same", groups=2),
        dict(filters=6, kernel_size=3, padding="same", dilation_rate=2)]
CONV_T = [dict(filters=5, kernel_size=4, strides=2, padding="same"),  # DCGAN
          dict(filters=5, kernel_size=3, strides=2, padding="same"),  # crop (0, 1): Keras' path
          dict(filters=5, kernel_size=3, strides=1, padding="same", activation="tanh"),
          dict(filters=5, kernel_size=4, strides=2, padding="valid", use_bias=False),
          dict(filters=5, kernel_size=2, strides=3, padding="valid"),  # output extended: Keras' path
          dict(filters=5, kernel_size=4, strides=2, padding="same", output_padding=1)]


def twins(keras_layer, zoo_layer, shape):
    """The two layers in one-layer models with the same initial weights."""
    x = keras.Input(shape)
    a, b = keras.Model(x, keras_layer(x)), keras.Model(x, zoo_layer(x))
    b.set_weights(a.get_weights())
    return a, b


def one_sgd_step(model, x, y):
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(x, y, batch_size=len(x), epochs=1, verbose=0, shuffle=False)
    return [np.asarray(w) for w in model.get_weights()]


def assert_twins(a, b, x, atol=1e-5):
    """Same outputs (inference and training mode) and the same weights after one SGD step."""
    np.testing.assert_allclose(keras.ops.convert_to_numpy(b(x, training=False)), keras.ops.convert_to_numpy(a(x, training=False)), atol=atol)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(b(x, training=True)), keras.ops.convert_to_numpy(a(x, training=True)), atol=atol)
    y = np.random.default_rng(1).standard_normal(a.output.shape[1:]).astype("float32")[None].repeat(len(x), 0)
    for wa, wb in zip(one_sgd_step(a, x, y), one_sgd_step(b, x, y)):
        np.testing.assert_allclose(wb, wa, atol=atol, rtol=1e-4)


CASES = ([("Conv2D", config, (3, 10, 10, 4)) for config in CONV]
         + [("Conv2DTranspose", config, (3, 7, 7, 4)) for config in CONV_T])


@pytest.mark.parametrize("name, config, shape", CASES, ids=lambda c: str(sorted(c.items())) if isinstance(c, dict) else None)
def test_convolutions_match_keras(name, config, shape):
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    a, b = twins(getattr(layers, name)(**config), getattr(zl, name)(**config), x.shape[1:])
    assert_twins(a, b, x)


@pytest.mark.parametrize("shape", [(8,), (6, 6, 4)])
def test_batch_norm_matches_keras_with_moving_statistics(shape):
    keras.utils.set_random_seed(0)
    init = dict(gamma_initializer=keras.initializers.RandomNormal(1.0, 0.2), beta_initializer="random_normal",
                momentum=0.8)
    a, b = twins(layers.BatchNormalization(**init), zl.BatchNormalization(**init), shape)
    x = (3 * np.random.default_rng(0).standard_normal((16, *shape)) + 1).astype("float32")
    assert_twins(a, b, x, atol=1e-4)
    # moving mean and variance after training, then inference from them
    for wa, wb in zip(a.layers[1].non_trainable_weights, b.layers[1].non_trainable_weights):
        assert not np.allclose(keras.ops.convert_to_numpy(wa.value), 0) or "mean" not in wa.path
        np.testing.assert_allclose(keras.ops.convert_to_numpy(wb.value), keras.ops.convert_to_numpy(wa.value), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(b(x, training=False)), keras.ops.convert_to_numpy(a(x, training=False)), atol=1e-4)


@pytest.mark.parametrize("shape, groups", [((6, 6, 8), 4), ((5, 7, 6), 6), ((1, 1, 4), 2), ((9, 6), 3)])
def test_group_norm_matches_keras(shape, groups):
    keras.utils.set_random_seed(0)
    init = dict(groups=groups, epsilon=1e-5, gamma_initializer=keras.initializers.RandomNormal(1.0, 0.2),
                beta_initializer="random_normal")
    a, b = twins(layers.GroupNormalization(**init), zl.GroupNormalization(**init), shape)
    x = (3 * np.random.default_rng(0).standard_normal((4, *shape)) + 1).astype("float32")
    assert_twins(a, b, x, atol=1e-4)


def test_group_norm_gradients_match_keras_whatever_layout_the_gradient_has(backend, monkeypatch):
    # The UNet feeds GroupNorm's output to convolutions, attention (a reshape) and sums, so
    # the gradient reaching torch's fused kernel comes in several layouts (expanded, NCHW).
    if backend != "torch":
        pytest.skip("the fused group norm is torch's fast path; elsewhere the layer is Keras' own")
    import torch

    zoo_group_norm = zoo_backend.group_norm
    x = torch.as_tensor(np.random.default_rng(0).standard_normal((2, 5, 5, 8)).astype("float32"))
    a, b = layers.GroupNormalization(4), zl.GroupNormalization(4)
    for layer in (a, b):
        layer.build(x.shape)
        layer.set_weights([np.linspace(0.5, 1.5, 8, dtype="float32"), np.linspace(-1, 1, 8, dtype="float32")])
    fused = []  # the layer's calls that torch's fused kernel answered
    monkeypatch.setattr(zoo_backend, "group_norm", lambda *args: fused.append(zoo_group_norm(*args)) or fused[-1])
    w = torch.arange(8.0)
    losses = {"sum": lambda y: y.sum(), "channel weights": lambda y: (y * w).sum(),
              "NCHW square": lambda y: (y.permute(0, 3, 1, 2).contiguous() ** 2).sum(),
              "attention-like": lambda y: (y.reshape(2, 25, 8) @ torch.ones(8, 3)).square().sum()}
    for name, loss in losses.items():
        grads = []
        for layer in (a, b):
            xt = x.clone().requires_grad_(True)
            grads.append(torch.autograd.grad(loss(layer(xt)), [xt, *(v.value for v in layer.trainable_variables)]))
        for ga, gb in zip(*grads):
            np.testing.assert_allclose(gb.numpy(), ga.numpy(), atol=1e-4, rtol=1e-4, err_msg=name)
    assert len(fused) == len(losses) and all(y is not None for y in fused)


def test_same_padding_and_transpose_crops_follow_keras():
    # Keras' output sizes: ceil(n / s) for "same" convolutions, n * s for transposed ones
    for n in range(5, 12):
        for k in range(1, 6):
            for s in range(1, 4):
                before, after = zoo_backend.same_padding(n, k, s)
                assert (n + before + after - k) // s + 1 == -(-n // s) and 0 <= after - before <= 1
                left, right = zoo_backend.transpose_crops(k, s, "same")
                assert (n - 1) * s + k - left - right == n * s


def test_the_torch_fast_paths_are_taken_where_they_apply(backend):
    if backend != "torch":
        pytest.skip("the fast paths are torch's; on TensorFlow and JAX the layers are Keras' own")
    x = keras.ops.ones((1, 8, 8, 2))
    assert zoo_backend.conv2d(x, keras.ops.ones((4, 4, 2, 3)), (2, 2), "same") is not None
    assert zoo_backend.conv2d(x, keras.ops.ones((3, 3, 2, 3)), (2, 2), "same") is None  # pads (0, 1)
    assert zoo_backend.conv2d_transpose(x, keras.ops.ones((4, 4, 3, 2)), (2, 2), "same") is not None
    assert zoo_backend.conv2d_transpose(x, keras.ops.ones((3, 3, 3, 2)), (2, 2), "same") is None  # crops (0, 1)
    assert zoo_backend.group_norm(x, keras.ops.ones(2), keras.ops.zeros(2), 2, 1e-5) is not None
    assert zoo_backend.group_norm(x[:, ::2], keras.ops.ones(2), keras.ops.zeros(2), 2, 1e-5) is None  # a strided view


def test_layer_names_match_keras_so_weights_load():
    # Presets store weights by layer name: zoo's layers are named as Keras' are.
    assert zl.Conv2D(2, 3).name.startswith("conv2d")
    assert zl.Conv2DTranspose(2, 3).name.startswith("conv2d_transpose")
    assert zl.BatchNormalization().name.startswith("batch_normalization")
    assert zl.GroupNormalization(2).name.startswith("group_normalization")


@pytest.mark.parametrize("name, config, channels", [("Conv2D", dict(filters=1, kernel_size=3, padding="same"), 8),
                                                    ("Conv2DTranspose", dict(filters=4, kernel_size=4, strides=2,
                                                                             padding="same"), 1)])
def test_bfloat16_convolutions_with_one_channel_train(name, config, channels):
    # The UNet's last convolution has one output channel on digits. On a CPU without oneDNN's
    # bfloat16 (no AVX-512 BF16) torch computes bfloat16 convolutions in slow_conv2d, whose
    # backward refused the fast path's channels_last weight there ("grad_weight must be
    # contiguous"); on other machines this passes either way.
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).standard_normal((4, 6, 6, channels)).astype("float32")
    with policy("mixed_bfloat16"):
        inputs = keras.Input(x.shape[1:])
        model = keras.Model(inputs, getattr(zl, name)(**config)(inputs))
        kernel = keras.ops.convert_to_numpy(model.layers[1].kernel)
        weights = one_sgd_step(model, x, np.ones(model.output.shape[1:], "float32")[None].repeat(4, 0))
    assert model.layers[1].compute_dtype == "bfloat16"
    assert np.all(np.isfinite(weights[0])) and not np.allclose(weights[0], kernel)
