"""Native references for benchmarks/backends.py: the DCGAN 64x64 train step of
zoo/models/dcgan.py (width w, batch B, Adam(2e-4, 0.5) for G and D, non-saturating loss,
one G and one D update per batch, BatchNorm in training mode), written directly in
PyTorch (torch.nn) and in JAX (flax.linen + optax), without Keras.

Each `*_step(width, batch, ...)` returns `step()`, which runs one training step on a
fixed batch of real images and blocks until it is done.
"""

import numpy as np

LATENT = 100


def torch_step(width=32, batch=64, channels_last=False, compile=False, seed=0):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    w = width

    def up(cin, cout):
        return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(LATENT, 4 * 4 * 8 * w, bias=False)
            self.net = nn.Sequential(nn.BatchNorm2d(8 * w), nn.ReLU(), *up(8 * w, 4 * w), *up(4 * w, 2 * w),
                                     *up(2 * w, w), nn.ConvTranspose2d(w, 3, 4, 2, 1), nn.Tanh())

        def forward(self, z):
            x = self.fc(z).view(-1, 8 * w, 4, 4)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            return self.net(x)

    def down(cin, cout, bn=True):
        return [nn.Conv2d(cin, cout, 4, 2, 1, bias=not bn), *([nn.BatchNorm2d(cout)] if bn else []),
                nn.LeakyReLU(0.2)]

    D = nn.Sequential(*down(3, w, bn=False), *down(w, 2 * w), *down(2 * w, 4 * w), *down(4 * w, 8 * w),
                      nn.Flatten(), nn.Linear(4 * 4 * 8 * w, 1))
    G = Generator()
    if channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    softplus = nn.functional.softplus
    real = torch.rand(batch, 3, 64, 64) * 2 - 1
    if channels_last:
        real = real.contiguous(memory_format=torch.channels_last)

    def train_step(real):
        z = torch.randn(real.shape[0], LATENT)
        fake = G(z)
        g_loss = softplus(-D(fake)).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        fake = fake.detach()
        d_loss = (softplus(-D(real)).mean() + softplus(D(fake)).mean()) / 2
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        return d_loss.detach()

    if compile:
        train_step = torch.compile(train_step)

    def step():
        return float(train_step(real))

    return step


def jax_step(width=32, batch=64, seed=0):
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import optax

    w = width
    init = nn.initializers.normal(0.02)

    class Generator(nn.Module):
        @nn.compact
        def __call__(self, z):
            x = nn.Dense(4 * 4 * 8 * w, use_bias=False, kernel_init=init)(z).reshape(-1, 4, 4, 8 * w)
            x = nn.relu(nn.BatchNorm(use_running_average=False)(x))
            for c in (4 * w, 2 * w, w):
                x = nn.ConvTranspose(c, (4, 4), (2, 2), padding="SAME", use_bias=False, kernel_init=init)(x)
                x = nn.relu(nn.BatchNorm(use_running_average=False)(x))
            return jnp.tanh(nn.ConvTranspose(3, (4, 4), (2, 2), padding="SAME", kernel_init=init)(x))

    class Discriminator(nn.Module):
        @nn.compact
        def __call__(self, x):
            for i, c in enumerate((w, 2 * w, 4 * w, 8 * w)):
                x = nn.Conv(c, (4, 4), (2, 2), padding="SAME", use_bias=i == 0, kernel_init=init)(x)
                if i > 0:
                    x = nn.BatchNorm(use_running_average=False)(x)
                x = nn.leaky_relu(x, 0.2)
            return nn.Dense(1, kernel_init=init)(x.reshape(x.shape[0], -1))

    G, D = Generator(), Discriminator()
    key = jax.random.PRNGKey(seed)
    real = jax.random.uniform(key, (batch, 64, 64, 3), minval=-1, maxval=1)
    g_vars = G.init(key, jnp.zeros((batch, LATENT)))
    d_vars = D.init(key, real)
    tx = optax.adam(2e-4, b1=0.5)
    state = (g_vars, d_vars, tx.init(g_vars["params"]), tx.init(d_vars["params"]), key)

    @jax.jit
    def train_step(state, real):
        g_vars, d_vars, g_opt, d_opt, key = state
        key, sub = jax.random.split(key)
        z = jax.random.normal(sub, (real.shape[0], LATENT))

        def g_loss_fn(g_params):
            fake, g_upd = G.apply({**g_vars, "params": g_params}, z, mutable=["batch_stats"])
            logits, d_upd = D.apply(d_vars, fake, mutable=["batch_stats"])
            return jnp.mean(jax.nn.softplus(-logits)), (fake, g_upd, d_upd)

        (_, (fake, g_upd, d_upd)), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(g_vars["params"])
        g_updates, g_opt = tx.update(g_grads, g_opt)
        g_vars = {"params": optax.apply_updates(g_vars["params"], g_updates), **g_upd}
        d_vars = {**d_vars, **d_upd}
        fake = jax.lax.stop_gradient(fake)

        def d_loss_fn(d_params):
            v = {**d_vars, "params": d_params}
            real_logits, upd = D.apply(v, real, mutable=["batch_stats"])
            fake_logits, upd = D.apply({**v, **upd}, fake, mutable=["batch_stats"])
            loss = (jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))) / 2
            return loss, upd

        (d_loss, d_upd), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(d_vars["params"])
        d_updates, d_opt = tx.update(d_grads, d_opt)
        d_vars = {"params": optax.apply_updates(d_vars["params"], d_updates), **d_upd}
        return (g_vars, d_vars, g_opt, d_opt, key), d_loss

    holder = [state]

    def step():
        holder[0], loss = train_step(holder[0], real)
        return float(np.asarray(loss))

    return step
