"""Recipe for the text-to-image presets: txt2img_anime (32x32 faces from hair/eye colour
prompts) and txt2img_fashion (28x28 clothes from their names).

    python recipes/txt2img.py --variant txt2img_anime --out zoo/presets/txt2img_anime
    python recipes/txt2img.py --variant txt2img_anime --cross-attention none     # pooled text only
    python recipes/txt2img.py --variant txt2img_anime --text-from none            # text tower trained too
    python recipes/txt2img.py --variant txt2img_fashion --epochs 1 --limit 5000   # a quick look
    python recipes/txt2img.py --variant txt2img_anime --measure zoo/presets/txt2img_anime   # measure again

* Data: every tagged face with a caption drawn afresh each epoch from its tags
  (zoo/captions.py), plus `--untagged` x as many untagged faces with the empty prompt (the
  unconditional one); faces mirrored at random. Fashion: every training image, captioned
  from its class.
* Model (zoo/models/txt2img.py): the UNet of `--unet-from` (a ddpm preset of the same
  resolution) with its weights, plus the layers the text adds (`cond_projection`,
  cross-attention), which start at zero so training starts from the unconditional model;
  the text tower copied from the CLIP preset `--text-from` and frozen, or (`none`) trained
  with the UNet from scratch.
* Measured at the end, for each guidance scale of `--scales` (DDIM, the preset's eta):
  - prompt adherence: for every attribute prompt ("red hair", "blue eyes"; "a sneaker"),
    `--per-prompt` images, read back by the dataset's feature network's heads
    (features_anime / features_clothing), next to those heads' accuracy on real held-out
    images (the ceiling);
  - FID / KID against the captioned training images (features network), from `--fid-num`
    images drawn with the captions of random training images;
  - CLIP score of those images with their captions, where a CLIP preset (`--reranker`) exists.
"""

import sys
import time

import numpy as np

from zoo import harness

VARIANTS = {
    "txt2img_anime": dict(data="anime_faces", size=32, unet_from="ddpm_anime", text_from="clip_anime",
                          features="features_anime", reranker="clip_anime", epochs=10, flip=True,
                          example=("pink hair, green eyes", "blonde hair")),
    "txt2img_fashion": dict(data="fashion_mnist", size=28, unet_from="ddpm_fashion", text_from="clip_fashion",
                            features="features_clothing", reranker="clip_fashion", epochs=1, flip=False,
                            example=("a sneaker", "a sandal")),
}
# the text tower trained with the UNet (--text-from none): for the faces, clip_anime's shape
TEXT_WHEN_TRAINED = {32: dict(text_width=128, text_layers=2, text_heads=4, embed_dim=128, length=12),
                     28: dict(text_width=64, text_layers=1, text_heads=2, embed_dim=64, length=8)}


def check_prompts(prompts, caption_space):
    """The measured prompts are captions the training data has: a prompt the model never read
    (a word doubled, say) would measure something else."""
    unseen = sorted({t for texts in prompts.values() for t in texts} - set(caption_space))
    if unseen:
        raise ValueError(f"measured prompts that no training caption has: {unseen[:5]}")


def anime_data(args, rng):
    """(images 32x32, caption(index, seed) -> (texts, None), attribute prompts {head: [prompts]},
    held-out (images, labels), tagged-image captions for FID)."""
    from zoo import captions, data
    from zoo.images import resize
    from zoo.text import WordTokenizer

    x, y, x_test, y_test, names = data.labelled_splits(args.data, args.limit)
    tagged = (y >= 0).any(axis=1)
    untagged = np.flatnonzero(~tagged)
    keep = np.sort(np.concatenate([np.flatnonzero(tagged),
                                   rng.choice(untagged, min(len(untagged), int(args.untagged * tagged.sum())),
                                              replace=False)]))
    x, y = resize(x[keep], 32), y[keep]

    def caption(index, seed):
        return captions.anime_captions(y[index, 0], y[index, 1], names["hair"], names["eye"], seed=seed), None

    prompts = {"hair": list(names["hair"]), "eye": list(names["eye"])}  # the tags' names: "red hair", "blue eyes"
    check_prompts(prompts, captions.anime_caption_space(names["hair"], names["eye"]))
    vocabulary = WordTokenizer.from_texts(captions.anime_caption_space(names["hair"], names["eye"])).vocabulary[1:]
    return x, caption, prompts, (x_test, y_test), vocabulary, lambda index, seed: caption(index, seed)[0]


