"""Task contracts: what a zoo model promises its users, in the spirit of keras-hub's
`CausalLM` and `TextToImage`.

* `ImageGenerator.generate(num, seed=None, *, batch_size=None, progress=True, **options)`
  -> numpy uint8 images (N, H, W, C). Conditions are options too (`labels=`, `prompt=`).
* `TextGenerator.generate(prompt="\\n", num=None, seed=None, *, batch_size=None,
  progress=True, **options)` -> a text (or a list of `num` texts).
* `FeatureExtractor`: feature networks for `zoo eval`; they embed images and generate
  nothing.
* `ImageTextScorer`: models that score images against prompts (CLIP): `score(images,
  prompts)`, `zero_shot(images, prompts)`; `zoo sample NAME --images DIR --prompts ...`
  prints their scores.

A model declares its sampling options as `Option`s (`sampling_options()`: name, kind,
default, allowed range or choices, help). The base class owns `generate()`: it checks the
count, the seed, the batch size and every option once, with one-line errors that name the
option and the expected form (non-integers, NaN/inf and out-of-range values are refused,
never coerced), fills in the defaults, and calls the model's `generate_images` /
`generate_texts` with complete settings. The CLI builds `zoo sample` flags from the same
declarations, and the evaluation and the benchmarks ask the model for them.
"""

import math
import numbers

import numpy as np

from zoo.core import guard
from zoo.core.model import ZooModel, batched, to_uint8
from zoo.errors import ZooError

MAX_SEED = 2**32 - 1
# other libraries' names for zoo's options (keras-hub's TextToImage, diffusers' pipelines)
ALIASES = {"num_steps": "steps", "num_inference_steps": "steps", "negative_prompts": "negative_prompt"}
MAX_IMAGES = 100_000  # images one generate() call draws (all are held in memory); more: several calls
MAX_TEXTS = 10_000

# -- registration -----------------------------------------------------------------------------
MODELS = {}  # registered name ("zoo>GAN") -> class: what a preset's config.json may name
LEGACY_NAMES = {}  # a name that configs of earlier zoo versions use -> today's registered name


def register_model(cls=None, *, legacy_names=()):
    """Registers a zoo model class where it is defined (as timm's `@register_model`): with
    Keras serialization (package "zoo") and in `MODELS`, which presets are checked against.
    `legacy_names`: class names that earlier versions wrote into configs ("DDPM")."""

    def register(cls):
        import keras

        keras.saving.register_keras_serializable(package="zoo")(cls)
        key = f"zoo>{cls.__name__}"
        if MODELS.get(key, cls) is not cls:
            raise ValueError(f"two zoo models are registered as {cls.__name__}")
        MODELS[key] = cls
        LEGACY_NAMES.update({f"zoo>{old}": key for old in legacy_names})
        return cls

    return register if cls is None else register(cls)


class OptionError(ZooError, ValueError):
    """A generate() argument of the wrong type, range or name."""


def _kind_name(value):
    return type(value).__name__


def check_int(name, value, low=None, high=None):
    """An integer (int or numpy integer, not bool) in [low, high]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise OptionError(f"{name} must be an integer; got {value!r} ({_kind_name(value)})")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise OptionError(f"{name} must be in {_range(low, high)}; got {value}")
    return value


def check_float(name, value, low=None, high=None, low_open=False):
    """A finite real number in [low, high] (or (low, high] with `low_open`)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise OptionError(f"{name} must be a number; got {value!r} ({_kind_name(value)})")
    value = float(value)
    if not math.isfinite(value):
        raise OptionError(f"{name} must be a finite number; got {value}")
    if (low is not None and (value < low or (low_open and value == low))) or (high is not None and value > high):
        raise OptionError(f"{name} must be in {_range(low, high, low_open)}; got {value:g}")
    return value


def _bound(value, infinite):
    if value is None:
        return infinite
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e16 else f"{value:g}"


