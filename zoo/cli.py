"""The `zoo` command: list, info, sample, eval, train.

    zoo list [--family gan]
    zoo info gan_mnist
    zoo sample gan_mnist --num 64 --seed 0 --out grid.png --backend torch
    zoo sample ddpm_mnist --sampler dpmpp_2m --steps 20    # the model's own options
    zoo sample gpt_tang --prompt 落霞与孤鹜齐飞 --max-new-tokens 64
    zoo sample NAME --help                                 # the options NAME takes
    zoo eval dcgan_anime --num 10000                       # FID, KID, precision/recall, IS
    zoo train gan_mnist --epochs 5 --limit 5000            # the recipe's flags (zoo train NAME --help)

A model's flags are built from the sampling options it declares (zoo.tasks.Option), so
the CLI knows no model by name. Keras is imported only after `--backend` has set
KERAS_BACKEND. Bad input ends with one line on stderr and exit status 2. The backends are
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
        else:
            convert = {"int": int, "float": float, "bool": _bool, "text": str}[option.kind]
            kwargs["type"] = _nullable(convert) if option.nullable else convert
        p.add_argument("--" + option.name.replace("_", "-"), **kwargs)
    return p


def model_options(model, name, rest, prog):
    """The options given as flags in `rest`; `--help` prints them and exits."""
    parser = option_parser(model, prog)
    if "-h" in rest or "--help" in rest:
        parser.usage = f"{prog} [--num N] [--seed SEED] [--out FILE] [--backend B] [{name}'s options]"
        parser.description = f"{name} is a {type(model).__name__}" + ("." if parser._actions else
                                                                        "; it takes no options of its own.")
        print(parser.format_help())
        raise SystemExit(0)
    options, unknown = parser.parse_known_args(rest)
    if unknown:
        flags = [a.option_strings[0] for a in parser._actions]
        raise ArgumentError(f"{name} has no option {unknown[0]}; its options: {', '.join(flags) or 'none'} "
                            f"(zoo sample {name} --help)")
    return vars(options)


def load_generator(name):
    from zoo import registry
    from zoo.tasks import Generator

    model = registry.load(name)
    if not isinstance(model, Generator):
        raise ZooError(f"{name} is a {type(model).__name__}, which generates nothing; it embeds images for "
                       f"zoo eval (--features {name})")
    return model


# -- commands --------------------------------------------------------------------------
def cmd_list(args, rest):
    from zoo import registry

    for name in registry.list_models(args.family):
        preset = registry.Preset(name)
        print(f"{name:24s} {preset.family or '':10s} {preset.card.get('description', '')}")


def cmd_info(args, rest):
    from zoo import registry

    print(json.dumps(registry.info(args.name), indent=2, ensure_ascii=False))


def cmd_sample(args, rest):
    backend = _backend(args)
    model = load_generator(args.name)
    options = model_options(model, args.name, rest, f"zoo sample {args.name}")
    samples = model.generate(num=model.default_num if args.num is None else args.num, seed=args.seed, **options)
    out = args.out or model.default_out
    if out is None:
        sys.stdout.write(model.format_samples(samples))
        return
    path = model.save_samples(samples, out, nrow=args.nrow)
    print(f"wrote {path} ({len(samples)} samples of {args.name}, {backend} backend)")


def cmd_eval(args, rest):
    backend = _backend(args)
    import pathlib

    from zoo import evaluation

    model = load_generator(args.name)
    options = model_options(model, args.name, rest, f"zoo eval {args.name}")
    result = evaluation.evaluate(args.name, num=args.num, features=args.features, seed=args.seed, model=model,
                                 size=args.size, **options)
    print(evaluation.table_header())
    print(evaluation.table_row(result))
    print(result["note"])
    out = pathlib.Path(args.out or f"eval_{pathlib.Path(args.name).name}.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out} ({backend} backend)")
    if args.update_card:
        evaluation.update_card(args.name, {"evaluation": {evaluation.result_key(result): result}})
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


def cmd_train(args, rest):
    module, flags = find_recipe(args.name)
    _backend(args)
    module.main([*flags, *rest])


def build_parser():
    p = Parser(prog="zoo", description="A Keras 3 model zoo of generative models.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    backend = argparse.ArgumentParser(add_help=False)
    backend.add_argument("--backend", choices=BACKENDS, help="Keras backend (default: KERAS_BACKEND)")

    s = sub.add_parser("list", help="list the shipped presets")
    s.add_argument("--family", default=None, help="only this family (gan, vae, diffusion, text, features)")
    s = sub.add_parser("info", help="print a preset's card")
    s.add_argument("name")
    s = sub.add_parser("sample", parents=[backend], add_help=False,
                       help="draw samples: a PNG grid, or text (zoo sample NAME --help: NAME's options)")
    s.add_argument("name", help="preset name or directory")
    s.add_argument("--num", type=int, default=None, help="how many (default: 64 images, 1 text)")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--nrow", type=int, default=None, help="images per row")
    s.add_argument("--out", default=None, help="output file (images: default samples.png; text: printed unless given)")
    s = sub.add_parser("eval", parents=[backend], add_help=False,
                       help="FID, KID, precision/recall of an image model (zoo eval NAME --help)")
    s.add_argument("name", help="preset name or directory")
    s.add_argument("--num", type=int, default=10000, help="samples to draw (default 10000)")
    s.add_argument("--features", default=None, help="feature network: a preset (default: the one for "
                   "the model's dataset) or 'inception' (ImageNet InceptionV3; needs the network once)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--size", type=int, default=None, help="measure the samples resized to SIZE x SIZE (to compare "
                   "models of two resolutions)")
    s.add_argument("--out", default=None, help="JSON file to write (default eval_NAME.json)")
    s.add_argument("--update-card", action="store_true", help="store the result in the preset's card")
    s = sub.add_parser("train", parents=[backend], add_help=False,
                       help="run a recipe (zoo train NAME --help: the recipe's flags)")
    s.add_argument("name")
    return p


COMMANDS = {"list": cmd_list, "info": cmd_info, "sample": cmd_sample, "eval": cmd_eval, "train": cmd_train}


_show_default = warnings.showwarning


def _note(message, category, filename, lineno, file=None, line=None):
    """zoo's own warnings as one line (`zoo: note: ...`); others as Python prints them."""
    from zoo.registry import UnverifiedPresetWarning

    if issubclass(category, UnverifiedPresetWarning):
        print(f"zoo: note: {message}", file=sys.stderr)
    else:
        _show_default(message, category, filename, lineno, file, line)


def main(argv=None):
    previous, warnings.showwarning = warnings.showwarning, _note
    try:
        args, rest = build_parser().parse_known_args(argv)
        if rest and args.command in ("list", "info"):
            raise ArgumentError(f"zoo {args.command}: unrecognized arguments: {' '.join(rest)}")
        COMMANDS[args.command](args, rest)
    except BrokenPipeError:  # e.g. `zoo info NAME | head`
        return 0
    except (ZooError, OSError, ValueError) as e:
        print(f"zoo: error: {e}", file=sys.stderr)
        return 2
    finally:
        warnings.showwarning = previous
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
