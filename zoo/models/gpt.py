"""GPT: a small character-level decoder-only Transformer (Radford et al. 2018; the
layout of karpathy's nanoGPT).

Presets: `gpt_shakespeare` (tiny shakespeare) and `gpt_tang` (Tang poems, one per line).

* Tokenizer: one token per character; the vocabulary is part of the model's config, so
  it travels inside the preset's config.json (JSON, nothing pickled).
* Model: token + learned position embeddings, `num_layers` pre-LayerNorm Transformer
  blocks (zoo.networks.transformer), a final LayerNorm, and logits from the token embedding matrix
  itself (weight tying).
* Training: next-token cross-entropy in nats per character; the progress bar shows the
  loss and the perplexity exp(loss). `fit` takes `(x, y)` batches of token ids,
  `y` being `x` shifted by one (`windows()` and `RandomWindows` make them).
* Sampling (the TextGenerator contract, zoo/tasks.py): `generate(prompt, num=None,
  seed=None, max_new_tokens=..., temperature=..., top_k=..., top_p=..., stop=...)` runs one
  compiled loop per call (jax.jit / tf.function / torch no_grad) that feeds each new
  token through the blocks against a key/value cache; `use_cache=False` re-reads the
  whole window each step instead (for tests and timing). Random draws are numpy
  uniforms from `seed`, so the same seed gives the same text on the same backend.
"""

import keras
import numpy as np
from keras import layers, ops

from zoo.core import backend, guard
from zoo.errors import DataError
from zoo.networks.transformer import TransformerBlock, normal
from zoo.progress import Progress
from zoo.tasks import Option, TextGenerator, register_model
from zoo.text import CharTokenizer, RandomWindows, UnknownCharacterError, windows  # noqa: F401


