"""Native references for benchmarks/backends.py: the DCGAN 64x64 train step of
zoo/models/dcgan.py (width w, batch B, Adam(2e-4, 0.5) for G and D, non-saturating loss,
one G and one D update per batch, BatchNorm in training mode), the DDPM UNet train step of
zoo/models/diffusion.py and the character GPT's train step of zoo/models/gpt.py (below),
written directly in PyTorch (torch.nn) and in JAX (flax.linen + optax), without Keras.

Each `*_step(...)` returns `step()`, which runs one training step on a fixed batch of
real images and blocks until it is done (the torch ones carry their networks as
`step.modules`).
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

    step.modules = (G, D)
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


# -- the DDPM UNet train step (zoo/models/diffusion.py with zoo/networks/unet.py) ------
# eps-prediction MSE at a uniform random t, linear betas (T = 1000), AdamW(1e-3, weight
# decay 1e-4) with each gradient clipped to norm 1 (Keras' clipnorm), and the EMA update of
# every weight (decay 0.999) after the step. One residual block per resolution, GroupNorm
# (min(8, width) groups), swish, the time embedding (sinusoidal -> Dense 4w -> Dense 4w)
# added in every block, 4-head self-attention at the lowest resolution and in the middle,
# stride-2 convolutions down, nearest-neighbour x2 + conv up.
def _clipped_update(loss, params, opt):
    """Backward, each gradient clipped to norm 1 on its own (Keras' clipnorm), one optimizer step."""
    import torch

    opt.zero_grad(set_to_none=True)
    loss.backward()
    with torch.no_grad():
        for p, n in zip(params, torch._foreach_norm([p.grad for p in params])):
            p.grad.mul_(torch.clamp(1.0 / (n + 1e-7), max=1.0))
    opt.step()


def _clip_each():
    """optax: each gradient clipped to norm 1 on its own (Keras' clipnorm)."""
    import jax
    import jax.numpy as jnp
    import optax

    return optax.stateless(lambda g, _: jax.tree.map(lambda u: u * jnp.minimum(1.0, 1.0 / (jnp.linalg.norm(u) + 1e-7)), g))


def _alphas_cumprod(timesteps=1000):
    # zoo's beta_schedule("linear", 1000); not imported, so that no Keras loads in a native run
    return np.cumprod(1 - np.linspace(1e-4, 0.02, timesteps)).astype("float32")


def torch_unet_step(widths=(32, 64, 96), batch=64, shape=(28, 28, 1), channels_last=False, compile=False,
                    seed=0, ema_decay=0.999):
    import torch
    from torch import nn

    F = nn.functional
    torch.manual_seed(seed)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    attention = (len(widths) - 1,)

    def norm(c):
        return nn.GroupNorm(min(8, c), c, eps=1e-5)

    class Res(nn.Module):
        def __init__(self, cin, cout, tdim):
            super().__init__()
            self.n1, self.c1, self.t = norm(cin), nn.Conv2d(cin, cout, 3, padding=1), nn.Linear(tdim, cout)
            self.n2, self.c2 = norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
            self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

        def forward(self, x, temb):
            h = self.c1(F.silu(self.n1(x))) + self.t(temb)[:, :, None, None]
            return self.skip(x) + self.c2(F.silu(self.n2(h)))

    class Attention(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.norm, self.mha = norm(c), nn.MultiheadAttention(c, 4, batch_first=True)

        def forward(self, x):
            b, c, h, w = x.shape
            y = self.norm(x).flatten(2).transpose(1, 2)
            y = self.mha(y, y, y, need_weights=False)[0]
            return x + y.transpose(1, 2).reshape(b, c, h, w).contiguous(memory_format=fmt)

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            w0, channels, self.dim = widths[0], shape[-1], widths[0]
            tdim = 4 * w0
            self.temb = nn.Sequential(nn.Linear(w0, tdim), nn.SiLU(), nn.Linear(tdim, tdim), nn.SiLU())
            self.inp = nn.Conv2d(channels, w0, 3, padding=1)
            self.down, self.up, skips, c = nn.ModuleList(), nn.ModuleList(), [], w0
            for level, w in enumerate(widths):
                self.down.append(nn.ModuleList([Res(c, w, tdim), Attention(w) if level in attention else nn.Identity(),
                                                nn.Conv2d(w, w, 3, 2, 1) if level < len(widths) - 1 else nn.Identity()]))
                c = w
                skips.append(w)
            self.mid = nn.ModuleList([Res(c, c, tdim), Attention(c), Res(c, c, tdim)])
            for level, w in reversed(list(enumerate(widths))):
                self.up.append(nn.ModuleList([Res(c + skips.pop(), w, tdim),
                                              Attention(w) if level in attention else nn.Identity(),
                                              nn.Conv2d(w, w, 3, padding=1) if level > 0 else nn.Identity()]))
                c = w
            self.out = nn.Sequential(norm(w0), nn.SiLU(), nn.Conv2d(w0, channels, 3, padding=1))

        def forward(self, x, t):
            half = self.dim // 2
            freqs = torch.exp(-np.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
            angles = t.float()[:, None] * freqs[None]
            temb = self.temb(torch.cat([angles.sin(), angles.cos()], 1))
            x, skips = self.inp(x), []
            for res, attn, down in self.down:
                x = attn(res(x, temb))
                skips.append(x)
                x = down(x)
            res1, attn, res2 = self.mid
            x = res2(attn(res1(x, temb)), temb)
            for res, attn, conv in self.up:
                x = attn(res(torch.cat([x, skips.pop()], 1), temb))
                if not isinstance(conv, nn.Identity):
                    x = conv(F.interpolate(x, scale_factor=2, mode="nearest"))
            return self.out(x)

    net = UNet().to(memory_format=fmt)
    params = list(net.parameters())
    ema = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, 1e-3, weight_decay=1e-4)
    abar = torch.from_numpy(_alphas_cumprod())
    x0 = (torch.rand(batch, shape[-1], *shape[:2]) * 2 - 1).contiguous(memory_format=fmt)

    def train_step(x0):
        t = torch.randint(0, len(abar), (x0.shape[0],))
        noise = torch.randn_like(x0)
        a = abar[t][:, None, None, None]
        loss = F.mse_loss(net(a.sqrt() * x0 + (1 - a).sqrt() * noise, t), noise)
        _clipped_update(loss, params, opt)
        with torch.no_grad():
            torch._foreach_lerp_(ema, params, 1 - ema_decay)
        return loss.detach()

    if compile:
        train_step = torch.compile(train_step)

    def step():
        return float(train_step(x0))

    step.modules = (net,)
    return step


def jax_unet_step(widths=(32, 64, 96), batch=64, shape=(28, 28, 1), seed=0, ema_decay=0.999):
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import optax

    attention = (len(widths) - 1,)

    def norm(c):
        return nn.GroupNorm(num_groups=min(8, c), epsilon=1e-5)

    class Res(nn.Module):
        width: int

        @nn.compact
        def __call__(self, x, temb):
            skip = x if x.shape[-1] == self.width else nn.Conv(self.width, (1, 1))(x)
            h = nn.Conv(self.width, (3, 3), padding="SAME")(nn.swish(norm(x.shape[-1])(x)))
            h = h + nn.Dense(self.width)(temb)[:, None, None, :]
            return skip + nn.Conv(self.width, (3, 3), padding="SAME")(nn.swish(norm(self.width)(h)))

    class Attention(nn.Module):
        @nn.compact
        def __call__(self, x):
            b, h, w, c = x.shape
            y = norm(c)(x).reshape(b, h * w, c)
            return x + nn.MultiHeadDotProductAttention(num_heads=4, qkv_features=c)(y, y).reshape(b, h, w, c)

    class UNet(nn.Module):
        @nn.compact
        def __call__(self, x, t):
            w0, half = widths[0], widths[0] // 2
            angles = t.astype("float32")[:, None] * jnp.exp(-np.log(10000.0) * jnp.arange(half) / half)[None]
            temb = jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], 1)
            temb = nn.swish(nn.Dense(4 * w0)(nn.swish(nn.Dense(4 * w0)(temb))))
            x, skips = nn.Conv(w0, (3, 3), padding="SAME")(x), []
            for level, w in enumerate(widths):
                x = Res(w)(x, temb)
                x = Attention()(x) if level in attention else x
                skips.append(x)
                if level < len(widths) - 1:
                    x = nn.Conv(w, (3, 3), (2, 2), padding="SAME")(x)
            x = Res(widths[-1])(Attention()(Res(widths[-1])(x, temb)), temb)
            for level, w in reversed(list(enumerate(widths))):
                x = Res(w)(jnp.concatenate([x, skips.pop()], -1), temb)
                x = Attention()(x) if level in attention else x
                if level > 0:
                    x = nn.Conv(w, (3, 3), padding="SAME")(jnp.repeat(jnp.repeat(x, 2, 1), 2, 2))
            return nn.Conv(shape[-1], (3, 3), padding="SAME")(nn.swish(norm(w0)(x)))

    net = UNet()
    key = jax.random.PRNGKey(seed)
    x0 = jax.random.uniform(key, (batch, *shape), minval=-1, maxval=1)
    params = net.init(key, x0, jnp.zeros((batch,), "int32"))["params"]
    tx = optax.chain(_clip_each(), optax.adamw(1e-3, weight_decay=1e-4))
    abar = jnp.asarray(_alphas_cumprod())

    @jax.jit
    def train_step(state, x0):
        params, ema, opt, key = state
        key, k1, k2 = jax.random.split(key, 3)
        t = jax.random.randint(k1, (x0.shape[0],), 0, len(abar))
        noise = jax.random.normal(k2, x0.shape)
        a = abar[t][:, None, None, None]
        x_t = jnp.sqrt(a) * x0 + jnp.sqrt(1 - a) * noise

        def loss_fn(p):
            return jnp.mean(jnp.square(net.apply({"params": p}, x_t, t) - noise))

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt = tx.update(grads, opt, params)
        params = optax.apply_updates(params, updates)
        ema = jax.tree.map(lambda e, p: ema_decay * e + (1 - ema_decay) * p, ema, params)
        return (params, ema, opt, key), loss

    holder = [(params, params, tx.init(params), key)]

    def step():
        holder[0], loss = train_step(holder[0], x0)
        return float(np.asarray(loss))

    return step


