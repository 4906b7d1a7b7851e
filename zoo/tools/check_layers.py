"""Checks that zoo's imports run one way, down its layers:

    python -m zoo.tools.check_layers        # exit 0, or 1 with one line per offending import

Every `import`/`from ... import` of a zoo module counts, at the top of a file or inside a
function alike (an import deferred into a function is still a dependency). A module may
import modules of its own layer or of the layers below it, never above, and no group of
modules may import each other in a loop. The layers, bottom first (README, "How zoo is
built"):

    foundation  errors, io, system, progress, manifest, metrics, images, viz, text, captions
    core        zoo.core: backend adapters, the training guard, ZooModel, optimizers
    contracts   tasks (the task classes and their Options), options, serving, layers
    parts       networks (UNet, transformer blocks), diffusion (schedules, samplers)
    models      zoo.models: one file per family, each registered where it is defined
    presets     cards, hub, registry (reading), publish (writing), runs, data
    uses        evaluation, export, harness
    apps        cli, demo, tools; recipes/ and benchmarks/ (outside the package)

recipes/ and benchmarks/ sit in the top layer; nothing but a recipe imports a recipe (the CLI
runs them by name).
"""

import ast
import pathlib
import sys

LAYERS = (
    ("foundation", ("zoo.errors", "zoo.io", "zoo.system", "zoo.progress", "zoo.manifest", "zoo.metrics",
                    "zoo.images", "zoo.viz", "zoo.text", "zoo.captions")),
    ("core", ("zoo.core",)),
    ("contracts", ("zoo.tasks", "zoo.options", "zoo.serving", "zoo.layers")),
    ("parts", ("zoo.networks", "zoo.diffusion")),
    ("models", ("zoo.models",)),
    ("presets", ("zoo.cards", "zoo.hub", "zoo.registry", "zoo.publish", "zoo.runs", "zoo.data")),
    ("uses", ("zoo.evaluation", "zoo.export", "zoo.harness")),
    ("apps", ("zoo.cli", "zoo.demo", "zoo.tools", "zoo.__main__", "zoo", "recipes", "benchmarks")),
)
ROOT = pathlib.Path(__file__).resolve().parents[2]


def layer_of(module):
    """(index, name) of the layer a dotted module name belongs to; None for a module outside
    zoo (the standard library, Keras, ...)."""
    best = None
    for index, (name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[2]):
                best = (index, name, len(prefix))
    return None if best is None else best[:2]


def module_name(path, root=ROOT):
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path, root=ROOT):
    """[(line, imported module)] of the zoo/recipes/benchmarks modules `path` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    here = module_name(path, root).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            # `from zoo.cards import write_card` imports zoo.cards; `from zoo.core import backend` imports
            # zoo.core.backend and zoo.core too (the names are read from the package, whose __init__ runs)
            found += [(node.lineno, f"{module}.{a.name}" if _is_module(f"{module}.{a.name}", root) else module)
                      for a in node.names]
            # (zoo/__init__.py imports nothing, lazily: no edge to it)
            if module != "zoo" and any(_is_module(f"{module}.{a.name}", root) for a in node.names):
                found.append((node.lineno, module))
    return [(line, name) for line, name in found if layer_of(name) is not None]


def _is_module(name, root):
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def files(root=ROOT):
    for folder in ("zoo", "recipes", "benchmarks"):
        yield from sorted((root / folder).rglob("*.py"))


def problems(root=ROOT):
    """One line per import that runs up the layers, or across recipes/ and benchmarks/, or
    closes a loop."""
    out, graph = [], {}
    for path in files(root):
        source = module_name(path, root)
        mine = layer_of(source)
        for line, target in imports(path, root):
            graph.setdefault(source, set()).add(target)
            theirs = layer_of(target)
            where = f"{path.relative_to(root)}:{line}"
            if theirs[0] > mine[0]:
                out.append(f"{where}: {source} ({mine[1]}) imports {target} ({theirs[1]}), a layer above it")
            elif _recipe(target) and not _recipe(source) and source != "zoo.cli":
                out.append(f"{where}: {source} imports the recipe {target}: recipes are scripts at the top, and "
                           "what others need of them belongs in zoo")
    for loop in loops(graph):
        out.append(f"import loop of {len(loop)} modules (each reaches the others): {', '.join(loop)}")
    return out


def _recipe(module):
    return module.split(".")[0] == "recipes" or module.startswith("zoo.recipes")


def loops(graph):
    """The strongly connected groups of more than one module (Tarjan's algorithm), each as a
    sorted list."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def main():
    found = problems()
    for line in found:
        print(line)
    print(f"check_layers: {len(found)} problem(s) in {sum(1 for _ in files())} files", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
