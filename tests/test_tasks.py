"""The generation contract (zoo.tasks), the adversarial losses, and what the registry
accepts as a zoo model."""

import json

import keras
import numpy as np
import pytest
from conftest import numpy, small_gan

import zoo
from zoo.errors import PresetError
from zoo.models.adversarial import R1, AdversarialModel
from zoo.tasks import ImageGenerator, OptionError, TextGenerator


@pytest.mark.parametrize("call, message", [
    (lambda m: m.generate(2.0), r"num must be a whole number from 0 to 100000; got 2.0"),
    (lambda m: m.generate(True), r"num must be a whole number from 0 to 100000; got True"),
    (lambda m: m.generate(-1), r"num must be a whole number from 0 to 100000; got -1"),
    (lambda m: m.generate(2, seed=-3), r"seed must be a whole number from 0 to 4294967295; got -3"),
    (lambda m: m.generate(2, seed=1.5), "seed must be a whole number from 0 to 4294967295; got 1.5"),
    (lambda m: m.generate(2, batch_size=0), r"batch_size must be in \[1, inf\]; got 0"),
    (lambda m: m.generate(2, steps=10), "gan has no option 'steps'; its options: none"),
    (lambda m: m.generate(), "give the number of images to draw"),
])
def test_the_image_contract_refuses_bad_arguments_by_name(call, message):
    with pytest.raises(OptionError, match=message):
        call(small_gan())


@pytest.mark.once_under("tensorflow", "the declarations are plain Python, the same on every backend "
                                      "(building every preset takes JAX close to a minute)")
def test_every_generative_preset_declares_valid_defaults_and_a_flag_for_each_option():
    from zoo.cli import option_parser


    for name in zoo.list_models():
        model = zoo.registry.Preset(name).build()
        if isinstance(model, (ImageGenerator, TextGenerator)):
            model.check_defaults()
            flags = {a.dest for a in option_parser(model, name)._actions}
            assert flags == {o.name for o in model.call_options() + model.sampling_options()}, name


def test_a_text_model_refuses_bad_options_by_name():
    from zoo.models.gpt import GPT

    model = GPT(list("ab \n"), block_size=8, num_layers=1, num_heads=1, embed_dim=8)
    for kwargs, message in [({"temperature": -1.0}, r"temperature must be in \[0, 5\]"),
                            ({"top_k": 0}, r"top_k must be in \[1, 4\]"),
                            ({"top_p": 1.5}, r"top_p must be in \(0, 1\]"),
                            ({"max_new_tokens": 3.0}, "max_new_tokens must be an integer"),
                            ({"use_cache": 1}, "use_cache must be true or false"),
                            ({"stop": 5}, "stop must be a string")]:
        with pytest.raises(OptionError, match=message):
            model.generate("a", seed=0, **kwargs)
    with pytest.raises(OptionError, match="prompt must be a non-empty string"):
        model.generate("", max_new_tokens=2)
    assert model.generate("a", 3, seed=0, max_new_tokens=4, top_k=None) == model.generate("a", 3, seed=0,
                                                                                           max_new_tokens=4)