# -- the model ---------------------------------------------------------------------------------
@register_model
class GPT(TextGenerator):
    family = "text"
    pipeline_tag = "text-generation"
    card_tags = ("text-generation", "character-level", "gpt")
    limits = "Its text imitates its corpus and can be wrong, archaic or offensive; it knows nothing beyond it. "

    @classmethod
    def usage(cls, card):
        return ['print(model.generate("\\n", seed=0))']

    def __init__(self, vocabulary, block_size=128, num_layers=4, num_heads=4, embed_dim=128,
                 dropout=0.1, **kwargs):
        kwargs.setdefault("name", "gpt")
        super().__init__(**kwargs)
        self.tokenizer = CharTokenizer(vocabulary)
        self.block_size, self.num_layers, self.num_heads = int(block_size), int(num_layers), int(num_heads)
        self.embed_dim, self.dropout = int(embed_dim), float(dropout)
        self.token_embedding = layers.Embedding(len(self.tokenizer), embed_dim,
                                                embeddings_initializer=normal(), name="token_embedding")
        self.position_embedding = layers.Embedding(block_size, embed_dim,
                                                   embeddings_initializer=normal(), name="position_embedding")
        self.drop = layers.Dropout(dropout)
        self.blocks = [TransformerBlock(num_heads, dropout=dropout, name=f"block_{i}")
                       for i in range(num_layers)]
        self.final_norm = layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        self.token_embedding.build((None, None))
        self.position_embedding.build((None,))
        for layer in (*self.blocks, self.final_norm):
            layer.build((None, None, embed_dim))
        self.add_trackers("loss")
        self._compiled = {}  # compiled sampling loops (by settings) and scoring
        self.build()

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.tokenizer.vocabulary,
                "block_size": self.block_size, "num_layers": self.num_layers,
                "num_heads": self.num_heads, "embed_dim": self.embed_dim, "dropout": self.dropout}

    @property
    def vocab_size(self):
        return len(self.tokenizer)

    def _logits(self, h, call=lambda layer, x: layer(x)):
        # weight tying: the output layer is the token embedding, transposed
        return ops.matmul(call(self.final_norm, h), ops.transpose(self.token_embedding.embeddings))

    def call(self, ids, training=False):
        """Token ids (batch, length <= block_size) -> logits (batch, length, vocab)."""
        positions = ops.arange(ops.shape(ids)[1])
        h = self.drop(self.token_embedding(ids) + self.position_embedding(positions), training=training)
        for block in self.blocks:
            h = block(h, training=training)
        return self._logits(h)

    def call_cached(self, ids, cache, index):
        """The tokens `ids` at positions index, index+1, ... against the key/value cache
        (one (keys, values) pair per block); returns (logits, new cache)."""
        positions = index + ops.arange(ops.shape(ids)[1])
        h = backend.call_layer(self.token_embedding, ids) + backend.call_layer(self.position_embedding, positions)
        new_cache = []
        for block, block_cache in zip(self.blocks, cache):
            h, block_cache = backend.call_layer(block, h, cache=block_cache, index=index)
            new_cache.append(block_cache)
        return self._logits(h, backend.call_layer), tuple(new_cache)

    def empty_cache(self, batch_size):
        shape = (batch_size, self.block_size, self.num_heads, self.embed_dim // self.num_heads)
        return tuple((ops.zeros(shape), ops.zeros(shape)) for _ in self.blocks)

    # -- training ----------------------------------------------------------------------------
    def check_tokens(self, x):
        if len(x.shape) != 2 or (x.shape[1] is not None and x.shape[1] > self.block_size):
            raise ValueError(f"{self.name} takes token ids of shape (batch, length <= "
                             f"{self.block_size}); got {tuple(x.shape)}")

    def check_batch(self, data, where, whole=False):
        """Host-side: (inputs, targets) of integer token ids in [0, vocab_size)."""
        super().check_batch(data, where, whole)
        for ids in guard.arrays(data):
            if ids.dtype.kind not in "iu" or (ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size)):
                form = ids.dtype if ids.dtype.kind not in "iu" or not ids.size else f"ids in [{ids.min()}, {ids.max()}]"
                raise DataError(f"{where}: {self.name} trains on integer token ids in [0, {self.vocab_size - 1}]; "
                                f"got {form}")

    def next_token_loss(self, data, training):
        x, y = data
        self.check_tokens(x)
        logits = ops.cast(self(x, training=training), "float32")  # softmax in float32 under mixed precision
        return ops.mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))

    def logs(self, loss):
        logs = self.update_trackers(loss=loss)
        return {**logs, "perplexity": ops.exp(logs["loss"])}

    def train_step(self, data):
        variables = self.trainable_variables
        loss, grads = self.value_and_grad(lambda: self.next_token_loss(data, training=True), variables)
        self.optimizer.apply(grads, variables)
        return self.logs(loss)

    def test_step(self, data):
        return self.logs(self.next_token_loss(data, training=False))

    def compile(self, optimizer=None, **kwargs):
        """Defaults to nanoGPT's AdamW (lr 1e-3, betas 0.9/0.99, weight decay 0.1, clipnorm 1)."""
        if optimizer is None:
            optimizer = keras.optimizers.AdamW(1e-3, beta_1=0.9, beta_2=0.99, weight_decay=0.1,
                                               clipnorm=1.0)
            optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "embeddings"])
        super().compile(optimizer=optimizer, **kwargs)

    def score(self, ids, batch_size=64):
        """Mean next-token cross-entropy (nats per character) over a token sequence, in
        non-overlapping windows of block_size: the validation loss in the cards."""
        if "score" not in self._compiled:
            self._compiled["score"] = backend.compile_inference(
                lambda x, y: self.next_token_loss((x, y), training=False), self.variables)
        x, y = windows(ids, self.block_size)
        total = sum(float(ops.convert_to_numpy(self._compiled["score"](x[i:i + batch_size], y[i:i + batch_size])))
                    * y[i:i + batch_size].size for i in range(0, len(x), batch_size))
        return total / y.size

    # -- sampling --------------------------------------------------------------------------------
    @staticmethod
    def pick(logits, u, temperature, top_k, top_p):
        """One token per row from logits (batch, vocab): temperature, then top-k, then
        top-p (nucleus) filtering, then the inverse CDF at the uniform draws u (batch,)."""
        if temperature == 0:
            return ops.cast(ops.argmax(logits, axis=-1), "int32")
        logits = logits / temperature
        if top_k:
            kth = ops.top_k(logits, int(top_k))[0][:, -1:]
            logits = ops.where(logits < kth, -np.inf, logits)
        probs = ops.softmax(logits, axis=-1)
        if top_p is not None and top_p < 1.0:
            ranked = ops.top_k(probs, probs.shape[-1])[0]  # descending
            before = ops.cumsum(ranked, axis=-1) - ranked  # mass of the more likely tokens
            smallest_kept = ops.min(ops.where(before < top_p, ranked, np.inf), axis=-1, keepdims=True)
            probs = ops.where(probs >= smallest_kept, probs, 0.0)
        cdf = ops.cumsum(probs, axis=-1)
        below = ops.cast(cdf < u[:, None] * cdf[:, -1:], "int32")
        return ops.minimum(ops.sum(below, axis=-1), probs.shape[-1] - 1)

    def _sampler(self, temperature, top_k, top_p, use_cache):
        key = (temperature, top_k, top_p, use_cache)
        if key in self._compiled:
            return self._compiled[key]

        def cached(ids, uniforms):
            batch, start, steps = ids.shape[0], ids.shape[1], uniforms.shape[0]
            logits, cache = self.call_cached(ids, self.empty_cache(batch), 0)
            out = ops.zeros((batch, steps), "int32")

            def body(i, state):
                logits, cache, out = state
                token = self.pick(logits, uniforms[i], temperature, top_k, top_p)
                out = ops.slice_update(out, (0, i), token[:, None])
                logits, cache = self.call_cached(token[:, None], cache, start + i)
                return logits[:, -1], cache, out

            return ops.fori_loop(0, steps, body, (logits[:, -1], cache, out))[2]

        def uncached(ids, uniforms):
            batch, start, steps = ids.shape[0], ids.shape[1], uniforms.shape[0]
            window = ops.concatenate([ids, ops.zeros((batch, steps), "int32")], axis=1)

            def body(i, window):
                logits = ops.take(self(window), start + i - 1, axis=1)  # the causal mask hides the rest
                token = self.pick(logits, uniforms[i], temperature, top_k, top_p)
                return ops.slice_update(window, (0, start + i), token[:, None])

            return ops.fori_loop(0, steps, body, window)[:, start:]

        self._compiled[key] = backend.compile_inference(cached if use_cache else uncached, self.variables)
        return self._compiled[key]

    def sampling_options(self):
        return [
            Option("max_new_tokens", "int", 200, low=0, high=1_000_000, help="characters to add to the prompt"),
            Option("temperature", "float", 1.0, low=0.0, high=5.0,
                   help="softmax temperature; 0 picks the likeliest (at 5 the characters are near uniform)"),
            Option("top_k", "int", None, low=1, high=self.vocab_size, nullable=True,
                   help="keep the k likeliest characters (None: all)"),
            Option("top_p", "float", None, low=0.0, low_open=True, high=1.0, nullable=True,
                   help="keep the smallest set of characters with this much probability (None: all)"),
            Option("stop", "text", None, nullable=True, help="cut each text after this character of the new text"),
            Option("use_cache", "bool", True, help="the key/value cache (false re-reads the window: same text, slower)"),
        ]

    def generate_texts(self, prompt, num, seed, batch_size=None, progress=False, max_new_tokens=200, temperature=1.0,
                       top_k=None, top_p=None, stop=None, use_cache=True):
        """The contract's generate(): `num` continuations of `prompt` (prompt included).
        `stop`: cut each text after the first such character of the new text. Beyond
        block_size characters, the context restarts from the last block_size/2 characters
        (the sampler's window moves by halves)."""
        ids = np.repeat(self.tokenizer.encode(prompt)[None], num, axis=0)
        uniforms = np.random.default_rng(seed).random((max_new_tokens, num)).astype("float32")
        sampler = self._sampler(temperature, top_k, top_p, use_cache)
        bar = Progress(max_new_tokens, unit="character", label=f"{self.name}: {num} text(s)") if progress else None
        context, new, done = ids[:, -(self.block_size - 1):], [], 0  # room for one new token at least
        while done < len(uniforms):
            steps = min(len(uniforms) - done, self.block_size - context.shape[1])
            tokens = np.asarray(ops.convert_to_numpy(sampler(context, uniforms[done:done + steps])), np.int32)
            new.append(tokens)
            done += steps
            if bar is not None:
                bar.add(steps)
            context = np.concatenate([context, tokens], axis=1)[:, -(self.block_size // 2):]
        new = np.concatenate(new, axis=1) if new else np.zeros((num, 0), np.int32)
        texts = []
        for row in new:
            text = self.tokenizer.decode(row)
            if stop and stop in text:
                text = text[: text.index(stop) + 1]
            texts.append(prompt + text)
        return texts
