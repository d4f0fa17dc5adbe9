"""fractalvid's import graph, read from the source (nothing is imported): which project files a notebook
runs, which modules import each other, and which imports sit inside functions. The tests of the floor plan
(tests/test_layout.py) and of dvc.yaml's code dependencies (tests/test_notebooks.py) read it."""
from __future__ import annotations

import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fractalvid"


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its __init__.py)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rsplit(".", 1)[0]


def imports(source: str, name: str | None = None, path: Path | None = None) -> list[tuple[str, int, bool]]:
    """(imported fractalvid module, line, inside a function) for each import of ``source``; relative imports
    are resolved against module ``name`` at ``path``. ``from A import b`` names module A.b where b is one."""
    known = modules()
    out = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            targets = []
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = _package_of(name, path).split(".")
                    base = base[:len(base) - (child.level - 1)]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                for alias in child.names:
                    sub = f"{module}.{alias.name}"
                    targets.append(sub if sub in known else module)
            elif isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            for t in targets:
                if t in known:
                    out.append((t, child.lineno, in_function))
            visit(child, inner)

    visit(ast.parse(source), False)
    return out


def graph() -> dict[str, set[str]]:
    """module -> the modules it imports (at any depth in it)."""
    return {name: {t for t, _, _ in imports(path.read_text(), name, path)} for name, path in modules().items()}


def circles() -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    g, index, low, stack, on, out, counter = graph(), {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(g):
        if v not in index:
            strong(v)
    return out


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts))]


def notebook_files(notebook: Path) -> set[str]:
    """Every project file a notebook runs: its fractalvid imports, followed through the package, with the
    ``__init__.py`` of every package on the way (importing a submodule runs them)."""
    code = "\n".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]
                     if c["cell_type"] == "code")
    known, g = modules(), graph()
    todo, seen = [t for t, _, _ in imports(code)], set()
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo += list(g[m]) + _parents(m)
    return {known[m].relative_to(ROOT).as_posix() for m in seen}


def code_deps(notebook: Path) -> list[str]:
    """The code dependencies a stage running ``notebook`` should list: the files it runs, a subpackage as
    its folder where every one of its files runs."""
    files = notebook_files(notebook)
    out = set(files)
    for folder in sorted({p.parent for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE and "__pycache__" not in p.parts}):
        members = {p.relative_to(ROOT).as_posix() for p in folder.rglob("*.py") if "__pycache__" not in p.parts}
        if members <= files:
            out = (out - members) | {folder.relative_to(ROOT).as_posix()}
    # a folder inside a folder already listed is covered by it
    return sorted(d for d in out if not any(d != o and d.startswith(o + "/") for o in out))


def write_dvc_deps(dvc_yaml: Path = ROOT / "dvc.yaml") -> bool:
    """Rewrite the fractalvid/ lines of each stage's deps in dvc.yaml to :func:`code_deps` of the notebook its
    command runs (comments and the rest of the file as they are); True if it changed."""
    lines, out, notebook = dvc_yaml.read_text().split("\n"), [], None
    i = 0
    while i < len(lines):
        line = lines[i]
        if "papermill notebooks/" in line:
            notebook = ROOT / line.split("papermill ", 1)[1].split()[0]
        stripped = line.strip()
        if stripped.startswith("- fractalvid/") and notebook is not None:
            indent = line[:len(line) - len(line.lstrip())]
            while i < len(lines) and lines[i].strip().startswith("- fractalvid/"):
                i += 1
            out += [f"{indent}- {d}" for d in code_deps(notebook)]
            continue
        out.append(line)
        i += 1
    text = "\n".join(out)
    changed = text != dvc_yaml.read_text()
    if changed:
        dvc_yaml.write_text(text)
    return changed


if __name__ == "__main__":   # python tests/importgraph.py: write dvc.yaml's code deps
    print("dvc.yaml rewritten" if write_dvc_deps() else "dvc.yaml's code deps are already derived")
