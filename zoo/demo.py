"""`zoo demo`: a local web page (Gradio, the extra `zoo[demo]`) to play with every
generative preset.

    zoo demo                          # http://127.0.0.1:7860
    zoo demo --port 8000 --backend jax
    zoo demo --host 0.0.0.0           # every network this machine is on can reach it

The page knows no model by name: its controls are built from what the models declare, their
sampling options (`sampling_options()`, `call_options()`: a seed and a count for all, steps,
eta and sampler for diffusion, truncation for StyleGAN, labels for the cGAN, prompt,
temperature, top-k/top-p and length for the GPTs) and their extra pictures (`views()`:
interpolation, style mixing, the denoising strip). A model loads once per process. Requests
are queued one at a time (a second waits, it is not lost); long sampling shows its progress.
One request may take at most `time_limit` seconds (default `TIME_LIMIT_S`, `zoo demo
--time-limit`), and the Stop button ends the running one: either stops the sampling loop at its
next step, so the next request in the queue is answered. Bad input is the API's one-line
error, shown on the page; the server goes on.
"""

import functools
import math
import os
import pathlib
import tempfile
import threading
import time

from zoo.errors import ZooError

DEFAULT_PORT = 7860
MAX_NUM = 64
TIME_LIMIT_S = 120  # the most one request may take, in seconds (zoo demo --time-limit)


class Stopped(ZooError):
    """A request was stopped: by the Stop button, or at the page's time limit."""


class Jobs:
    """The requests being worked on, each stopped at its sampling loop's next step (a progress
    update) once the Stop button is pressed or its time is up."""

    def __init__(self):
        self.lock, self.running = threading.Lock(), {}

    def listener(self, limit, progress=None):
        """A progress listener for one request: it stops the request when told to, or past
        `limit` seconds, and passes the progress on to the page."""
        start, token = time.monotonic(), object()
        with self.lock:
            self.running[token] = False

        def listen(done, total, label):
            if self.running.get(token):
                raise Stopped("stopped (the Stop button)")
            if time.monotonic() - start > limit:
                raise Stopped(f"stopped after {limit:g} s, the most one request may take on this page (zoo demo "
                              "--time-limit); ask for fewer images or texts, fewer steps or characters")
            if progress is not None:
                progress(done / total, desc=label)

        listen.token = token
        return listen

    def done(self, listen):
        with self.lock:
            self.running.pop(listen.token, None)

    def stop_all(self):
        """Stops every request being worked on now (a request queued after this runs)."""
        with self.lock:
            for token in self.running:
                self.running[token] = True
            return len(self.running)


@functools.lru_cache(maxsize=None)
def model_of(name):
    """The preset's model, loaded once per process."""
    from zoo import registry

    return registry.load(name)


def generative_presets(names=None):
    """[(name, family, card)] of the shipped presets that generate (or of `names`), grouped
    by family: the page's order."""
    from zoo import registry

    presets = [registry.Preset(n) for n in registry.list_models()]
    chosen = [(p.name, p.family, p.card) for p in presets if _generates(p.card) and (names is None or p.name in names)]
    return sorted(chosen, key=lambda item: (item[1], item[0]))


def _generates(card):
    """Whether the card's model class is a generator (feature networks and CLIP are not), as
    the class declares it (zoo.cards.task_of)."""
    from zoo.cards import task_of

    return bool(task_of(card)["generates"])


def quickest(presets):
    """The preset the page opens with: the image generator with the smallest network (the
    quickest to load and sample), by the parameter counts the cards record (a diffusion model,
    first by family, took the longest)."""
    from zoo.cards import task_of

    images = [p for p in presets if task_of(p[2])["pipeline_tag"].endswith("image-generation")] or presets
    return min(images, key=lambda p: ((p[2].get("parameters") or {}).get("total") or math.inf, p[0]))[0]


