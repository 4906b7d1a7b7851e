"""Recipe for the character-level GPT presets: gpt_shakespeare and gpt_tang.

    python recipes/gpt.py --variant gpt_shakespeare --out zoo/presets/gpt_shakespeare
    python recipes/gpt.py --variant gpt_tang --out zoo/presets/gpt_tang
    python recipes/gpt.py --variant gpt_tang --epochs 1 --steps-per-epoch 20      # a quick look
    zoo train gpt_shakespeare --data my_text.txt --init gpt_shakespeare --epochs 2   # fine-tune

The last 10% of the text is held out; the card gets the validation loss in nats per
character over all of it (non-overlapping windows of block_size) and, for gpt_tang, the
share of sampled poems in a regular form (4 or 8 lines of 5 or 7 characters, "，" and "。"
alternating). Fine-tuning keeps the preset's vocabulary: characters of the new text
outside it stop the recipe with their list, unless `--unknown drop` leaves them out.
"""

import sys

import re
import time

import numpy as np

from zoo import harness

VARIANTS = {
    "gpt_shakespeare": dict(data="tinyshakespeare", block_size=128, num_layers=4, num_heads=4,
                            embed_dim=128, prompt="ROMEO:", stop=None, sample_tokens=400),
    "gpt_tang": dict(data="tang_poems", block_size=80, num_layers=4, num_heads=4,
                     embed_dim=128, prompt="\n", stop="\n", sample_tokens=70),
}
# two or four couplets "line，line。" of 5 characters a line, or of 7
POEM = re.compile(r"(?:(?:[^，。\n]{5}，[^，。\n]{5}。){2}){1,2}|(?:(?:[^，。\n]{7}，[^，。\n]{7}。){2}){1,2}")


def regular_form(poem):
    """True for a 五绝/七绝/五律/七律 layout: 4 or 8 lines of 5 or 7 characters,
    "，" after odd lines and "。" after even ones."""
    return POEM.fullmatch(poem.strip("\n")) is not None


def sampling_speed(model, prompt, num_samples=8, new_tokens=128):
    """Characters per second drawn by `generate`, with and without the key/value cache:
    `num_samples` texts of `new_tokens` characters, timed after the same call has run
    once (so that tracing and compiling are not counted)."""
    speed = {}
    for use_cache in (True, False):
        def draw():
            model.generate(prompt, num_samples, seed=1, max_new_tokens=new_tokens, use_cache=use_cache)

        draw()
        start = time.perf_counter()
        draw()
        key = "sampling_chars_per_s_" + ("kv_cache" if use_cache else "no_cache")
        speed[key] = round(num_samples * new_tokens / (time.perf_counter() - start), 1)
    return speed


def main(argv=None):
    p = harness.parser("gpt", __doc__, epochs=24, batch_size=32, data=None)
    p.add_argument("--variant", choices=sorted(VARIANTS), default="gpt_shakespeare")
    p.add_argument("--steps-per-epoch", type=harness.at_least(1), default=250)
    p.add_argument("--block-size", type=harness.at_least(2), default=None)
    p.add_argument("--layers", type=harness.at_least(1), default=None)
    p.add_argument("--heads", type=harness.at_least(1), default=None)
    p.add_argument("--width", type=harness.at_least(1), default=None, help="embedding width")
    p.add_argument("--dropout", type=harness.FRACTION, default=0.0)
    p.add_argument("--lr", type=harness.POSITIVE, default=None,
                   help="peak learning rate (default 1e-3; 1e-4 when fine-tuning with --init)")
    p.add_argument("--unknown", choices=("error", "drop"), default="error",
                   help="characters outside a fine-tuned preset's vocabulary: stop, or leave them out")
    args = p.parse_args(argv)
    harness.configure(args)
    spec = dict(VARIANTS[args.variant])
    args.data = args.data or spec["data"]
    if args.workdir == "runs/gpt":
        args.workdir = f"runs/{args.variant}"

    import keras

    from zoo import data
    from zoo.models.gpt import GPT, CharTokenizer, RandomWindows, windows

    text = data.load_text(args.data, limit=args.limit)
    split = int(len(text) * 0.9)
    model = harness.init_model(args, lambda: GPT(
        CharTokenizer.from_text(text).vocabulary, name=args.variant, dropout=args.dropout,
        block_size=args.block_size or spec["block_size"], num_layers=args.layers or spec["num_layers"],
        num_heads=args.heads or spec["num_heads"], embed_dim=args.width or spec["embed_dim"]))
    tokenizer = model.tokenizer
    unknown = tokenizer.unknown(text)
    if unknown:
        print(f"{len(unknown)} character(s) of {args.data} are not in the vocabulary of {args.init}: "
              f"{''.join(unknown[:40])!r}; --unknown {args.unknown}")
    train_ids = tokenizer.encode(text[:split], unknown=args.unknown)
    val_ids = tokenizer.encode(text[split:], unknown=args.unknown)

    total = args.epochs * args.steps_per_epoch
    peak = args.lr or (1e-4 if args.init else 1e-3)
    # nanoGPT's schedule: linear warm-up, cosine decay to a tenth of the peak
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, max(1, total - 100), alpha=0.1, warmup_target=peak, warmup_steps=min(100, total // 10))
    optimizer = keras.optimizers.AdamW(schedule, beta_1=0.9, beta_2=0.99, weight_decay=0.1, clipnorm=1.0)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "embeddings"])
    model.compile(optimizer=optimizer)

    prompt, stop = spec["prompt"], spec["stop"]
    sample = lambda: model.generate(prompt, seed=0, max_new_tokens=spec["sample_tokens"], temperature=0.8)  # noqa: E731
    history = harness.fit(
        model, RandomWindows(train_ids, model.block_size, args.batch_size, args.steps_per_epoch, args.seed),
        args, text=sample, validation_data=windows(val_ids, model.block_size))

    measured = {"validation_loss_nats_per_char": round(model.score(val_ids), 4),
                "validation_chars": int(len(val_ids)), "train_chars": int(len(train_ids))}
    measured["validation_perplexity"] = round(float(np.exp(measured["validation_loss_nats_per_char"])), 3)
    measured.update(sampling_speed(model, prompt))
    if stop == "\n":
        poems = [t.strip("\n") for t in model.generate(prompt, 200, seed=0, max_new_tokens=spec["sample_tokens"],
                                                        temperature=0.8, stop=stop)]
        measured["regular_form_share"] = round(float(np.mean([regular_form(t) for t in poems])), 3)
        measured["regular_form_method"] = ("200 poems sampled from a newline at temperature 0.8, seed 0; "
                                           "regular = 4 or 8 lines of 5 or 7 characters with ，/。 in place")
        samples = "\n".join(poems[:40]) + "\n"
    else:
        samples = "\n\n".join(model.generate(prompt, seed=s, max_new_tokens=spec["sample_tokens"] * 4, temperature=0.8)
                              for s in range(4)) + "\n"
    print("measured:", measured)
    return harness.finish(
        model, args, args.variant, history,
        dataset=harness.dataset(args.data, len(train_ids), f"{args.data} (first 90%: {len(train_ids)} characters; last 10% "
                                "held out)", unit="characters", held_out="last 10%"),
        description=(f"character-level GPT, {model.num_layers} layers, {model.num_heads} heads, width "
                     f"{model.embed_dim}, context {model.block_size}, vocabulary {model.vocab_size}"),
        pictures={"samples.txt": samples}, measured=measured, variant=args.variant,
        sample_settings=f"prompt {prompt!r}, temperature 0.8")


if __name__ == "__main__":
    main(sys.argv[1:])
