"""The floor plan: fractalvid's parts (clips, storage, learning, evaluation, and the shell at the top) import
each other in one direction, modules stay readable in one sitting, and an import inside a function says why."""
import ast

from importgraph import ROOT, circles, graph, modules

MAX_LINES = 500
# modules allowed past MAX_LINES, each with its reason
LONG = {
    "fractalvid/clips/kernels.py": "the numba kernels, compiled and cached together; each one short, with its constraints",
    "fractalvid/clips/actions.py": "one procedural benchmark read top to bottom: bodies, motions, camera, rendering",
    "fractalvid/clips/families.py": "the three comparison families side by side, each a config and a renderer",
    "fractalvid/learning/augment.py": "the real-video emulation: each effect a small class beside those it composes with",
    "fractalvid/learning/train.py": "one training run (Run) read top to bottom, as torchvision's reference train.py",
}
# which part may import which: the shell (top-level modules) may import any part
PARTS = ("clips", "storage", "learning", "evaluation")
ALLOWED = {"clips": {"storage"}, "storage": set(), "learning": {"clips", "storage"},
           "evaluation": {"learning", "storage", "clips"}}


def test_no_import_circles():
    assert circles() == [], "modules that import each other in a loop"


def part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in PARTS else None


def test_the_parts_import_each_other_in_one_direction():
    wrong = []
    for module, imported in graph().items():
        mine = part(module)
        for other in imported:
            theirs = part(other)
            if mine and theirs and theirs != mine and theirs not in ALLOWED[mine]:
                wrong.append(f"{module} -> {other}")
            if mine and theirs is None and other.count(".") == 1 and other not in (
                    "fractalvid.checks", "fractalvid.config", "fractalvid.progress", "fractalvid.numerics",
                    "fractalvid.version"):
                wrong.append(f"{module} -> {other} (a part imports the shell)")
    assert not wrong, wrong


def test_modules_are_short_or_say_why_not():
    lengths = {path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines()) for path in modules().values()}
    too_long = {f: n for f, n in lengths.items() if n > MAX_LINES and f not in LONG}
    assert not too_long, f"over {MAX_LINES} lines: {too_long}: split them, or add each to LONG with its reason"
    stale = [f for f in LONG if lengths.get(f, 0) <= MAX_LINES]
    assert not stale, f"{stale} are short now (or gone): take them off LONG"


def test_imports_inside_functions_say_why():
    """An import inside a function is a choice (a slow library loaded where used, a command's own modules):
    a comment on its line, or right above it, says which."""
    silent = []
    for path in modules().values():
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        here, above = lines[inner.lineno - 1], lines[inner.lineno - 2].strip()
                        if "#" not in here and not above.startswith("#"):
                            silent.append(f"{path.relative_to(ROOT)}:{inner.lineno}: {here.strip()}")
    assert not silent, silent