def presets_table(presets):
    """The page's list: the presets by family, each with its description and best numbers."""
    from zoo.cards import measured

    lines = ["| family | preset | what | measured |", "|---|---|---|---|"]
    for name, family, card in presets:
        rows = measured(card, losses=False)
        numbers = f"{rows[0][0]}: {rows[0][1]}" if rows else "—"
        lines.append(f"| {family} | `{name}` | {card.get('description', '')} | {numbers} |")
    return "\n".join(lines)


def card_markdown(name, card):
    """The selected model's card, short: what it is, its data and training, its best numbers."""
    from zoo.cards import summary

    return summary(card, name, markdown=True)


# -- the controls, from the options the models declare ---------------------------------
def declared_options(names):
    """{key: Option} over every model's declared options (one control per name and kind), in
    the order of `names` (the page's: `generative_presets`)."""
    options = {}
    for name in names:
        model = model_of(name)
        for option in model.call_options() + model.sampling_options():
            options.setdefault(f"{option.name}:{option.kind}", option)
    return options


def control(option):
    import gradio as gr

    label = f"{option.name} — {option.help} ({option.describe()})"
    element = f"opt-{option.name}" + ("s" if option.kind == "prompts" else "")  # a text's prompt is another control
    common = dict(label=label, visible=False, elem_id=element, interactive=True)
    if option.kind == "choice":
        return gr.Radio(choices=list(option.choices), value=option.default, **common)
    if option.kind == "bool":
        return gr.Checkbox(value=bool(option.default), **common)
    if option.kind in ("int", "float"):
        return gr.Number(value=option.default, **common)
    if option.kind == "labels":
        return gr.Textbox(value="", placeholder="class ids separated by spaces (empty: the model's choice)",
                          **common)
    if option.kind == "prompts":
        return gr.Textbox(value="", lines=2, placeholder="one prompt for every image, or one per line (empty: "
                          "none)", **common)
    return gr.Textbox(value=option.default or "", lines=2 if option.name == "prompt" else 1, **common)


def value_of(option, raw):
    """A control's value as the option takes it: blank is None where the option allows
    None; a whole float from a number box is an int where an int is declared; anything else
    is passed on as it is, for the model to refuse in one line."""
    if option.kind in ("int", "float"):
        if raw is None or raw == "":
            return None
        return _whole(raw) if option.kind == "int" else raw
    if option.kind == "labels":
        text = (raw or "").replace(",", " ").split()
        if not text:
            return None
        try:
            return [int(t) for t in text]
        except ValueError:
            raise ZooError(f"labels must be class ids separated by spaces, e.g. 7 7 1; got {raw!r}") from None
    if option.kind == "text" and option.nullable and raw == "":
        return None
    if option.kind == "prompts":
        lines = [line.strip() for line in (raw or "").splitlines() if line.strip()]
        return None if not lines else lines[0] if len(lines) == 1 else lines
    return raw


# -- what the buttons do ------------------------------------------------------------------
def _whole(raw):
    """A number box's value: a whole float is the int it shows; anything else is passed on as
    it is, for zoo.tasks' one check of counts and seeds to refuse."""
    return int(raw) if isinstance(raw, float) and math.isfinite(raw) and raw.is_integer() else raw


def _count(raw, name):
    from zoo.tasks import check_count

    return check_count(name, _whole(raw), 1, MAX_NUM)


def _seed(raw):
    from zoo.tasks import check_seed

    return check_seed(_whole(raw))


def given_options(model, options, values, declared=None):
    """The model's own options from the controls' values: each from the control of its name
    and kind (a text model's prompt and a text-to-image prompt are two controls)."""
    declared = {f"{o.name}:{o.kind}" for o in (model.sampling_options() if declared is None else declared)}
    given = {}
    for (key, option), raw in zip(options.items(), values):
        if key in declared:
            value = value_of(option, raw)
            if value is not None or option.nullable:
                given[option.name] = value
    return given


