"""The `zoo` command: list, info, sample, eval, export, train.

    zoo list ['*anime*'] [--family gan]
    zoo info gan_mnist [--json]                            # a summary; --json: the whole card
    zoo sample gan_mnist --num 64 --seed 0 --out grid.png --backend torch
    zoo sample ddpm_mnist --sampler dpmpp_2m --steps 20    # the model's own options
    zoo sample gpt_tang --prompt 落霞与孤鹜齐飞 --max-new-tokens 64
    zoo sample NAME --help                                 # the options NAME takes
    zoo eval dcgan_anime --num 10000                       # FID, KID, precision/recall, IS
    zoo export gan_mnist --format onnx --out gan_mnist.onnx # latent in, uint8 images out
    zoo demo [--port 7860]                                 # a web page on 127.0.0.1 (zoo[demo])
    zoo train gan_mnist --epochs 5 --limit 5000            # the recipe's flags (zoo train NAME --help)

NAME is a shipped preset, a preset folder, hf://owner/repo[@revision] or an https:// URL.

A model's flags are built from the sampling options it declares (zoo.tasks.Option), so
the CLI knows no model by name. Keras is imported only after `--backend` has set
KERAS_BACKEND. Bad input ends with one line on stderr and exit status 2; progress goes to
stderr (plain lines when it is not a terminal), results to stdout. The backends are
compared by `python -m benchmarks.backends` in a source checkout (benchmarks/ is not part
of the installed package).
"""

import argparse
import importlib
import json
import os
import pkgutil
import sys
import warnings

from zoo.errors import ZooError
from zoo.harness import POSITIVE, at_least, number
from zoo.io import atomic_write

BACKENDS = ("tensorflow", "jax", "torch")


class ArgumentError(ZooError):
    pass


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one-line ZooErrors (printed as `zoo: error: ...`)."""

    def error(self, message):
        raise ArgumentError(f"{self.prog}: {message}")


def _backend(args):
    if getattr(args, "backend", None):
        os.environ["KERAS_BACKEND"] = args.backend
    backend = os.environ.get("KERAS_BACKEND")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    try:
        import keras
    except ImportError as e:
        raise ZooError(f"cannot start Keras on the {backend or 'default'} backend ({e}); "
                       f"install it, e.g. pip install 'zoo[{backend or 'tensorflow'}]'") from None
    return keras.backend.backend()


# -- a model's options as flags ------------------------------------------------------
def _nullable(convert):
    def parse(text):
        return None if text.lower() == "none" else convert(text)

    parse.__name__ = convert.__name__
    return parse


def _bool(text):
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise ValueError(text)


_bool.__name__ = "bool (true/false)"


def option_parser(model, prog):
    """A parser of the flags of `model`'s declared options (`--steps` for `steps`); only
    the flags given appear in its result, so the model's defaults hold for the rest."""
    p = Parser(prog=prog, add_help=False, argument_default=argparse.SUPPRESS)
    for option in model.call_options() + model.sampling_options():
        kwargs = {"dest": option.name, "metavar": option.name.upper(),
                  "help": f"{option.help} ({option.describe()}; default: {option.default!r})".replace("%", "%%")}
        if option.kind == "choice":
            kwargs.update(choices=option.choices, metavar=None)
        elif option.kind == "labels":
            kwargs.update(nargs="+", type=int)
        elif option.kind == "prompts":
            kwargs.update(nargs="+", type=str)
        else:
            convert = {"int": int, "float": float, "bool": _bool, "text": str}[option.kind]
            kwargs["type"] = _nullable(convert) if option.nullable else convert
        p.add_argument("--" + option.name.replace("_", "-"), **kwargs)
    return p


