"""Transformer blocks (GPT's decoder, and any encoder that needs one).

Each block runs in two modes: `layer(x)` over a whole sequence (training, scoring), and
`layer(x, cache=..., index=...)` over the new tokens only, reading and writing a
key/value cache of fixed length (sampling): static shapes, so the sampling loop
compiles once per backend. `causal=False` makes a bidirectional block (a text encoder).
"""

import keras
from keras import layers, ops

from zoo.core.backend import call_layer


def normal(stddev=0.02):
    return keras.initializers.RandomNormal(stddev=stddev)


@keras.saving.register_keras_serializable(package="zoo")
class CausalSelfAttention(layers.Layer):
    """Multi-head self-attention where position t sees positions <= t (`causal=False`:
    every position; `mask` (batch, length), True for real tokens, hides padding).

    With `cache=(keys, values)`, each (batch, max_len, heads, head_dim), `x` holds the
    tokens at positions index, index+1, ...: their keys and values are written into the
    cache, they attend to every cached position up to their own, and the call returns
    `(y, new_cache)`.
    """

    def __init__(self, num_heads, dropout=0.0, causal=True, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.dropout, self.causal = int(num_heads), float(dropout), bool(causal)
        self.supports_masking = True  # the padding mask is read here (`mask`), and passed on

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim % self.num_heads:
            raise ValueError(f"width {dim} is not divisible by num_heads {self.num_heads}")
        self.head_dim = dim // self.num_heads
        self.qkv = layers.Dense(3 * dim, kernel_initializer=normal(), name="qkv")
        self.qkv.build(input_shape)
        self.out = layers.Dense(dim, kernel_initializer=normal(), name="out")
        self.out.build(input_shape)
        self.drop = layers.Dropout(self.dropout)

    def call(self, x, cache=None, index=0, training=False, mask=None):
        batch, length, dim = ops.shape(x)[0], ops.shape(x)[1], x.shape[-1]
        run = call_layer if cache is not None else (lambda layer, y: layer(y))  # token by token: call_layer
        heads = ops.reshape(run(self.qkv, x), (batch, length, 3, self.num_heads, self.head_dim))
        mixed = keras.backend.standardize_dtype(heads.dtype) != "float32"
        if mixed:  # scores and softmax in float32 under mixed precision
            heads = ops.cast(heads, "float32")
        q, k, v = heads[:, :, 0], heads[:, :, 1], heads[:, :, 2]
        if cache is not None:
            if mixed:  # the cache is in the compute dtype (Layer.__call__ casts it); attention in float32
                k, v = ops.cast(k, cache[0].dtype), ops.cast(v, cache[1].dtype)
            keys = ops.slice_update(cache[0], (0, index, 0, 0), k)
            values = ops.slice_update(cache[1], (0, index, 0, 0), v)
            positions = index + ops.arange(length)
            mask = ops.arange(keys.shape[1])[None, :] <= positions[:, None]  # (length, max_len)
            attend = (lambda t: ops.cast(t, "float32")) if mixed else (lambda t: t)
            y = ops.dot_product_attention(q, attend(keys), attend(values), mask=mask[None, None])
            y = ops.reshape(y, (batch, length, dim))
            return run(self.out, ops.cast(y, x.dtype) if mixed else y), (keys, values)
        if mask is not None:
            keep = ops.cast(mask, "bool")[:, None, None, :]  # (batch, 1, 1, length): keys to attend to
            if self.causal:
                keep = ops.logical_and(keep, ops.tril(ops.ones((length, length), "bool"))[None, None])
            y = ops.dot_product_attention(q, k, v, mask=keep)
        else:
            y = ops.dot_product_attention(q, k, v, is_causal=self.causal)
        y = ops.reshape(y, (batch, length, dim))
        return self.drop(self.out(ops.cast(y, x.dtype) if mixed else y), training=training)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "dropout": self.dropout, "causal": self.causal}


@keras.saving.register_keras_serializable(package="zoo")
class TransformerBlock(layers.Layer):
    """Pre-LayerNorm Transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, num_heads, mlp_ratio=4, dropout=0.0, causal=True, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.mlp_ratio, self.dropout = int(num_heads), int(mlp_ratio), float(dropout)
        self.causal = bool(causal)
        self.supports_masking = True  # a padding mask passes through to the next block

    def build(self, input_shape):
        dim = input_shape[-1]
        self.norm1 = layers.LayerNormalization(epsilon=1e-5, name="norm1")
        self.attention = CausalSelfAttention(self.num_heads, self.dropout, self.causal, name="attention")
        self.norm2 = layers.LayerNormalization(epsilon=1e-5, name="norm2")
        self.fc1 = layers.Dense(self.mlp_ratio * dim, activation="gelu", kernel_initializer=normal(),
                                name="fc1")
        self.fc2 = layers.Dense(dim, kernel_initializer=normal(), name="fc2")
        self.drop = layers.Dropout(self.dropout)
        for layer in (self.norm1, self.attention, self.norm2, self.fc1):
            layer.build(input_shape)
        self.fc2.build((*input_shape[:-1], self.mlp_ratio * dim))

    def call(self, x, cache=None, index=0, training=False, mask=None):
        if cache is not None:  # sampling, token by token: see backend.call_layer
            h, cache = call_layer(self.attention, call_layer(self.norm1, x), cache=cache, index=index)
            x = x + h
            return x + call_layer(self.fc2, call_layer(self.fc1, call_layer(self.norm2, x))), cache
        x = x + self.attention(self.norm1(x), training=training, mask=mask)
        return x + self.drop(self.fc2(self.fc1(self.norm2(x))), training=training)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "mlp_ratio": self.mlp_ratio,
                "dropout": self.dropout, "causal": self.causal}


class TextTower(layers.Layer):
    """A text encoder (CLIP's, and text-to-image's): token ids (batch, length) -> (batch,
    embed_dim), the mean of the real words' last states, LayerNorm, a linear projection.
    `states(ids)` gives what cross-attention reads: every position's last state (batch,
    length, width) and the mask of real words (id 0 is padding)."""

    def __init__(self, vocab_size, length, width, num_layers, num_heads, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_embedding = layers.Embedding(vocab_size, width, embeddings_initializer=normal(), name="tokens")
        self.position_embedding = layers.Embedding(length, width, embeddings_initializer=normal(), name="positions")
        self.blocks = [TransformerBlock(num_heads, causal=False, name=f"block_{i}") for i in range(num_layers)]
        self.norm = layers.LayerNormalization(epsilon=1e-5, name="norm")
        self.projection = layers.Dense(embed_dim, use_bias=False, name="projection")
        self.token_embedding.build((None, length))
        self.position_embedding.build((length,))
        for layer in (*self.blocks, self.norm):
            layer.build((None, length, width))
        self.projection.build((None, width))
        self.built = True  # every sub-layer is: nothing to infer from a first call

    def states(self, ids, training=False):
        """(last states (batch, length, width), mask (batch, length) bool of the real words)."""
        mask = ops.not_equal(ids, 0)
        h = self.token_embedding(ids) + self.position_embedding(ops.arange(ops.shape(ids)[1]))
        for block in self.blocks:
            h = block(h, training=training, mask=mask)
        return h, mask

    def pool(self, h, mask):
        """The projected mean of the real words' states."""
        weights = ops.cast(mask, h.dtype)[:, :, None]
        pooled = ops.sum(h * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
        return self.projection(self.norm(pooled))

    def call(self, ids, training=False):
        return self.pool(*self.states(ids, training=training))