def generate(name, seed, num, values, options, out_dir, listener=None):
    """(image path or None, text, file to download, status line). `listener(done, total,
    label)` hears the sampling's progress, and may stop it by raising."""
    from zoo import progress as zoo_progress
    from zoo.tasks import TextGenerator

    model = model_of(name)
    given = given_options(model, options, values)
    with zoo_progress.listen(listener or (lambda *a: None)):
        if isinstance(model, TextGenerator):
            call = given_options(model, options, values, model.call_options())  # the prompt, from its own box
            texts = model.generate(num=_count(num, "number of texts"), seed=_seed(seed), progress=True,
                                   **{k: v for k, v in call.items() if v}, **given)
            path = pathlib.Path(out_dir) / f"{name}_seed{_seed(seed)}.txt"
            model.save_samples(texts, path)
            return None, model.format_samples(texts), str(path), f"{len(texts)} text(s) from {name}, seed {seed}"
        images = model.generate(_count(num, "number of images"), seed=_seed(seed), **given)
    path = pathlib.Path(out_dir) / f"{name}_seed{_seed(seed)}.png"
    model.save_samples(images, path)
    return str(path), "", str(path), f"{len(images)} image(s) from {name}, seed {seed}"


def view(name, title, seed, values, options, out_dir, listener=None):
    from zoo import progress as zoo_progress
    from zoo import viz

    model = model_of(name)
    views = model.views()
    if title not in views:
        raise ZooError(f"{name} has no view {title!r}; its views: {', '.join(views) or 'none'}")
    with zoo_progress.listen(listener or (lambda *a: None)):
        images, nrow = views[title](_seed(seed), **given_options(model, options, values))
    path = pathlib.Path(out_dir) / f"{name}_{title.split()[0]}_seed{_seed(seed)}.png"
    viz.save_grid(images, path, nrow=nrow)
    return str(path), "", str(path), f"{title} of {name}, seed {seed}"


def _safely(function):
    """A handler whose errors become the status line (one line), so the page goes on."""

    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (ZooError, ValueError, OSError) as e:
            return None, "", None, f"error: {e}".splitlines()[0]
        except Exception as e:  # noqa: BLE001  (a bug: still one line on the page, not a dead server)
            return None, "", None, f"error: {type(e).__name__}: {e}".splitlines()[0]

    return run