class LinearCritic(AdversarialModel):
    """A Dense generator against a linear discriminator D(x) = <W, x> + b, whose input
    gradient is W for every image: R1 = ||W||^2."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        z = keras.Input((4,))
        g = keras.Model(z, keras.layers.Reshape((2, 2, 1))(keras.layers.Dense(4, activation="tanh")(z)))
        x = keras.Input((2, 2, 1))
        d = keras.Model(x, keras.layers.Dense(1)(keras.layers.Flatten()(x)))
        self.setup((2, 2, 1), 4, 0, g, d, R1(gamma=10.0))


def test_the_r1_penalty_is_the_squared_input_gradient_of_real_images():
    model = LinearCritic()
    model.compile()
    w = numpy(model.discriminator.layers[-1].kernel).ravel()
    history = model.fit(np.zeros((8, 2, 2, 1), "uint8"), batch_size=8, epochs=1, verbose=0)
    np.testing.assert_allclose(history.history["r1_penalty"][0], np.sum(w ** 2), rtol=1e-5)
    assert set(history.history) == {"d_loss", "g_loss", "d_real", "d_fake", "r1_penalty"}


def resign_config(path, **card):
    """The card of the preset at `path` updated with `card` and the sha256 of its rewritten config."""
    meta = json.loads((path / "metadata.json").read_text())
    meta.update(card)
    meta["files"]["config.json"] = zoo.io.sha256(path / "config.json")
    (path / "metadata.json").write_text(json.dumps(meta))


def test_a_config_naming_anything_but_a_zoo_model_is_refused(tmp_path):
    gan = small_gan()
    path = zoo.save_preset(gan, tmp_path / "p", dataset="fixture")
    config, card = (path / "config.json").read_bytes(), (path / "metadata.json").read_bytes()
    sequential = keras.saving.serialize_keras_object(keras.Sequential([keras.layers.Dense(1)]))
    (path / "config.json").write_text(json.dumps({**sequential, "registered_name": "zoo>Sequential"}))
    with pytest.raises(PresetError, match="config.json is corrupt or was modified"):
        zoo.load(path)  # against the card's sha256; with the card rewritten too, the class is checked:
    resign_config(path)
    with pytest.raises(PresetError, match="does not describe a zoo model .*'zoo>Sequential'"):
        zoo.load(path)
    (path / "config.json").write_bytes(config)
    (path / "metadata.json").write_bytes(card)
    assert isinstance(zoo.load(path), type(gan))


def test_a_config_of_the_old_ddpm_class_loads_as_a_diffusion_model(tmp_path):
    """A preset written before DDPM was renamed DiffusionModel (as ddpm_anime's still is) loads as the
    new class and draws what the renamed one draws; built here, so no shipped retrain can retire it."""
    import shutil

    from zoo.models.diffusion import DiffusionModel

    path = tmp_path / "old"
    shutil.copytree(zoo.registry.Preset("ddpm_mnist").path, path)
    config = json.loads((path / "config.json").read_text())
    config.update(class_name="DDPM", registered_name="zoo>DDPM")
    (path / "config.json").write_text(json.dumps(config))
    resign_config(path, **{"class": "DDPM"})
    preset = zoo.registry.Preset(path)
    assert isinstance(preset.load(), DiffusionModel)
    assert preset.dataset["name"] == "mnist" and preset.family == "diffusion"
    options = dict(sampler="ddim", steps=2, seed=3)
    np.testing.assert_array_equal(preset.load().generate(2, progress=False, **options),
                                  zoo.load("ddpm_mnist").generate(2, progress=False, **options))


@pytest.mark.once_under("torch", "what an option's range end gives is the same on every backend")
def test_every_numeric_option_has_two_ends_and_they_give_finite_varied_samples():
    """An option's declared range is one in which sampling stays meaningful: eta 10**6 turned
    the images to noise, guidance 10**6 saturated every pixel. Every int and float option of
    every shipped generator declares both ends; the ends of the cheap ones are tried here (the
    diffusion models' at 2 steps)."""
    import warnings

    from zoo import registry
    from zoo.tasks import Generator, TextGenerator

    cheap = {"gan_mnist", "vae_mnist", "stylegan_anime", "gpt_shakespeare", "ddpm_mnist", "txt2img_fashion",
             "cgan_mnist"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {name: registry.load(name) for name in registry.list_models()}
    for name, model in models.items():
        if not isinstance(model, Generator):
            continue
        for option in model.sampling_options():
            if option.kind not in ("int", "float"):
                continue
            assert option.low is not None and option.high is not None, f"{name}: {option.name} has an open end"
            if name not in cheap:
                continue
            for end in (option.low, option.high):
                value = end + (1e-3 if option.kind == "float" else 1) if option.low_open and end == option.low else end
                settings = {option.name: value, **{k: v[0] if isinstance(v, (list, tuple)) else v
                                                   for k, v in option.when.items()}}
                if option.name != "steps" and any(o.name == "steps" for o in model.sampling_options()):
                    settings.setdefault("steps", 2)
                if option.name in ("max_new_tokens", "steps") and end == option.high:
                    continue  # a bound on work (the demo's time limit), not on meaning: tried by the battery
                if isinstance(model, TextGenerator):
                    text = model.generate("the ", seed=0, **{"max_new_tokens": 20, **settings})
                    assert len(text) == 4 + settings.get("max_new_tokens", 20), (name, option.name, value)
                    continue
                images = model.generate(4, seed=0, progress=False, **settings)
                saturated = np.mean((images == 0) | (images == 255))
                # not one colour, and not saturated (MNIST's own digits leave ~80% of pixels at 0)
                assert images.std() > 5 and saturated < 0.9, (name, option.name, value, images.std(), saturated)


def test_keras_hub_and_diffusers_names_latents_and_pil_images():
    """Users of keras-hub and diffusers pass num_steps / num_inference_steps, latents= (the
    starting noise) and ask for PIL images."""
    from zoo import registry

    ddpm = registry.load("ddpm_mnist")
    x_T = ddpm.sample_noise(2, seed=5)
    same = ddpm.generate(2, seed=5, steps=3, progress=False)
    np.testing.assert_array_equal(ddpm.generate(latents=x_T, seed=5, num_steps=3, progress=False), same)  # seed: the steps' noise
    np.testing.assert_array_equal(ddpm.generate(2, seed=5, num_inference_steps=3, progress=False), same)
    with pytest.raises(OptionError, match="num_steps is another name for steps; give one of them"):
        ddpm.generate(2, steps=3, num_steps=3)
    with pytest.raises(OptionError, match=r"latents are float arrays of shape \(N, 28, 28, 1\)"):
        ddpm.generate(latents=np.zeros((2, 100), "float32"))
    gan = registry.load("gan_mnist")
    z = gan.sample_noise(3, seed=1)
    pictures = gan.generate(latents=z, output_type="pil")
    assert [p.size for p in pictures] == [(28, 28)] * 3 and pictures[0].mode == "L"
    np.testing.assert_array_equal(np.stack([np.asarray(p) for p in pictures])[..., None], gan.generate(3, seed=1))
    with pytest.raises(OptionError, match="num is 4 but 3 latents were given"):
        gan.generate(4, latents=z)
