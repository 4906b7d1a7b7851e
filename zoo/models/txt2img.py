"""Text to image: a diffusion model conditioned on a prompt (GLIDE / Imagen / Stable Diffusion's
recipe, small), with classifier-free guidance, negative prompts and DALL-E-style reranking by
CLIP.

Presets `txt2img_anime` (32x32 faces from hair/eye colour prompts) and `txt2img_fashion`
(28x28 clothes from their names: "a sneaker", "a photo of a dress").

* Text encoder: zoo's `TextTower` (the bidirectional Transformer of zoo.models.clip), either
  copied from a CLIP preset and frozen (`train_text=False`) or trained with the UNet. A
  prompt gives its pooled, L2-normalised embedding and, with `cross_attention`, its words'
  last states and their mask.
* UNet (zoo/networks/unet.py): the pooled embedding joins the time embedding
  (`cond_projection`), which every residual block reads (added, or as a FiLM scale and shift
  with `film=True`); the word states are read by cross-attention at the resolution indices
  in `cross_attention` and in the middle (None: no cross-attention).
* The empty prompt is the unconditional one: its condition is a learned null embedding
  (and one learned null word). Training replaces a caption by it with probability
  `caption_dropout`; untagged images train it always.
* Sampling (DiffusionModel's compiled loop): eps = eps_neg + s (eps_c - eps_neg), eps_neg the
  null prompt's, or the negative prompt's where one is given; a scale s <= 1 means no
  guidance (keras-hub's `TextToImage` convention).
* Reranking: `candidates=k` draws k images per output and keeps the one the CLIP preset
  `reranker` scores best against its prompt.

`fit(images, token_ids)`: uint8 images (N, H, W, C) (or floats in [-1, 1]) and int token ids
(N, length) from `model.tokenizer.encode` (all 0: the empty prompt).
"""

import numbers

import keras
import numpy as np
from keras import ops

from zoo.errors import DataError
from zoo.images import resize
from zoo.models.clip import l2_normalize
from zoo.models.diffusion import MAX_GUIDANCE, DiffusionModel
from zoo.networks.transformer import TextTower
from zoo.networks.unet import build_unet, unconditional_layers
from zoo.tasks import Option, OptionError, register_model
from zoo.text import WordTokenizer


