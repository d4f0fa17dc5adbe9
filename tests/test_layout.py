"""The floor plan: fractalvid's parts (clips, storage, learning, evaluation, and the shell at the top) import
each other in one direction, modules stay readable in one sitting, and an import inside a function says why."""
import ast

from importgraph import ROOT, circles, graph, modules

MAX_LINES = 500
# modules allowed past MAX_LINES, each with its reason
LONG = {
    "fractalvid/clips/kernels.py": "the numba kernels, compiled and cached together; each one short, with its constraints",
    "fractalvid/clips/actions.py": "one procedural benchmark read top to bottom: bodies, motions, camera, rendering",
    "fractalvid/learning/augment.py": "the real-video emulation: each effect a small class beside those it composes with",
}
# the top-level modules every part may use; the rest of the top level is the shell (cli, project, readme, tour,
# gallery), which may import any part and which no part imports
FOUNDATION = {"fractalvid.checks", "fractalvid.config", "fractalvid.progress", "fractalvid.numerics",
              "fractalvid.version", "fractalvid.atomic"}
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
            if mine and theirs is None and other.count(".") == 1 and other not in FOUNDATION:
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


def test_one_numeric_check_and_one_atomic_write():
    """checks.py holds the package's checks (check, check_int, is_int, is_number) and atomic.py its
    write-under-a-temporary-name-then-rename: no module writes its own."""
    own = []
    for path in modules().values():
        name = path.relative_to(ROOT).as_posix()
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef) and node.name.lstrip("_") in ("check", "is_num", "is_int",
                                                                                 "is_number") \
                    and name != "fractalvid/checks.py":
                own.append(f"{name}: def {node.name}")
        if name != "fractalvid/atomic.py" and ('.tmp"' in text or "'.tmp'" in text):
            own.append(f"{name}: writes a .tmp file of its own (fractalvid.atomic.replacing)")
    assert not own, own


def test_the_numeric_checks_accept_numbers_of_any_kind_and_nothing_else():
    import numpy as np

    from fractalvid.checks import is_int, is_number

    assert all(is_number(v) for v in (0, 2.5, np.float32(1.0), np.int64(3), float("inf")))
    assert not any(is_number(v) for v in (True, float("nan"), "1", None, [1]))
    assert all(is_int(v) for v in (0, -3, np.int16(7))) and not any(is_int(v) for v in (False, 1.0, "2"))


# what a benchmark script may not import: each of these runs experiments, which belong to the pipeline
EXPERIMENT_MODULES = {"fractalvid.evaluation.protocol", "fractalvid.evaluation.stats", "fractalvid.evaluation.report"}


def test_benchmarks_are_scripts_that_time_things_not_a_second_pipeline():
    """No benchmark script runs the evaluation protocol or compares initialisations (the pipeline and its DVC
    experiments do), and none imports another script (no second system of shared helpers)."""
    import ast

    scripts = sorted((ROOT / "benchmarks").glob("*.py"))
    names = {p.stem for p in scripts}
    wrong = []
    for path in scripts:
        for node in ast.walk(ast.parse(path.read_text())):
            found = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for module in found:
                if module in names:
                    wrong.append(f"{path.name} imports the script {module}")
                if any(module == m or module.startswith(m + ".") for m in EXPERIMENT_MODULES):
                    wrong.append(f"{path.name} imports {module}")
    assert not wrong, wrong
    assert {"transfer", "record", "study"}.isdisjoint(names)   # the second system, retired