def _range(low, high, low_open=False):
    return f"{'(' if low_open else '['}{_bound(low, '-inf')}, {_bound(high, 'inf')}]"


def check_count(name, value, low=0, high=None):
    """A number of samples (or texts, steps of a picture): an int in [low, high]. The one check
    of a count, for generate(), the CLI's --num and the demo's boxes, with one message: a
    float, even a whole one, is refused (a number box's whole float is the caller's to turn
    into an int)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or value < low or (high is not None and value > high):
        form = f"from {low} to {high}" if high is not None else f">= {low}"
        raise OptionError(f"{name} must be a whole number {form}; got {value}")
    return int(value)


def check_seed(seed):
    """None (fresh randomness) or a whole number in [0, 2**32 - 1]: the one check of a seed."""
    return None if seed is None else check_count("seed", seed, 0, MAX_SEED)


class Option:
    """One sampling option of a model.

    `kind`: "int", "float", "bool", "choice" (one of `choices`), "text" (a string),
    "labels" (class ids in [0, high], one per sample; a single int is repeated), "prompts"
    (a string, or a list of strings, one per sample; a single one is repeated).
    `low`/`high`: the allowed range (inclusive; `low_open` excludes `low`), `nullable`:
    None is allowed (and means "off" or "the model's choice", as `help` says).
    `when`: {option: values} under which the option applies (e.g. eta only with
    sampler ddim); given outside them it is refused.
    `label`: how a value reads in a table of results (`shown`): None, "name=value"; a format
    string of `value` and the other settings ("η={value:g}"; "" hides it); or a dict from
    values to words (a value it lacks reads "name=value", "" hides it).
    """

    KINDS = ("int", "float", "bool", "choice", "text", "labels", "prompts")

    def __init__(self, name, kind, default=None, help="", low=None, high=None, low_open=False, choices=None,
                 nullable=False, when=None, label=None):
        if kind not in self.KINDS:
            raise ValueError(f"unknown option kind {kind!r}")
        self.name, self.kind, self.default, self.help = name, kind, default, help
        self.low, self.high, self.low_open = low, high, low_open
        self.choices, self.nullable, self.when = tuple(choices or ()), nullable, dict(when or {})
        self.label = label

    def shown(self, value, settings):
        """The words of `value` in a table of results ("" for none)."""
        if isinstance(self.label, dict):
            return self.label.get(value, f"{self.name}={value}")
        if isinstance(self.label, str):
            return self.label.format(value=value, **settings)
        return f"{self.name}={value}"

    def __repr__(self):
        return f"Option({self.name!r}, {self.kind!r}, default={self.default!r})"

    def describe(self):
        """The expected form, for errors and --help."""
        if self.kind == "choice":
            form = "one of " + ", ".join(map(str, self.choices))
        elif self.kind in ("int", "float"):
            form = f"{'an integer' if self.kind == 'int' else 'a number'} in {_range(self.low, self.high, self.low_open)}"
        elif self.kind == "labels":
            form = f"class ids in [0, {self.high}]"
        elif self.kind == "prompts":
            form = "a prompt or a list of prompts (strings)"
        else:
            form = {"bool": "true or false", "text": "a string"}[self.kind]
        return form + (" or None" if self.nullable else "")

    def check(self, value):
        """The value, validated; a clear OptionError otherwise."""
        if value is None:
            if self.nullable:
                return None
            raise OptionError(f"{self.name} must be {self.describe()}; got None")
        if self.kind == "int":
            return check_int(self.name, value, self.low, self.high)
        if self.kind == "float":
            return check_float(self.name, value, self.low, self.high, self.low_open)
        if self.kind == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise OptionError(f"{self.name} must be true or false; got {value!r} ({_kind_name(value)})")
            return bool(value)
        if self.kind == "choice":
            if value not in self.choices:
                raise OptionError(f"unknown {self.name} {value!r}; use one of {', '.join(map(str, self.choices))}")
            return value
        if self.kind == "text":
            if not isinstance(value, str):
                raise OptionError(f"{self.name} must be a string; got {value!r} ({_kind_name(value)})")
            return value
        if self.kind == "prompts":
            return self._prompts(value)
        return self._labels(value)

    def _prompts(self, value):
        texts = [value] if isinstance(value, str) else value
        if not isinstance(texts, (list, tuple, np.ndarray)) or np.ndim(texts) != 1 or not len(texts) \
                or not all(isinstance(t, str) for t in texts):
            raise OptionError(f"{self.name} must be {self.describe()}; got {value!r}")
        return np.array(list(texts), dtype=object)

    def _labels(self, value):
        array = np.asarray(value)
        if array.dtype == object or array.dtype.kind not in "iu" or array.ndim > 1:
            raise OptionError(f"{self.name} must be {self.describe()} (an int or a 1-d list of ints); "
                              f"got {array.dtype} of shape {array.shape}")
        array = array.reshape(-1).astype(np.int64)
        bad = sorted({int(v) for v in array if v < 0 or v > self.high})
        if bad:
            raise OptionError(f"{self.name} must be {self.describe()}; got {bad}")
        return array.astype(np.int32)


class Task(ZooModel):
    """What every zoo model declares about itself, so that the code above the models (cards,
    CLI, demo, evaluation, export) reads declarations and never checks a class or family by
    name. A model class sets the class attributes and overrides the methods that apply; the
    defaults say "none".

    `family`: its family ("gan", "vae", ...: `zoo list --family`); `pipeline_tag` and
    `card_tags`: its model card's Hugging Face pipeline tag and tags (`{family}` is the family); `limits`: a sentence for
    the card's "Intended use and limits" (empty: the dataset's); `usage(card)`: the code lines
    of the card's "Use" block after `model = zoo.load(...)`; `cli_usage`: the card's line on
    the command line (`{name}` is the preset's name; None: no line)."""

    family = None
    pipeline_tag = "other"
    card_tags = ()
    limits = ""
    cli_usage = None
    preset_loader = None  # name -> model; zoo.registry sets it on the models it loads

    def load_preset(self, name):
        """Another preset this model uses (a CLIP reranker), loaded through `preset_loader`:
        the registry gives it to the models it loads, so a model file never imports the
        registry. A model built by hand sets it (`model.preset_loader = zoo.load`)."""
        if self.preset_loader is None:
            raise ZooError(f"{self.name} needs the preset {name!r} but was not loaded by zoo.load; set "
                           "model.preset_loader = zoo.load first")
        return self.preset_loader(name)

    @classmethod
    def usage(cls, card):
        return []

    @classmethod
    def declarations(cls, card):
        """What a model card records of the class (publish.save_preset stores it as the card's
        "task"), so that cards are written and summarised without importing Keras."""
        tags = ["keras", "zoo", *(t.format(family=cls.family) for t in cls.card_tags),
                str(card.get("class", cls.__name__)).lower()]
        return {"pipeline_tag": cls.pipeline_tag, "tags": list(dict.fromkeys(tags)), "usage": cls.usage(card),
                "cli_usage": cls.cli_usage, "limits": cls.limits, "generates": issubclass(cls, Generator)}

    def call_options(self):
        """Options that are named parameters of generate() (a text model's prompt)."""
        return []

    def sampling_options(self):
        """The model's sampling options, a list of `Option`s (none by default)."""
        return []

    def views(self):
        """Pictures beyond a sample grid that the model can draw (the demo shows them):
        {title: function(seed, **options) -> (uint8 images, images per row)}; each takes
        every sampling option the model declares."""
        return {}

    def serving(self):
        """What `zoo export` exports: (inputs as [(name, shape, dtype)], a function of those
        backend tensors, a one-line description), or None where the model has nothing to serve."""
        return None

    def serving_files(self):
        """{suffix: JSON-able content} written beside an export (PATH.suffix): what the serving
        code needs besides the graph (a diffusion model's noise schedule)."""
        return {}


class Generator(Task):
    """What generators share: declared options and their validation."""

    default_num = 1
    default_out = None  # where `zoo sample` writes without --out (None: standard output)
    cli_usage = ("or `zoo sample {name}` (`zoo sample {name} --help` lists its options). Fine-tune it with "
                 "`model.fit` after `zoo.load(..., compile=True)`.")

    def default_of(self, name):
        """The default of the option `name`, as the model declares it (its preset's choice)."""
        declared = {o.name: o for o in self.sampling_options()}
        if name not in declared:
            raise OptionError(f"{self.name} has no option {name!r}; its options: {', '.join(declared) or 'none'}")
        return declared[name].default

    def check_defaults(self):
        """Refuses a model whose configured defaults are not valid values of their options."""
        for option in self.sampling_options():
            option.check(option.default)

    def resolve_options(self, **given):
        """Every sampling option, validated, with the model's defaults for those not given.
        Unknown names, values of the wrong kind or range, and options given where they do
        not apply (see `Option.when`) are refused."""
        declared = {o.name: o for o in self.sampling_options()}
        for alias, name in ALIASES.items():  # keras-hub's and diffusers' names, where they mean the same
            if alias in given and name in declared:
                if name in given:
                    raise OptionError(f"{alias} is another name for {name}; give one of them")
                given[name] = given.pop(alias)
        unknown = [k for k in given if k not in declared]
        if unknown:
            raise OptionError(f"{self.name} has no option {unknown[0]!r}; its options: "
                              f"{', '.join(declared) or 'none'}")
        settings = {name: (option.check(given[name]) if name in given else option.default)
                    for name, option in declared.items()}
        for name, option in declared.items():
            for other, allowed in option.when.items():
                if settings[other] not in allowed:
                    if name in given and given[name] is not None:
                        raise OptionError(f"{name} applies when {other} is {' or '.join(map(str, allowed))}; "
                                          f"{other} is {settings[other]}")
                    settings[name] = None  # does not apply: recorded as such
        return self.check_settings(settings, given)

    def check_settings(self, settings, given):
        """A model's rules across options (e.g. a step count that a sampler fixes); returns
        the settings."""
        return settings

    def describe_settings(self, settings):
        """Resolved settings in words, by the options' labels ("ddim-50 η=1"; "" where
        nothing is shown): what a table of results prints."""
        words = [option.shown(settings[option.name], settings) for option in self.sampling_options()
                 if settings.get(option.name) is not None and not isinstance(settings[option.name], np.ndarray)]
        return " ".join(w for w in words if w)


class ImageGenerator(Generator):
    """A model that draws images. Subclasses declare `sampling_options()` and write
    `generate_images(num, seed, batch_size, progress, **settings)` -> uint8 (N, H, W, C)."""

    default_num = 64
    default_out = "samples.png"
    grid_columns = None  # images per row in a sample grid (None: square)

    def generate(self, num=None, seed=None, *, batch_size=None, progress=True, latents=None, output_type="np",
                 **options):
        """`num` images as numpy uint8 (N, H, W, C); the same seed gives the same images on
        the same backend. Conditions are options (`labels=...`, `prompt=...`): with a
        condition of one entry per image, `num` may be left out. `latents`: the starting noise
        itself (what `sample_noise(num, seed)` draws: z, or a diffusion model's x_T), as
        diffusers' and keras-hub's `latents=`; `output_type="pil"`: a list of PIL images."""
        if output_type not in ("np", "pil"):
            raise OptionError(f"output_type is 'np' (numpy uint8) or 'pil' (PIL images); got {output_type!r}")
        if latents is not None:
            latents = self.check_noise(latents)
            num = len(latents) if num is None else num
            if num != len(latents):
                raise OptionError(f"num is {num} but {len(latents)} latents were given (one per image)")
        settings = self.resolve_options(**options)
        num = self.resolve_num(num, settings)
        seed = check_seed(seed)
        batch_size = None if batch_size is None else check_int("batch_size", batch_size, 1)
        if num == 0:
            images = np.zeros((0, *self.image_shape), np.uint8)
        else:
            given = {} if latents is None else {"latents": latents}
            images = self.generate_images(num, seed, batch_size=batch_size, progress=bool(progress), **given,
                                          **settings)
        if output_type == "pil":
            from PIL import Image

            return [Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image) for image in images]
        return images

    def check_noise(self, latents):
        """Starting noise given by the caller: float, finite, shaped as `sample_noise` draws it."""
        latents = np.asarray(latents)
        shape = self.sample_noise(1, 0).shape[1:]
        if latents.ndim != len(shape) + 1 or latents.shape[1:] != shape or latents.dtype.kind != "f":
            raise OptionError(f"{self.name}: latents are float arrays of shape (N, {', '.join(map(str, shape))}), as "
                              f"sample_noise(N, seed) draws them; got {latents.dtype} {latents.shape}")
        if not np.isfinite(latents).all():
            raise OptionError(f"{self.name}: the latents hold NaN or inf")
        return latents.astype("float32")

    def resolve_num(self, num, settings):
        """The number of images: `num`, or the length of a per-image condition."""
        per_image = [(k, v) for k, v in settings.items() if isinstance(v, np.ndarray)]
        if num is None:
            if not per_image:
                raise OptionError(f"give the number of images to draw (num), e.g. {self.default_num}")
            num = len(per_image[0][1])
        num = check_count("num", num, 0, MAX_IMAGES)
        for key, value in per_image:
            if len(value) == 1 and num != 1:
                settings[key] = np.repeat(value, num)
            elif len(value) != num:
                raise OptionError(f"num is {num} but {len(value)} {key} were given (one per image, or one for all)")
        return num

    def evaluation_options(self, num):
        """Options under which `zoo eval` draws `num` images (a conditional model: every
        class in turn)."""
        return {}

    pipeline_tag = "unconditional-image-generation"

    @classmethod
    def usage(cls, card):
        return ["images = model.generate(16, seed=0)   # uint8 (16, H, W, C)"]

    card_tags = ("image-generation", "{family}")

    def save_samples(self, images, path, nrow=None):
        from zoo import viz

        return viz.save_grid(images, path, nrow=nrow or self.grid_columns)

    def export(self, filepath, format="tf_saved_model", **kwargs):
        """Keras' `export` of what the model serves (`serving()`: latents in, uint8 images out;
        a diffusion model's denoiser), as `zoo export` writes it; formats onnx,
        tf_saved_model, litert (see zoo.export)."""
        from zoo.serving import export_model

        if kwargs:
            raise OptionError(f"{self.name}.export takes a path and a format only; got {', '.join(kwargs)}")
        return export_model(self, format, filepath)