@register_model
class TextToImage(DiffusionModel):
    family = "text-to-image"
    pipeline_tag = "text-to-image"
    card_tags = ("text-to-image", "diffusion")

    @classmethod
    def usage(cls, card):
        example, negative = card.get("example_prompt") or "", card.get("example_negative_prompt") or ""
        return [f'images = model.generate("{example}", num=16, guidance_scale=3, seed=0)   # uint8 (16, H, W, C)',
                f'images = model.generate({{"prompts": "{example}", "negative_prompts": "{negative}"}}, num=4)']

    def __init__(self, vocabulary, length=12, text_width=128, text_layers=2, text_heads=4, embed_dim=128,
                 cross_attention=(1,), film=False, train_text=False, caption_dropout=0.15, reranker=None,
                 guidance_scale=3.0, **kwargs):
        self.tokenizer = WordTokenizer(vocabulary, length)
        self.text_width, self.text_layers, self.text_heads = int(text_width), int(text_layers), int(text_heads)
        self.embed_dim, self.film, self.train_text = int(embed_dim), bool(film), bool(train_text)
        self.cross_attention = None if cross_attention is None else tuple(int(c) for c in cross_attention)
        self.caption_dropout, self.reranker = float(caption_dropout), reranker
        kwargs.setdefault("name", "txt2img")
        kwargs.pop("num_classes", None)
        super().__init__(guidance_scale=guidance_scale, **kwargs)

    def build_encoder(self):
        self.text_tower = TextTower(len(self.tokenizer), self.tokenizer.length, self.text_width, self.text_layers,
                                    self.text_heads, self.embed_dim, name="text_tower")
        self.text_tower.trainable = self.train_text
        self.null_cond = self.add_weight(shape=(self.embed_dim,), initializer="zeros", name="null_cond")
        self.null_word = self.add_weight(shape=(self.text_width,), initializer="zeros", name="null_word")
        self.set_reranker(None)

    def build_network(self, name):
        context = {} if self.cross_attention is None else dict(
            context_dim=self.text_width, context_length=self.tokenizer.length, cross_attention=self.cross_attention)
        return build_unet(self.image_shape, self.widths, self.blocks, self.attention, self.dropout, name=name,
                          cond_dim=self.embed_dim, film=self.film, **context)

    def get_config(self):
        config = {**super().get_config(), **self.tokenizer.get_config(), "text_width": self.text_width,
                  "text_layers": self.text_layers, "text_heads": self.text_heads, "embed_dim": self.embed_dim,
                  "cross_attention": self.cross_attention, "film": self.film, "train_text": self.train_text,
                  "caption_dropout": self.caption_dropout, "reranker": self.reranker}
        config.pop("num_classes")
        config.pop("cond_dropout")
        return config

    def start_from(self, diffusion):
        """Takes an unconditional DiffusionModel's UNet (its trained and EMA weights) for this
        model's, with the layers the text adds (`cond_projection`, the cross-attention's output)
        at zero: before training, every prompt gives that model's predictions."""
        for target in (self.network, self.ema_network):
            source = diffusion.network if target is self.network else diffusion.ema_network
            for a, b in zip(unconditional_layers(source), unconditional_layers(target), strict=True):
                b.set_weights(a.get_weights())
            for layer in target.layers:
                if layer.name == "cond_projection":
                    layer.kernel.assign(np.zeros(layer.kernel.shape, "float32"))
                elif layer.name.startswith("cross_attention_") and not layer.name.endswith("_norm"):
                    for weight in layer._output_dense.weights:  # Keras' MultiHeadAttention's output projection
                        weight.assign(np.zeros(weight.shape, "float32"))

    # -- the condition of a prompt -------------------------------------------------------
    def encode(self, ids, drop=None, training=False):
        """Token ids (N, length) -> the UNet's condition inputs: [pooled embedding] (+ [word
        states, mask] with cross-attention). All-padding rows (the empty prompt), and rows
        where `drop` is true, get the learned null condition."""
        ids = ops.cast(ids, "int32")
        states, mask = self.text_tower.states(ids, training=training)
        null = ops.logical_not(ops.any(mask, axis=1))
        if drop is not None:
            null = ops.logical_or(null, drop)
        pooled = l2_normalize(self.text_tower.pool(states, mask))
        condition = [ops.where(null[:, None], ops.cast(self.null_cond, "float32")[None, :], pooled)]
        if self.cross_attention is None:
            return condition
        first = ops.cast(ops.equal(ops.arange(self.tokenizer.length), 0), "float32")[None, :]  # one null word
        null_states = first[:, :, None] * ops.cast(self.null_word, "float32")[None, None, :]
        states = ops.where(null[:, None, None], null_states, ops.cast(states, "float32"))
        mask = ops.where(null[:, None], first, ops.cast(mask, "float32"))
        return [*condition, states, mask]

    def encode_prompts(self, prompts):
        """Prompts -> the condition inputs (numpy float32); an unknown word is refused by name."""
        return [ops.convert_to_numpy(c).astype("float32") for c in self.encode(self.tokenizer.encode(list(prompts)))]

    # -- the hooks of DiffusionModel -------------------------------------------------------
    def check_batch(self, data, where, whole=False):
        super().check_batch(data, where, whole)
        x, ids, _ = keras.utils.unpack_x_y_sample_weight(data)
        if ids is None:
            raise DataError(f"{where}: {self.name} trains on (images, token ids); got images alone")
        if isinstance(ids, np.ndarray):
            self.tokenizer.check_ids(ids, where)

    def condition_of_batch(self, data, batch):
        drop = self.draw(keras.random.uniform, (batch,)) < self.caption_dropout
        return [data[1], drop]

    def network_condition(self, condition, training):
        ids, drop = condition
        return self.encode(ids, drop, training=training)

    def condition_for_sampling(self, settings, index):
        return self.encode_prompts(settings["prompt"][index])

    def null_condition(self, condition):
        return self.encode_prompts([""] * len(condition[0]))

    def guidance_condition(self, settings, index, condition):
        if settings.get("negative_prompt") is None:
            return self.null_condition(condition)
        return self.encode_prompts(settings["negative_prompt"][index])

    def serving(self):
        """The denoiser given token ids (the text tower and the EMA UNet): a sampler with
        guidance is a short loop around it (ids of the empty prompt, all 0, give the null
        prediction)."""
        shape = ", ".join(map(str, self.image_shape))
        length = self.tokenizer.length
        inputs = [("x_t", (None, *self.image_shape), "float32"), ("t", (None,), "int32"),
                  ("token_ids", (None, length), "int32")]
        return (inputs, lambda x, t, ids: ops.cast(self.ema_network([x, t, *self.encode(ids)], training=False),
                                                   "float32"),
                f"the denoiser: x_t float32 (N, {shape}), t int32 (N,) in [0, {self.timesteps - 1}] and token_ids "
                f"int32 (N, {length}) (the vocabulary is in config.json; 0 pads; all 0: the unconditional prompt) "
                f"-> the predicted noise eps float32 (N, {shape}); {self.schedule.kind} schedule, T = {self.timesteps}")

    # -- generate: the contract ----------------------------------------------------------
    def generate(self, inputs=None, num=None, seed=None, **options):
        """keras-hub's TextToImage call: `inputs` is a prompt, a list of prompts (one per image)
        or {"prompts": ..., "negative_prompts": ...}; an integer is `num` (images of the default,
        empty prompt: unconditional). Returns numpy uint8 (N, H, W, C)."""
        if isinstance(inputs, numbers.Integral) and not isinstance(inputs, bool):
            if num is not None:
                raise OptionError(f"give num once; got {inputs} and num={num}")
            inputs, num = None, inputs
        if isinstance(inputs, dict):
            unknown = sorted(set(inputs) - {"prompts", "negative_prompts"})
            if unknown or "prompts" not in inputs:
                raise OptionError(f"inputs as a dict holds 'prompts' and optionally 'negative_prompts'; got keys "
                                  f"{sorted(inputs)}")
            given = {"prompt": inputs["prompts"], "negative_prompt": inputs.get("negative_prompts")}
        elif inputs is not None:
            given = {"prompt": inputs}
        else:
            given = {}
        for key, value in given.items():
            if value is not None and key in options:
                raise OptionError(f"give the {key} once: as inputs or as {key}=")
            if value is not None:
                options[key] = value
        return super().generate(num, seed, **options)

    def sampling_options(self):
        options = [o for o in super().sampling_options() if o.name != "guidance_scale"]
        options += [Option("prompt", "prompts", None, nullable=True,
                           help="what to draw, one prompt per image or one for all (default: the empty, "
                                "unconditional prompt)"),
                    Option("negative_prompt", "prompts", None, nullable=True,
                           help="what guidance steers away from, instead of the empty prompt"),
                    Option("guidance_scale", "float", self.guidance_scale, low=0.0, high=MAX_GUIDANCE,
                           label="cfg {value:g}", help="classifier-free guidance; <= 1: none (past about 20 the "
                           "images saturate)")]
        if self.reranker:
            options.append(Option("candidates", "int", 1, low=1, high=64,
                                  help=f"images drawn per output, the one {self.reranker} scores best kept"))
        return options

    def check_settings(self, settings, given):
        settings = super().check_settings(settings, given)
        for key in ("prompt", "negative_prompt"):
            if settings[key] is not None:
                try:
                    self.tokenizer.encode(list(settings[key]))
                except ValueError as e:
                    raise OptionError(f"{key}: {e}") from None
        return settings

    def resolve_condition(self, settings, num):
        if settings.get("prompt") is None:
            settings["prompt"] = np.array([""], dtype=object)
        self.resolve_num(num, settings)
        return settings

    def evaluation_options(self, num):
        return {}

    @property
    def grid_columns(self):
        return None

    def generate_images(self, num, seed, batch_size=None, progress=True, latents=None, candidates=1, **settings):
        """DiffusionModel's sampling; with `candidates` k > 1, k images per prompt, the best by CLIP
        score kept (for an empty prompt, the first)."""
        if not candidates or candidates == 1:
            return super().generate_images(num, seed, batch_size, progress, latents=latents, **settings)
        if latents is not None:
            raise OptionError("latents fix each image's noise; candidates draw k noises per image: give one of them")
        settings = self.resolve_condition(settings, num)
        many = {k: (np.repeat(v, candidates) if isinstance(v, np.ndarray) else v) for k, v in settings.items()}
        images = super().generate_images(num * candidates, seed, batch_size, progress, **many)
        scores = np.zeros(num * candidates, "float32")
        named = np.array([p != "" for p in many["prompt"]])  # an empty prompt: nothing to prefer, the first kept
        if named.any():
            scores[named] = self.clip_scores(images[named], many["prompt"][named])
        best = scores.reshape(num, candidates).argmax(axis=1)
        return images.reshape(num, candidates, *images.shape[1:])[np.arange(num), best]

    def set_reranker(self, clip):
        """The CLIP model that scores candidates (default: the preset `reranker`, loaded on first
        use); kept outside the model's tracked state, so its weights are not the model's."""
        object.__setattr__(self, "reranker_model", clip)

    def clip_scores(self, images, prompts):
        """The reranker's CLIP score of each image with its own prompt, (N,)."""
        if self.reranker_model is None:
            if not self.reranker:
                raise OptionError(f"{self.name} has no CLIP reranker (its config's reranker is None)")
            self.set_reranker(self.load_preset(self.reranker))
        clip = self.reranker_model
        if images.shape[1:3] != clip.image_shape[:2]:
            images = resize(images, clip.image_shape[0])
        return np.sum(clip.encode_image(images) * clip.encode_text(list(prompts)), axis=1) * 100.0
