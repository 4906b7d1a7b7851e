"""The `zoo` command: list, info, sample, train.

    zoo list
    zoo info gan_mnist
    zoo sample gan_mnist --num 64 --seed 0 --out grid.png --backend torch
    zoo sample gpt_tang --prompt 落霞与孤鹜齐飞 --max-new-tokens 64
    zoo eval dcgan_anime --num 10000                      # FID, KID, precision/recall, IS
    zoo eval ddpm_mnist --sampler ddim --steps 50 --num 2000 --update-card
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
        _diffusion_kwargs(args, "text")  # refuses diffusion flags
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
    images = model.generate(args.num, seed=args.seed, **_diffusion_kwargs(args, model.family))
    # a conditional model cycles through its classes: one class per column
    path = viz.save_grid(images, args.out or "samples.png",
                         nrow=args.nrow or getattr(model, "num_classes", None))
    print(f"wrote {path} ({len(images)} samples of {args.name}, {backend} backend)")


def _diffusion_kwargs(args, family):
    """generate() arguments of a diffusion model from --sampler/--steps/--eta."""
    if args.sampler is None and args.steps is None and args.eta is None:
        return {}
    if family != "diffusion":
        raise ZooError(f"--sampler/--steps/--eta apply to diffusion models; {args.name} is a {family} model")
    kwargs = {"sampler": args.sampler or "ddim", "steps": args.steps}
    if args.eta is not None:
        kwargs["eta"] = args.eta
    return kwargs


def cmd_eval(args):
    backend = _backend(args)
    from zoo import evaluation, registry

    kwargs = _diffusion_kwargs(args, registry.info(args.name).get("family"))
    result = evaluation.evaluate(args.name, num=args.num, features=args.features, seed=args.seed, **kwargs)
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


def cmd_bench(args, rest):
    """benchmarks/backends.py of a source checkout (benchmarks/ is not installed with the package)."""
    script = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "backends.py"
    if not script.exists():
        raise ZooError(f"zoo bench runs {script.relative_to(script.parents[2])} of a source checkout of zoo, "
                       "which is not here (benchmarks/ is not part of the installed package)")
    sys.path.insert(0, str(script.parents[1]))
    sys.argv[0] = "zoo bench"
    importlib.import_module("benchmarks.backends").main(rest)


def diffusion_flags(s):
    s.add_argument("--sampler", choices=("ddim", "ddpm"), default=None,
                   help="diffusion models: ddim (default) or ddpm (ancestral, all T steps)")
    s.add_argument("--steps", type=int, default=None, help="diffusion models: DDIM steps (default 50)")
    s.add_argument("--eta", type=float, default=None,
                   help="diffusion models: DDIM eta (0: deterministic; default: the preset's, 1 for zoo's)")


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
    diffusion_flags(s)
    s = sub.add_parser("eval", parents=[backend], help="FID, KID, precision/recall of an image model")
    s.add_argument("name", help="preset name or directory")
    s.add_argument("--num", type=int, default=10000, help="samples to draw (default 10000)")
    s.add_argument("--features", default=None, help="feature network: a preset (default: the one for "
                   "the model's dataset) or 'inception' (ImageNet InceptionV3; needs the network once)")
    s.add_argument("--seed", type=int, default=0)
    diffusion_flags(s)
    s.add_argument("--out", default=None, help="JSON file to write (default eval_NAME.json)")
    s.add_argument("--update-card", action="store_true", help="store the result in the preset's card")
    s = sub.add_parser("train", parents=[backend], help="run a recipe (other flags go to it)")
    s.add_argument("name")
    sub.add_parser("bench", help="compare the backends: python benchmarks/backends.py (flags go to it)",
                   add_help=False)
    return p


def main(argv=None):
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command not in ("train", "bench"):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if args.command in ("train", "bench"):
            {"train": cmd_train, "bench": cmd_bench}[args.command](args, rest)
        else:
            {"list": cmd_list, "info": cmd_info, "sample": cmd_sample, "eval": cmd_eval}[args.command](args)
    except BrokenPipeError:  # e.g. `zoo info NAME | head`
        return 0
    except (ZooError, OSError, ValueError) as e:
        print(f"zoo: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