def uint8_images(images):
    """Images in [-1, 1] -> uint8 in [0, 255] as a backend tensor (inside exported graphs)."""
    from keras import ops

    return ops.cast(ops.clip(ops.round((images + 1.0) * 127.5), 0, 255), "uint8")


class LatentImageModel(ImageGenerator):
    """A ZooModel that draws images from latent vectors: subclasses set
    `self.latent_dim` and `self.image_shape` and write `decode_batch(z)` (a backend
    tensor of images in [-1, 1]); `decode`, `sample_noise` and `generate` follow."""

    def sample_noise(self, num_samples, seed=None):
        """Standard-normal latent vectors from numpy's generator: the same seed gives the
        same z on every backend."""
        return np.random.default_rng(seed).standard_normal(
            (int(num_samples), self.latent_dim)).astype("float32")

    def decode(self, z, batch_size=None):
        """Latent vectors (N, latent_dim) -> numpy uint8 images (N, H, W, C)."""
        return batched(lambda zb: to_uint8(self.decode_batch(zb)), self.check_latents(z), batch_size,
                       empty=np.zeros((0, *self.image_shape), np.uint8))

    def check_latents(self, z):
        z = np.asarray(z)
        if z.ndim != 2 or z.shape[1] != self.latent_dim or z.dtype.kind != "f":
            raise ValueError(f"{self.name} decodes float latent vectors of shape (N, {self.latent_dim}); "
                             f"got {z.dtype} {z.shape}")
        if not np.isfinite(z).all():
            raise ValueError(f"{self.name}: the latent vectors hold NaN or inf")
        return z.astype("float32")

    def generate_images(self, num, seed, batch_size=None, progress=True, latents=None, **settings):
        """The contract's generate(): images decoded from `num` latent vectors of `seed` (or the
        `latents` given)."""
        z = self.sample_noise(num, seed) if latents is None else latents
        return self.decode(z, batch_size=batch_size, **settings)

    def views(self):
        return {"interpolation": self.interpolation_view}

    def interpolation_view(self, seed, steps=8, **options):
        """`steps` images on the straight line from seed's latent vector to seed + 1's."""
        settings = self.resolve_options(**options)
        self.resolve_num(steps, settings)
        za, zb = self.sample_noise(1, check_seed(seed)), self.sample_noise(1, check_seed(seed) + 1)
        t = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]
        return self.decode((1 - t) * za + t * zb, **settings), steps

    def serving(self):
        return ([("z", (None, self.latent_dim), "float32")], lambda z: uint8_images(self.decode_batch(z)),
                f"z float32 (N, {self.latent_dim}) drawn from N(0, 1) -> uint8 images (N, "
                f"{', '.join(map(str, self.image_shape))})")

    def check_images(self, images):
        """uint8 images in [0, 255] at the public surface: (N, H, W, C) or one (H, W, C);
        anything else (floats in [0, 1] included) is refused, not converted."""
        return guard.check_uint8_images(images, self.image_shape, self.name)