def model_options(model, name, rest, prog):
    """The options given as flags in `rest`; `--help` prints the command's flags and the
    model's, and exits."""
    parser = option_parser(model, prog)
    if "-h" in rest or "--help" in rest:
        command = _SUBPARSERS[prog.split()[1]]
        general = command.format_help().split("\n\n", 1)[1] if "\n\n" in command.format_help() else ""
        parser.usage = f"{prog} [{prog.split()[1]}'s flags] [{name}'s options]"
        parser.description = (f"{name} is a {type(model).__name__}" + ("." if parser._actions else
                                                                        "; it takes no options of its own.")
                              + f"\n\n{prog.split()[1]}'s flags:\n" + general.split("options:", 1)[-1].rstrip())
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        print(parser.format_help().replace("options:", f"{name}'s options:", 1))
        raise SystemExit(0)
    options, unknown = parser.parse_known_args(rest)
    if unknown:
        flags = [a.option_strings[0] for a in parser._actions]
        raise ArgumentError(f"{name} has no option {unknown[0]}; its options: {', '.join(flags) or 'none'} "
                            f"(zoo sample {name} --help)")
    return vars(options)


def load_generator(name, model=None):
    from zoo import registry
    from zoo.tasks import Generator, ImageTextScorer

    model = registry.load(name) if model is None else model
    if isinstance(model, ImageTextScorer):
        raise ZooError(f"{name} is a {type(model).__name__}, which generates nothing; it scores images against "
                       f"prompts: zoo sample {name} --images DIR --prompts PROMPT [PROMPT ...]")
    if not isinstance(model, Generator):
        raise ZooError(f"{name} is a {type(model).__name__}, which generates nothing; it embeds images for "
                       f"zoo eval (--features {name})")
    return model


# -- commands --------------------------------------------------------------------------
def cmd_list(args, rest):
    from zoo import registry

    names = registry.list_models(args.family, args.pattern)
    if not names:
        raise ZooError(f"no shipped preset matches {args.pattern!r}" + (f" in family {args.family!r}" if args.family
                                                                         else "") + " (zoo list shows them all)")
    presets = [registry.Preset(name) for name in names]
    widths = (max(len(p.name) for p in presets), max(len(p.family or "") for p in presets))  # columns fit the words
    for preset in presets:
        print(f"{preset.name:{widths[0]}s}  {preset.family or '':{widths[1]}s}  {preset.card.get('description', '')}")


def cmd_info(args, rest):
    from zoo import registry

    from zoo.cards import summary

    preset = registry.Preset(args.name)
    if args.json:
        print(json.dumps(preset.card, indent=2, ensure_ascii=False))
    else:
        print(summary(preset.card, preset.name, preset.path))


def _needs_name(args, command):
    if args.name is None:
        if args.help:
            print(_SUBPARSERS[command].format_help())
            raise SystemExit(0)
        raise ArgumentError(f"zoo {command}: give a preset (a shipped name, a folder, hf://... or https://...); "
                            "zoo list shows the shipped ones")
    if args.help:
        return ["--help"]
    return []


def score_images(model, name, rest):
    """`zoo sample CLIP_NAME --images DIR --prompts P ...`: each image's CLIP score with each
    prompt, and the prompt zero-shot picks."""
    import pathlib

    from zoo import data

    p = Parser(prog=f"zoo sample {name}", add_help=False)
    p.add_argument("--images", required=True, help="an image file or a folder of them (resized to the model's size)")
    p.add_argument("--prompts", nargs="+", required=True, help="the prompts to score each image against")
    if "-h" in rest or "--help" in rest:
        print(p.format_help())
        raise SystemExit(0)
    given, unknown = p.parse_known_args(rest)
    if unknown:
        raise ArgumentError(f"{name} scores images; it takes --images and --prompts, not {unknown[0]}")
    path = pathlib.Path(given.images)
    size, channels = model.image_shape[:2], model.image_shape[-1]
    if path.is_file():
        files = [path]
        images = data.decode_image(path.read_bytes(), size, "L" if channels == 1 else "RGB")[None]
    else:
        images = data.load_image_folder(path, size, channels)
        files = sorted(f for f in path.rglob("*") if f.suffix.lower() in data.IMAGE_SUFFIXES)
    scores, chosen = model.score(images, given.prompts), model.zero_shot(images, given.prompts).argmax(axis=1)
    width = max(len(f.name) for f in files[:len(images)]) if len(files) == len(images) else 8
    labels = [f.name for f in files] if len(files) == len(images) else [f"image {i}" for i in range(len(images))]
    print(f"{'image':<{width}}  " + "  ".join(f"{q[:14]:>14}" for q in given.prompts) + "  zero-shot")
    for label, row, pick in zip(labels, scores, chosen):
        print(f"{label:<{width}}  " + "  ".join(f"{v:>14.2f}" for v in row) + f"  {given.prompts[pick]}")
    print(f"CLIP scores (100 x cosine) of {len(images)} image(s) at {size[0]}x{size[1]} with {name}")