# -- the character GPT (zoo/models/gpt.py, nanoGPT-style) --------------------------------
# Token + position embeddings, pre-LayerNorm blocks (causal self-attention through one qkv
# projection, a 4x GELU MLP), a final LayerNorm and the token embedding as the output layer
# (tied). The step: next-token cross-entropy on a fixed batch of windows, each gradient
# clipped to norm 1 on its own (Keras' clipnorm), AdamW(1e-3, 0.9/0.99, weight decay 0.1 on
# the dense kernels only), as GPT.compile's default. No dropout (the preset has none).
def _token_windows(batch, block, vocab, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, (batch, block + 1))
    return ids[:, :-1].astype("int64"), ids[:, 1:].astype("int64")


def torch_gpt_step(vocab=65, block=128, layers=4, heads=4, dim=128, batch=32, compile=False, seed=0,
                   channels_last=False):
    import torch
    from torch import nn

    F = nn.functional
    torch.manual_seed(seed)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-5), nn.LayerNorm(dim, eps=1e-5)
            self.qkv, self.out = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
            self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.out(y.transpose(1, 2).reshape(b, t, dim))
            return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tokens, self.positions = nn.Embedding(vocab, dim), nn.Embedding(block, dim)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.norm = nn.LayerNorm(dim, eps=1e-5)

        def forward(self, ids):
            h = self.tokens(ids) + self.positions(torch.arange(ids.shape[1]))
            for b in self.blocks:
                h = b(h)
            return self.norm(h) @ self.tokens.weight.T

    net = GPT()
    for m in net.modules():  # zoo's initializers: N(0, 0.02) kernels and embeddings, zero biases
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)
    params = list(net.parameters())
    kernels = [m.weight for m in net.modules() if isinstance(m, nn.Linear)]
    rest = [p for p in params if all(p is not k for k in kernels)]
    opt = torch.optim.AdamW([{"params": kernels, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99))
    x, y = (torch.from_numpy(a) for a in _token_windows(batch, block, vocab, seed))

    def train_step(x, y):
        loss = F.cross_entropy(net(x).reshape(-1, vocab), y.reshape(-1))
        _clipped_update(loss, params, opt)
        return loss.detach()

    if compile:
        train_step = torch.compile(train_step)

    def step():
        return float(train_step(x, y))

    step.modules = (net,)
    step.sample = lambda texts, new, seed=0: torch_gpt_sample(net, texts, new, block, heads, seed)
    return step


def torch_gpt_sample(net, texts, new, block, heads, seed=0):
    """`texts` continuations of one newline-like token by `new` tokens, temperature 1, with a
    key/value cache of the context length (zoo's GPT.generate's loop, natively); returns ids."""
    import torch

    F = torch.nn.functional
    dim = net.tokens.weight.shape[1]
    gen = torch.Generator().manual_seed(seed)
    cache = [(torch.zeros(texts, heads, block, dim // heads), torch.zeros(texts, heads, block, dim // heads))
             for _ in net.blocks]
    ids = torch.zeros(texts, 1, dtype=torch.long)
    out = []
    with torch.no_grad():
        for pos in range(min(new, block - 1)):
            h = net.tokens(ids) + net.positions.weight[pos]
            for b, (keys, values) in zip(net.blocks, cache):
                q, k, v = b.qkv(b.norm1(h)).view(texts, 1, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
                keys[:, :, pos:pos + 1], values[:, :, pos:pos + 1] = k, v
                y = F.scaled_dot_product_attention(q, keys[:, :, :pos + 1], values[:, :, :pos + 1])
                h = h + b.out(y.transpose(1, 2).reshape(texts, 1, dim))
                h = h + b.fc2(F.gelu(b.fc1(b.norm2(h))))
            logits = net.norm(h[:, -1]) @ net.tokens.weight.T
            ids = torch.multinomial(F.softmax(logits, -1), 1, generator=gen)
            out.append(ids)
    return torch.cat(out, 1)


def jax_gpt_step(vocab=65, block=128, layers=4, heads=4, dim=128, batch=32, seed=0):
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import optax

    class Block(nn.Module):
        @nn.compact
        def __call__(self, x):
            b, t, _ = x.shape
            qkv = nn.Dense(3 * dim, name="qkv")(nn.LayerNorm(epsilon=1e-5, name="norm1")(x))
            q, k, v = jnp.split(qkv.reshape(b, t, 3, heads, dim // heads), 3, axis=2)
            y = jax.nn.dot_product_attention(q[:, :, 0], k[:, :, 0], v[:, :, 0], is_causal=True)
            x = x + nn.Dense(dim, name="out")(y.reshape(b, t, dim))
            h = nn.Dense(4 * dim, name="fc1")(nn.LayerNorm(epsilon=1e-5, name="norm2")(x))
            return x + nn.Dense(dim, name="fc2")(jax.nn.gelu(h, approximate=False))

    class GPT(nn.Module):
        @nn.compact
        def __call__(self, ids):
            tokens = nn.Embed(vocab, dim, name="tokens")
            h = tokens(ids) + nn.Embed(block, dim, name="positions")(jnp.arange(ids.shape[1]))
            for i in range(layers):
                h = Block(name=f"block_{i}")(h)
            return tokens.attend(nn.LayerNorm(epsilon=1e-5, name="norm")(h))

    net = GPT()
    key = jax.random.PRNGKey(seed)
    x, y = (jnp.asarray(a, "int32") for a in _token_windows(batch, block, vocab, seed))
    params = net.init(key, x)["params"]
    decay = jax.tree_util.tree_map_with_path(lambda path, _: path[-1].key == "kernel", params)
    tx = optax.chain(_clip_each(), optax.adamw(1e-3, b1=0.9, b2=0.99, weight_decay=0.1, mask=decay))

    @jax.jit
    def train_step(state, x, y):
        params, opt = state

        def loss_fn(p):
            return optax.softmax_cross_entropy_with_integer_labels(net.apply({"params": p}, x), y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt = tx.update(grads, opt, params)
        return (optax.apply_updates(params, updates), opt), loss

    holder = [(params, tx.init(params))]

    def step():
        holder[0], loss = train_step(holder[0], x, y)
        return float(np.asarray(loss))

    step.params = lambda: holder[0][0]
    return step


def autocast_bf16(step):
    """A native torch step run under `torch.autocast("cpu", torch.bfloat16)` (forward, loss and
    backward; the float32 parameters and optimizer are untouched), PyTorch's own mixed precision."""
    import torch

    def bf16_step():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return step()

    bf16_step.__dict__.update(step.__dict__)
    return bf16_step


# The native steps by model and backend, called with the batch size and the preset's sizes
# (benchmarks/backends.py's MODELS) and, on torch, the layout/compile options.
STEPS = {
    "dcgan_anime": {"torch": lambda batch, width, shape, **options: torch_step(width, batch, **options),
                    "jax": lambda batch, width, shape: jax_step(width, batch)},
    "ddpm_mnist": {"torch": torch_unet_step, "jax": jax_unet_step},
    "gpt_shakespeare": {"torch": lambda batch, block, **options: torch_gpt_step(block=block, batch=batch, **options),
                        "jax": lambda batch, block: jax_gpt_step(block=block, batch=batch)},
}