class TextGenerator(Generator):
    """A model that continues text. Subclasses declare `sampling_options()` and write
    `generate_texts(prompt, num, seed, batch_size, progress, **settings)` -> list of str."""

    def generate(self, prompt="\n", num=None, seed=None, *, batch_size=None, progress=False, **options):
        """Continues `prompt`: the text (prompt included), or a list of `num` texts."""
        settings = self.resolve_options(**options)
        if not isinstance(prompt, str) or not prompt:
            raise OptionError(f"prompt must be a non-empty string (e.g. a newline); got {prompt!r}")
        count = 1 if num is None else check_count("num", num, 0, MAX_TEXTS)
        seed = check_seed(seed)
        batch_size = None if batch_size is None else check_int("batch_size", batch_size, 1)
        texts = self.generate_texts(prompt, count, seed, batch_size=batch_size, progress=bool(progress),
                                    **settings) if count else []
        return texts[0] if num is None else texts

    def call_options(self):
        return [Option("prompt", "text", "\n", help="the text to continue")]

    @staticmethod
    def format_samples(texts, separator="\n\n"):
        """The texts as one string: joined by `separator` (a blank line), ending in a newline."""
        return separator.join(texts) + "\n"

    def save_samples(self, texts, path, nrow=None, separator="\n\n"):
        import pathlib

        from zoo.io import atomic_write

        path = pathlib.Path(path)
        if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"):
            raise OptionError(f"{self.name} writes text, not an image: name the file .txt (got {path})")
        atomic_write(path, self.format_samples(texts, separator))
        return path


class FeatureExtractor(Task):
    """A feature network: `embed(images)` -> (features, {head: probabilities}),
    `features(images)`. It generates nothing; `zoo eval --features NAME` uses it."""


class ImageTextScorer(Task):
    """Scores images against prompts: `score(images, prompts)` -> (N images, N prompts) CLIP
    scores, `zero_shot(images, prompts)` -> each image's probabilities over the prompts. It
    generates nothing; `zoo sample NAME --images DIR --prompts P ...` prints its scores."""