def fashion_data(args, rng):
    from zoo import captions, data
    from zoo.text import WordTokenizer

    x, y, x_test, y_test, _ = data.labelled_splits(args.data, args.limit)
    y = y.reshape(-1)

    def caption(index, seed):
        return captions.class_captions(y[index], "fashion_mnist", seed=seed), None

    vocabulary = WordTokenizer.from_texts(captions.class_caption_space("fashion_mnist")).vocabulary[1:]
    prompts = {"clothing": [f"a {name}" for name in captions.FASHION_NAMES]}
    check_prompts(prompts, captions.class_caption_space("fashion_mnist"))
    return x, caption, prompts, (x_test, y_test), vocabulary, lambda index, seed: caption(index, seed)[0]


def build(args, spec, image_shape, vocabulary):
    """The model: the UNet (and EMA) of `--unet-from`, the text tower of `--text-from` (frozen) or new."""
    from zoo import registry
    from zoo.models.txt2img import TextToImage

    unet = registry.load(args.unet_from)
    text = dict(TEXT_WHEN_TRAINED[spec["size"]])
    clip = None
    if args.text_from != "none":
        clip = registry.load(args.text_from)
        vocabulary = clip.tokenizer.vocabulary[1:]
        text = dict(text_width=clip.text_width, text_layers=clip.text_layers, text_heads=clip.text_heads,
                    embed_dim=clip.embed_dim, length=clip.tokenizer.length)
    cross = None if args.cross_attention == ["none"] else tuple(int(c) for c in args.cross_attention)
    model = TextToImage(vocabulary, **text, cross_attention=cross, train_text=clip is None,
                        caption_dropout=args.caption_dropout, reranker=spec["reranker"],
                        guidance_scale=args.guidance_scale, image_shape=image_shape, widths=unet.widths,
                        blocks=unet.blocks, attention=unet.attention, dropout=unet.dropout,
                        schedule=unet.schedule.kind, timesteps=unet.timesteps, ema_decay=args.ema_decay,
                        sampler=unet.sampler, sampling_defaults=unet.sampling_defaults,
                        seed=args.seed, name=args.variant)
    model.start_from(unet)
    model.preset_loader = registry.load  # the CLIP reranker is loaded by name on first use
    if clip is not None:
        model.text_tower.set_weights(clip.text_tower.get_weights())
    return model


def measure(model, net, prompts, heldout, scales, per_prompt, steps, fid_num, fid_captions, reference, seed=0):
    """Adherence per attribute and scale, the heads' accuracy on real held-out images, and
    FID/KID/CLIP score per scale (see the module's docstring)."""
    from zoo.evaluation import compare

    x_test, y_test = heldout
    y_test = y_test.reshape(len(y_test), -1)
    out = {"ceiling": {}, "adherence": {}, "quality": {}, "steps": steps, "per_prompt": per_prompt,
           "fid_num": fid_num}
    _, probs = net.embed(x_test)
    for column, head in enumerate(prompts):
        known = y_test[:, column] >= 0
        out["ceiling"][head] = round(float((probs[head][known].argmax(1) == y_test[known, column]).mean()), 4)
    for scale in scales:
        row = {}
        for head, texts in prompts.items():
            asked = np.repeat(np.arange(len(texts)), per_prompt)
            images = model.generate([texts[i] for i in asked], seed=seed, steps=steps, guidance_scale=scale,
                                    progress=False)
            _, p = net.embed(images)
            row[head] = round(float((p[head].argmax(1) == asked).mean()), 4)
        out["adherence"][str(scale)] = row
        start = time.time()
        images = model.generate(list(fid_captions), seed=seed + 1, steps=steps, guidance_scale=scale,
                                progress=False)
        result = compare(net, images, reference, seed=seed)
        quality = {k: result[k] for k in ("fid", "kid", "kid_std", "precision", "recall")}
        if model.reranker:
            named = np.array([c != "" for c in fid_captions])
            quality["clip_score"] = round(float(model.clip_scores(images[named], fid_captions[named]).mean()), 2)
        quality["seconds"] = round(time.time() - start, 1)
        out["quality"][str(scale)] = quality
        print(f"guidance {scale}: adherence {row}, quality {quality}", flush=True)
    return out


