"""The `zoo` command: list, info, sample, train.

    zoo list
    zoo info gan_mnist
    zoo sample gan_mnist --num 64 --seed 0 --out grid.png --backend torch
    zoo sample gpt_tang --prompt 落霞与孤鹜齐飞 --max-new-tokens 64
    zoo train gan_mnist --epochs 5 --limit 5000          # flags of recipes/gan_mnist.py

Keras is imported only after `--backend` has set KERAS_BACKEND. Bad input ends
with one line on stderr and exit status 2.
"""

import argparse
import importlib
import json
import os
import pathlib
import sys

from zoo.errors import ZooError

BACKENDS = ("tensorflow", "jax", "torch")
TEXT_DEFAULTS = {"prompt": "\n", "max_new_tokens": 200, "temperature": 0.8, "top_k": None, "top_p": None,
                 "num_texts": 1}

def _recipes_dir():
    """recipes/ of a source checkout, or the copy installed as the package zoo.recipes."""
    try:
        return pathlib.Path(importlib.import_module("zoo.recipes").__file__).parent
    except ImportError:
        return pathlib.Path(__file__).resolve().parents[1] / "recipes"


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


def cmd_list(args):
    from zoo import registry

    for name in registry.list_models(args.family):
        meta = registry.info(name)
        print(f"{name:24s} {meta.get('family', ''):10s} {meta.get('description', '')}")


def cmd_info(args):
    from zoo import registry

    print(json.dumps(registry.info(args.name), indent=2, ensure_ascii=False))


def cmd_sample(args):
    backend = _backend(args)
    from zoo import registry, viz

    model = registry.load(args.name)
    if getattr(model, "family", None) == "text":
        texts = model.generate(args.prompt, args.max_new_tokens, temperature=args.temperature,
                               top_k=args.top_k, top_p=args.top_p, seed=args.seed,
                               num_samples=args.num_texts)
        out = "\n\n".join(texts) + "\n"
        if args.out:
            pathlib.Path(args.out).write_text(out, encoding="utf-8")
            print(f"wrote {args.out} ({len(texts)} texts from {args.name}, {backend} backend)")
        else:
            sys.stdout.write(out)
        return
    text_flags = [f for f in ("prompt", "max_new_tokens", "temperature", "top_k", "top_p", "num_texts")
                  if getattr(args, f) != TEXT_DEFAULTS[f]]
    if text_flags:
        raise ZooError(f"--{text_flags[0].replace('_', '-')} applies to text models; {args.name} draws images")
    images = model.generate(args.num, seed=args.seed)
    # a conditional model cycles through its classes: one class per column
    path = viz.save_grid(images, args.out or "samples.png",
                         nrow=args.nrow or getattr(model, "num_classes", None))
    print(f"wrote {path} ({len(images)} samples of {args.name}, {backend} backend)")


def recipes():
    return sorted(p.stem for p in _recipes_dir().glob("*.py") if not p.stem.startswith("_"))


def find_recipe(name):
    """The recipe module for a recipe or preset name, and the flags that pick the preset."""
    sys.path.insert(0, str(_recipes_dir()))
    if name in recipes():
        return importlib.import_module(name), []
    for recipe in recipes():
        module = importlib.import_module(recipe)
        if name in getattr(module, "VARIANTS", {}):
            return module, ["--variant", name]
    raise ZooError(f"no recipe for {name!r}; recipes: {', '.join(recipes()) or 'none'}")


def cmd_train(args, rest):
    module, flags = find_recipe(args.name)
    _backend(args)
    argv = [*flags, *rest]
    sys.argv = [f"recipes/{module.__name__}.py", *argv]
    module.main(argv)


def build_parser():
    p = argparse.ArgumentParser(prog="zoo", description="A Keras 3 model zoo of generative models.")
    sub = p.add_subparsers(dest="command", required=True)
    backend = argparse.ArgumentParser(add_help=False)
    backend.add_argument("--backend", choices=BACKENDS, help="Keras backend (default: KERAS_BACKEND)")

    s = sub.add_parser("list", help="list the shipped presets")
    s.add_argument("--family", default=None)
    s = sub.add_parser("info", help="print a preset's card")
    s.add_argument("name")
    s = sub.add_parser("sample", parents=[backend], help="draw a grid of samples as PNG")
    s.add_argument("name", help="preset name or directory")
    s.add_argument("--num", type=int, default=64)
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--nrow", type=int, default=None, help="images per row")
    s.add_argument("--out", default=None, help="output file (images: default samples.png; "
                   "text: printed unless given)")
    s.add_argument("--prompt", default=TEXT_DEFAULTS["prompt"], help="text models: the text to continue")
    s.add_argument("--max-new-tokens", type=int, default=TEXT_DEFAULTS["max_new_tokens"])
    s.add_argument("--temperature", type=float, default=TEXT_DEFAULTS["temperature"])
    s.add_argument("--top-k", type=int, default=TEXT_DEFAULTS["top_k"])
    s.add_argument("--top-p", type=float, default=TEXT_DEFAULTS["top_p"])
    s.add_argument("--num-texts", type=int, default=TEXT_DEFAULTS["num_texts"], help="text models: how many")
    s = sub.add_parser("train", parents=[backend], help="run a recipe (other flags go to it)")
    s.add_argument("name")
    return p


def main(argv=None):
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "train":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if args.command == "train":
            cmd_train(args, rest)
        else:
            {"list": cmd_list, "info": cmd_info, "sample": cmd_sample}[args.command](args)
    except BrokenPipeError:  # e.g. `zoo info NAME | head`
        return 0
    except (ZooError, OSError, ValueError) as e:
        print(f"zoo: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