def cmd_sample(args, rest):
    rest = _needs_name(args, "sample") + rest
    backend = _backend(args)
    from zoo import registry
    from zoo.tasks import ImageTextScorer, TextGenerator, check_count

    model = registry.load(args.name)
    if isinstance(model, ImageTextScorer):
        return score_images(model, args.name, rest)
    model = load_generator(args.name, model)
    texts = isinstance(model, TextGenerator)
    if texts and args.nrow is not None:
        raise ArgumentError(f"--nrow lays out image grids; {args.name} writes text")
    if texts and args.view is not None:
        raise ArgumentError(f"--view draws an image model's pictures; {args.name} writes text")
    if not texts and args.separator is not None:
        raise ArgumentError(f"--separator joins texts; {args.name} draws images")
    options = model_options(model, args.name, rest, f"zoo sample {args.name}")
    if args.view is not None:
        return draw_view(model, args, options, backend)
    if args.num is not None:
        check_count("--num", args.num, 1)
    num = args.num
    if num is None and isinstance(model, TextGenerator):
        num = model.default_num
    elif num is None:  # --labels 7 7 1 (a condition per image) gives the count; else the model's default
        per_image = [v for v in model.resolve_options(**options).values() if getattr(v, "ndim", 0) >= 1 and len(v) > 1]
        num = None if per_image else model.default_num
    samples = model.generate(num=num, seed=args.seed, **options)
    out = args.out or model.default_out
    separator = {} if args.separator is None else {"separator": args.separator.replace("\\n", "\n").replace("\\t", "\t")}
    if out is None:
        sys.stdout.write(model.format_samples(samples, **separator))
        return
    path = model.save_samples(samples, out, nrow=args.nrow, **separator)
    print(f"wrote {path} ({len(samples)} samples of {args.name}, {backend} backend)")


def draw_view(model, args, options, backend):
    """`zoo sample NAME --view TITLE`: one of the pictures the model declares (`views()`: a
    latent interpolation, StyleGAN's style mixing, the denoising strip), by its title or the
    start of it."""
    from zoo import viz

    views = model.views()
    found = [t for t in views if t == args.view] or [t for t in views if t.startswith(args.view)]
    if len(found) != 1:
        raise ArgumentError(f"{args.name} has {'no' if not found else 'more than one'} view {args.view!r}; its views: "
                            + (", ".join(repr(t) for t in views) or "none"))
    if args.num is not None:
        raise ArgumentError("--num is for samples; a view draws its own picture (give --seed)")
    images, nrow = views[found[0]](0 if args.seed is None else args.seed, **options)
    out = args.out or f"{found[0].split()[0]}.png"
    path = viz.save_grid(images, out, nrow=args.nrow or nrow)
    print(f"wrote {path} ({found[0]} of {args.name}, {backend} backend)")