def measure_reranking(model, net, prompts, per_prompt, steps, candidates, seed=0):
    """Adherence at the model's guidance scale with one image per output and with the best of
    `candidates` by the model's CLIP reranker."""
    out = {"candidates": candidates, "guidance_scale": model.guidance_scale, "per_prompt": per_prompt, "steps": steps}
    for head, texts in prompts.items():
        asked = np.repeat(np.arange(len(texts)), per_prompt)
        row = {}
        for k in (1, candidates):
            images = model.generate([texts[i] for i in asked], seed=seed, steps=steps, candidates=k, progress=False)
            row["one" if k == 1 else "reranked"] = round(float((net.embed(images)[1][head].argmax(1) == asked).mean()), 4)
        out[head] = row
    print(f"reranking: {out}", flush=True)
    return out


def main(argv=None):
    p = harness.parser("txt2img", __doc__, epochs=None, batch_size=64, data=None)
    p.add_argument("--variant", choices=sorted(VARIANTS), default="txt2img_anime")
    p.add_argument("--unet-from", default=None, help="the ddpm preset whose UNet starts the model")
    p.add_argument("--text-from", default=None, help="a CLIP preset whose text tower is taken, frozen; none: train one")
    p.add_argument("--cross-attention", nargs="+", default=["1"],
                   help="resolution indices with cross-attention to the words (and the middle); none: pooled only")
    p.add_argument("--caption-dropout", type=harness.FRACTION, default=0.15)
    p.add_argument("--untagged", type=harness.at_least(0, float), default=0.5, help="untagged faces per tagged face (empty prompt)")
    p.add_argument("--guidance-scale", type=harness.number(float, 0, 20), default=3.0, help="the preset's default scale")
    p.add_argument("--lr", type=harness.POSITIVE, default=2e-4)
    p.add_argument("--ema-decay", type=harness.FRACTION, default=0.999)
    p.add_argument("--scales", type=harness.number(float, 0, 20), nargs="*", default=[1, 1.5, 2, 3, 5, 7.5],
                   help="guidance scales measured (with --measure and none given: measure only --rerank)")
    p.add_argument("--per-prompt", type=harness.at_least(1), default=16, help="images per attribute prompt (adherence)")
    p.add_argument("--fid-num", type=harness.at_least(2), default=1000, help="images per scale for FID/KID and CLIP score")
    p.add_argument("--steps", type=harness.at_least(1), default=25, help="DDIM steps of the measurements")
    p.add_argument("--sample-steps", type=harness.at_least(1), default=50, help="DDIM steps of sample.png (the grid each epoch: 20)")
    p.add_argument("--rerank", type=harness.at_least(0), default=0, metavar="K",
                   help="also measure adherence with K candidates reranked by CLIP (0: not)")
    p.add_argument("--measure", default=None, metavar="PRESET",
                   help="measure this trained preset folder again (no training) and update its card")
    args = p.parse_args(argv)
    harness.configure(args)
    spec = VARIANTS[args.variant]
    args.data = args.data or spec["data"]
    args.epochs = args.epochs or spec["epochs"]
    args.unet_from = args.unet_from or spec["unet_from"]
    args.text_from = args.text_from or spec["text_from"]
    if args.workdir == "runs/txt2img":
        args.workdir = f"runs/{args.variant}"

    import keras

    from zoo import captions, registry, viz
    from zoo.cards import write_card

    rng = np.random.default_rng(args.seed)
    x, caption, prompts, heldout, vocabulary, texts_of = (anime_data if spec["size"] == 32 else fashion_data)(args, rng)
    if args.measure:
        return measure_preset(args, spec, x, prompts, heldout, texts_of, rng)
    model = harness.init_model(args, lambda: build(args, spec, x.shape[1:], vocabulary))
    model.compile(keras.optimizers.AdamW(args.lr, weight_decay=1e-4, clipnorm=1.0))  # constant: a run extends
    grid_prompts = [t for texts in prompts.values() for t in texts][:16]
    grid = lambda: model.generate([t for t in grid_prompts for _ in range(4)], seed=0,  # noqa: E731
                                  steps=min(20, args.sample_steps),
                                  progress=False)
    batches = captions.CaptionedImages(x, caption, model.tokenizer, args.batch_size, seed=args.seed,
                                       flip=spec["flip"])
    history = harness.fit(model, batches, args, grid=grid)
    metrics, pictures, drawn_with = measurements(args, spec, model, x, prompts, heldout, texts_of, rng, grid_prompts)
    reranking = {} if not args.rerank else {"reranking": measure_reranking(
        model, registry.load(spec["features"]), prompts, args.per_prompt, args.steps, args.rerank, seed=args.seed)}
    preset = harness.finish(
        model, args, args.variant, history,
        dataset=harness.dataset(args.data, len(x), f"{args.data}: {len(x)} captioned training images "
                                f"({x.shape[1]}x{x.shape[2]})", image_size=f"{x.shape[1]}x{x.shape[2]}"),
        description=(f"text-to-image diffusion: the UNet of {args.unet_from} with a text condition "
                     f"(pooled embedding into the time embedding"
                     f"{'' if model.cross_attention is None else ', cross-attention to the words'}), "
                     f"text tower {'from ' + args.text_from + ', frozen' if args.text_from != 'none' else 'trained'}"
                     f", classifier-free guidance"),
        pictures=pictures, variant=args.variant, unet_initialised_from=args.unet_from,
        text_encoder=args.text_from, prompt_measurements=metrics, example_prompt=spec["example"][0],
        example_negative_prompt=spec["example"][1], pictures_drawn_with=drawn_with, **reranking)
    viz.save_guidance_curves(metrics, preset / "guidance.png", title=f"{args.variant}: guidance")
    write_card(preset)
    return preset