# -- the page ---------------------------------------------------------------------------
def build(names=None, time_limit=None):
    """The Gradio Blocks app; a request may take `time_limit` seconds (default TIME_LIMIT_S)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    presets = generative_presets(names)
    if not presets:
        raise ZooError("no generative preset to show")
    cards = {name: card for name, _, card in presets}
    options = declared_options([p[0] for p in presets])
    out_dir = tempfile.mkdtemp(prefix="zoo-demo-")

    with gr.Blocks(title="zoo demo") as app:
        gr.Markdown("# zoo: generative models on Keras 3\nPick a model, set its options, press Generate.")
        with gr.Row():
            with gr.Column(scale=1):
                chooser = gr.Radio(choices=[(f"{n} ({family})", n) for n, family, _ in presets], value=quickest(presets),
                                   label="model", elem_id="model")
                card = gr.Markdown(elem_id="card")
                seed = gr.Number(value=0, precision=0, label="seed", elem_id="seed")
                num = gr.Number(value=16, precision=0, label=f"how many (1 to {MAX_NUM})", elem_id="num")
                controls = [control(option) for option in options.values()]
                with gr.Row():
                    generate_button = gr.Button("Generate", variant="primary", elem_id="generate")
                    stop_button = gr.Button("Stop", variant="stop", elem_id="stop")
                all_views = sorted({t for n, _, _ in presets for t in model_of(n).views()})
                views = gr.Radio(choices=all_views, label="more pictures", elem_id="views", visible=False)
                view_button = gr.Button("Draw this picture", elem_id="draw-view", visible=False)
            with gr.Column(scale=2):
                status = gr.Textbox(label="status", interactive=False, elem_id="status")
                image = gr.Image(label="samples", type="filepath", format="png", interactive=False,
                                 elem_id="output-image")
                text = gr.Textbox(label="text", lines=12, interactive=False, elem_id="output-text")
                download = gr.File(label="download", elem_id="download")
        with gr.Accordion("every preset", open=False):
            gr.Markdown(presets_table(presets))

        def choose(name):
            from zoo.tasks import TextGenerator

            model = model_of(name)
            texts = isinstance(model, TextGenerator)
            declared = {f"{o.name}:{o.kind}": o for o in model.call_options() + model.sampling_options()}
            titles = list(model.views())
            updates = [gr.update(visible=key in declared,
                                 value=_shown(declared[key]) if key in declared else None) for key in options]
            return [card_markdown(name, cards[name]), *updates,
                    gr.update(choices=titles, value=titles[0] if titles else None, visible=bool(titles)),
                    gr.update(visible=bool(titles)), gr.update(value=1 if texts else 16),
                    gr.update(visible=not texts), gr.update(visible=texts)]

        outputs = [image, text, download, status]
        chosen = [card, *controls, views, view_button, num, image, text]
        chooser.change(choose, chooser, chosen)
        app.load(choose, chooser, chosen)
        def guarded(function, progress, *args):
            listen = jobs.listener(TIME_LIMIT_S if time_limit is None else time_limit, progress)
            try:
                return _safely(function)(*args, listen)
            finally:
                jobs.done(listen)

        def on_generate(*inputs):  # named by api_names below; Gradio puts the Progress last
            name, s, n, *values, progress = inputs
            return guarded(generate, progress, name, s, n, values, options, out_dir)

        def on_view(*inputs):
            name, title, s, *values, progress = inputs
            return guarded(view, progress, name, title, s, values, options, out_dir)

        controls_named = api_names(options)
        named(on_generate, ["model", "seed", "num", *controls_named], gr.Progress())
        named(on_view, ["model", "view", "seed", *controls_named], gr.Progress())

        def on_stop():
            count = jobs.stop_all()
            return "stopping the running request" if count else "nothing is running"

        jobs = Jobs()
        generate_button.click(on_generate, [chooser, seed, num, *controls], outputs, api_name="generate")
        view_button.click(on_view, [chooser, views, seed, *controls], outputs, api_name="view")
        # not queued (it must not wait behind the request it stops); the loop stops at its next step
        stop_button.click(on_stop, None, status, api_name="stop", queue=False)
    app.queue(default_concurrency_limit=1)
    return app


def api_names(options):
    """The API's names of the option controls: each option's name, with its kind where two
    options share a name (a GPT's prompt and a text-to-image prompt)."""
    names = [option.name for option in options.values()]
    return [f"{o.name}_{o.kind}" if names.count(o.name) > 1 else o.name for o in options.values()]


def named(handler, names, progress):
    """Gives `handler(*inputs)` a signature with these parameter names and a last `progress`
    (Gradio's), so that the page's API names its inputs (it listed param_0 ... param_20)."""
    import inspect

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    handler.__signature__ = inspect.Signature([inspect.Parameter(n, kind) for n in names]
                                              + [inspect.Parameter("progress", kind, default=progress)])
    return handler


def _shown(option):
    """An option's default as its control shows it."""
    if option.kind in ("labels", "prompts"):
        return ""
    if option.kind == "text":
        return option.default or ""
    return option.default


def serve(host="127.0.0.1", port=DEFAULT_PORT, block=True, names=None, time_limit=None):
    """Starts the page and returns (app, url); with `block`, prints the URL and serves until
    interrupted."""
    app = build(names, time_limit)
    app.launch(server_name=host, server_port=port, share=False, inbrowser=False, prevent_thread_lock=True,
               quiet=True)
    url = f"http://{host}:{port}/"
    if block:
        print(f"zoo demo: serving on {url} (Ctrl+C stops it)", flush=True)
        try:
            app.block_thread()
        except KeyboardInterrupt:
            app.close()
    return app, url