def cmd_eval(args, rest):
    rest = _needs_name(args, "eval") + rest
    backend = _backend(args)
    import pathlib

    from zoo import cards, evaluation, publish

    model = load_generator(args.name)
    options = model_options(model, args.name, rest, f"zoo eval {args.name}")
    result = evaluation.evaluate(args.name, num=args.num, features=args.features, seed=args.seed, model=model,
                                 size=args.size, **options)
    print(cards.table_header())
    print(cards.table_row(result))
    print(result["note"])
    out = pathlib.Path(args.out or f"eval_{pathlib.Path(args.name).name}.json")
    atomic_write(out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {out} ({backend} backend)")
    if args.update_card:
        publish.update_card(args.name, {"evaluation": {evaluation.result_key(result): result}})
        print(f"added to the card of {args.name} (metadata.json, \"evaluation\")")


def recipes():
    """{recipe name: module name} of the recipes installed as zoo.recipes."""
    import zoo.recipes

    return {m.name: f"zoo.recipes.{m.name}" for m in pkgutil.iter_modules(zoo.recipes.__path__)
            if not m.name.startswith("_")}


def find_recipe(name):
    """The recipe module for a recipe or preset name, and the flags that pick the preset."""
    known = recipes()
    if name in known:
        return importlib.import_module(known[name]), []
    for module_name in known.values():
        module = importlib.import_module(module_name)
        if name in getattr(module, "VARIANTS", {}):
            return module, ["--variant", name]
    raise ZooError(f"no recipe for {name!r}; recipes: {', '.join(sorted(known)) or 'none'}")


def cmd_export(args, rest):
    if rest:
        raise ArgumentError(f"zoo export: unrecognized arguments: {' '.join(rest)}")
    if args.backend is None and not os.environ.get("KERAS_BACKEND"):
        args.backend = "tensorflow"
    backend = _backend(args)
    from zoo import export

    out = export.export(args.name, args.format, args.out)
    print(f"wrote {out} ({args.format}, {backend} backend): {export.describe(args.name)}")


def cmd_demo(args, rest):
    if rest:
        raise ArgumentError(f"zoo demo: unrecognized arguments: {' '.join(rest)}")
    backend = _backend(args)
    try:
        from zoo import demo
        import gradio  # noqa: F401
    except ImportError:
        raise ZooError("zoo demo needs Gradio: pip install 'zoo[demo]'") from None
    print(f"zoo demo: starting on the {backend} backend (models load on first use)", flush=True)
    demo.serve(args.host, args.port, time_limit=args.time_limit)


def cmd_train(args, rest):
    if args.name is None:
        if args.help:
            print(_SUBPARSERS["train"].format_help())
            raise SystemExit(0)
        raise ArgumentError(f"zoo train: give a recipe or preset name; recipes: {', '.join(sorted(recipes()))}")
    if args.help:
        rest = ["--help", *rest]
    module, flags = find_recipe(args.name)
    _backend(args)
    from zoo import harness

    harness.PROG = f"zoo train {args.name}"
    module.main([*flags, *rest])


def build_parser():
    p = Parser(prog="zoo", description="A Keras 3 model zoo of generative models.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    backend = argparse.ArgumentParser(add_help=False)
    backend.add_argument("--backend", choices=BACKENDS, help="Keras backend (default: KERAS_BACKEND)")

    helper = argparse.ArgumentParser(add_help=False)
    helper.add_argument("-h", "--help", action="store_true", help="this help; after NAME, also NAME's own options")
    where = "a shipped preset, a preset folder, hf://OWNER/REPO[@REV] or an https:// URL"

    s = sub.add_parser("list", help="list the shipped presets")
    s.add_argument("pattern", nargs="?", default=None, help="only names matching this shell pattern, e.g. '*anime*'")
    s.add_argument("--family", default=None, help="only this family: " + ", ".join(_families()))
    s = sub.add_parser("info", help="a preset's card: a summary, or the whole card with --json")
    s.add_argument("name", help=where)
    s.add_argument("--json", action="store_true", help="print the whole card (metadata.json) as JSON")
    s = sub.add_parser("sample", parents=[backend, helper], add_help=False,
                       help="draw samples: a PNG grid, or text (zoo sample NAME --help: NAME's options)")
    s.add_argument("name", nargs="?", default=None, help=where)
    s.add_argument("--num", type=at_least(1), default=None, help="how many samples (default: 64 images, 1 text)")
    s.add_argument("--seed", type=at_least(0), default=None, help="random seed: the same seed draws the same samples on "
                   "the same backend (default: fresh randomness)")
    s.add_argument("--nrow", type=at_least(1), default=None, help="images per row of the grid (image models only)")
    s.add_argument("--out", default=None, help="output file (images: default samples.png; text: printed unless given)")
    s.add_argument("--view", default=None, metavar="TITLE", help="draw one of the model's pictures instead of "
                   "samples: 'interpolation' (GANs, VAEs, StyleGAN in w), 'style mixing' (StyleGAN), 'denoising' "
                   "(diffusion); the title or its start")
    s.add_argument("--separator", default=None, help="text models: what goes between texts (default a blank line; "
                   "\\n and \\t are read as a newline and a tab)")
    _SUBPARSERS["sample"] = s
    s = sub.add_parser("eval", parents=[backend, helper], add_help=False,
                       help="FID, KID, precision/recall of an image model (zoo eval NAME --help)")
    s.add_argument("name", nargs="?", default=None, help=where)
    s.add_argument("--num", type=at_least(2), default=10000, help="samples to draw (default 10000)")
    s.add_argument("--features", default=None, help="feature network: a preset (default: the one for "
                   "the model's dataset) or 'inception' (ImageNet InceptionV3; needs the network once)")
    s.add_argument("--seed", type=at_least(0), default=0, help="seed of the samples measured (default 0)")
    s.add_argument("--size", type=at_least(2), default=None, help="measure the samples resized to SIZE x SIZE (to compare "
                   "models of two resolutions)")
    s.add_argument("--out", default=None, help="JSON file to write (default eval_NAME.json)")
    s.add_argument("--update-card", action="store_true", help="store the result in the preset's card")
    _SUBPARSERS["eval"] = s
    s = sub.add_parser("export", parents=[backend], help="export the sampling function for serving (ONNX, "
                       "TF SavedModel, LiteRT); the default backend is TensorFlow")
    s.add_argument("name", help=where)
    s.add_argument("--format", required=True, choices=("onnx", "tf_saved_model", "litert"), help="what to write")
    s.add_argument("--out", required=True, help="the file (onnx: NAME.onnx, litert: NAME.tflite) or folder "
                   "(tf_saved_model) to write")
    s = sub.add_parser("demo", parents=[backend], help="a local web page to play with every model (zoo[demo])")
    s.add_argument("--host", default="127.0.0.1", help="the address to serve on (default 127.0.0.1: this machine "
                   "only; 0.0.0.0 opens it to every network the machine is on)")
    s.add_argument("--port", type=number(int, 0, 65535), default=7860, help="the port (default 7860; 0: any free one)")
    s.add_argument("--time-limit", type=POSITIVE, default=None, metavar="S",
                   help="the most seconds one request may take before it is stopped (default 120)")
    s = sub.add_parser("train", parents=[backend, helper], add_help=False,
                       help="run a recipe (zoo train NAME --help: the recipe's flags)")
    s.add_argument("name", nargs="?", default=None, help="a recipe or a preset it makes")
    _SUBPARSERS["train"] = s
    return p


def _families():
    """The families of the shipped presets, as their cards say (no Keras needed)."""
    from zoo.cards import PRESETS_DIR, read_card

    return sorted({read_card(p.parent).get("family") or "none" for p in PRESETS_DIR.glob("*/metadata.json")})


_SUBPARSERS = {}
COMMANDS = {"list": cmd_list, "info": cmd_info, "sample": cmd_sample, "eval": cmd_eval, "export": cmd_export,
            "demo": cmd_demo, "train": cmd_train}


_show_default = warnings.showwarning


def _note(message, category, filename, lineno, file=None, line=None):
    """zoo's own warnings as one line (`zoo: note: ...`); others as Python prints them."""
    from zoo.errors import ZooWarning

    if issubclass(category, ZooWarning):
        print(f"zoo: note: {message}", file=sys.stderr)
    else:
        _show_default(message, category, filename, lineno, file, line)


def main(argv=None):
    previous, warnings.showwarning = warnings.showwarning, _note
    try:
        args, rest = build_parser().parse_known_args(argv)
        if rest and args.command in ("list", "info", "export", "demo"):
            raise ArgumentError(f"zoo {args.command}: unrecognized arguments: {' '.join(rest)}")
        COMMANDS[args.command](args, rest)
    except BrokenPipeError:  # e.g. `zoo info NAME | head`
        return 0
    except KeyboardInterrupt as e:  # Ctrl-C: where training stopped and how to resume, or just that it stopped
        print(f"zoo: {e}" if isinstance(e, ZooError) else "zoo: stopped (Ctrl-C)",
              file=sys.stderr)
        return 130
    except (ZooError, OSError, ValueError) as e:
        print(f"zoo: error: {e}", file=sys.stderr)
        # 2: the command was wrong (an unknown name, a bad value); 1: it could not be done (a full
        # disk, a read-only folder, a network)
        return 1 if isinstance(e, OSError) else 2
    finally:
        warnings.showwarning = previous
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