def measure_preset(args, spec, x, prompts, heldout, texts_of, rng):
    """--measure PRESET: measures a trained preset again (no training) and rewrites its card's
    measurements and pictures; the card keeps its training recipe and adds this command."""
    import pathlib
    import shlex

    import keras

    from zoo import publish, registry, viz

    preset = pathlib.Path(args.measure)
    model = registry.load(preset)
    card = {}  # what this measurement writes into the card (zoo.publish.update_card, atomically)
    command = f"KERAS_BACKEND={keras.backend.backend()} python recipes/txt2img.py " + " ".join(
        shlex.quote(a) for a in args.argv)
    if args.scales:
        grid_prompts = [t for texts in prompts.values() for t in texts][:16]
        metrics, pictures, drawn_with = measurements(args, spec, model, x, prompts, heldout, texts_of, rng,
                                                     grid_prompts)
        for name, images in pictures.items():
            viz.save_grid(images, preset / name)
        viz.save_guidance_curves(metrics, preset / "guidance.png", title=f"{preset.name}: guidance")
        card.update(prompt_measurements=metrics, pictures_drawn_with=drawn_with, measured_with=command)
    if args.rerank:
        card["reranking"] = measure_reranking(model, registry.load(spec["features"]), prompts, args.per_prompt,
                                              args.steps, args.rerank, seed=args.seed)
        card["reranking"]["command"] = command
    publish.update_card(preset, card)
    return preset


def measurements(args, spec, model, x, prompts, heldout, texts_of, rng, grid_prompts):
    """(prompt measurements, {"sample.png": the prompt grid}, how the grid was drawn)."""
    from zoo import registry
    from zoo.images import resize

    net = registry.load(spec["features"])
    fid_index = rng.choice(len(x), args.fid_num, replace=False)
    fid_captions = np.array(texts_of(fid_index, (args.seed, 1_000_003)), dtype=object)
    fake_size = x.shape[1]
    feats = net.features(x[rng.choice(len(x), min(len(x), 10000), replace=False)])
    reference = {"mean": feats.mean(0), "cov": np.cov(feats, rowvar=False), "features": feats}
    heldout_images = heldout[0] if heldout[0].shape[1] == fake_size else resize(heldout[0], fake_size)
    metrics = measure(model, net, prompts, (heldout_images, heldout[1]), args.scales, args.per_prompt, args.steps,
                      args.fid_num, fid_captions, reference, seed=args.seed)
    pictures = {"sample.png": model.generate([t for t in grid_prompts for _ in range(4)], seed=0,
                                             steps=args.sample_steps, progress=False)}
    drawn_with = {"sample.png": "rows of 8: 4 images each of the prompts " + ", ".join(grid_prompts)
                  + f"; DDIM-{args.sample_steps}, guidance {model.guidance_scale:g}, seed 0"}
    return metrics, pictures, drawn_with


if __name__ == "__main__":
    main(sys.argv[1:])
