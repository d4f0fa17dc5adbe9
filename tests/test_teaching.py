"""The tour as teaching material: every figure stands the same way up, the widgets redraw within a second,
the exercises' solution cells run, and the student copy, the slides and the tour's JupyterLab settings build
and work offline (notebooks/00_tour.ipynb, fractalvid/tour.py, the Makefile's tour, student and slides)."""
import ast
import io
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import types
import urllib.request
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fractalvid import tour  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "00_tour.ipynb"
BIN = Path(sys.executable).parent


def cells(kind=None, tag=None):
    nb = json.loads(NOTEBOOK.read_text())
    return [c for c in nb["cells"] if (kind is None or c["cell_type"] == kind)
            and (tag is None or tag in c["metadata"].get("tags", []))]


def source(cell) -> str:
    return "".join(cell["source"])


# ------------------------------------------------------------------ one orientation

def scene(size: int = 32, y_up: bool = True) -> np.ndarray:
    """A dark image with one bright block in the scene's top-left corner: with ``y_up`` (the renderer's frames)
    the top is the last rows, otherwise (an ordinary image) the first rows."""
    image = np.zeros((size, size), np.uint8)
    rows = slice(size - 8, size) if y_up else slice(0, 8)
    image[rows, :8] = 255
    return image


def corner(fig, ax) -> str:
    """Where on the page the bright block of ``ax``'s image is drawn: 'top-left', 'bottom-right', ..."""
    fig.canvas.draw()
    page = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float).mean(-1)
    box = ax.get_window_extent()   # display pixels, y from the bottom of the page
    height = page.shape[0]
    crop = page[int(height - box.y1) + 2:int(height - box.y0) - 2, int(box.x0) + 2:int(box.x1) - 2]
    rows, cols = np.nonzero(crop > 160)
    assert len(rows), "nothing bright drawn in the axes"
    return ("top" if rows.mean() < crop.shape[0] / 2 else "bottom") + "-" + \
        ("left" if cols.mean() < crop.shape[1] / 2 else "right")


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images and ax.images[0].get_array().ndim == 2 and ax.get_label() != "<colorbar>"]


def test_the_renderer_counts_y_upwards_so_the_tour_draws_its_frames_with_row_0_at_the_bottom():
    counts = tour.density(200, res=64)   # the Sierpinski triangle: its base at y = -1, its apex at y = 1
    width = [(row > 0).sum() for row in counts]
    assert width[6] > 40 and 0 < width[57] < 12   # the first rows are the wide base, the last the narrow apex


@pytest.mark.parametrize("draw", ["show_images", "frame_grid", "attractor_figure", "density_figure",
                                  "motion_figure", "interpolation_figure"])
def test_every_picture_of_the_tour_stands_the_same_way_up(draw, monkeypatch):
    up = scene()
    clip = np.repeat(up[None], 19, axis=0)
    monkeypatch.setattr(tour, "attractor", lambda *a, **k: types.SimpleNamespace(frames=up[None],
                                                                                  coverage=np.array([0.06])))
    monkeypatch.setattr(tour, "density", lambda *a, **k: (up // 255).astype(np.uint32) * 40)
    monkeypatch.setattr(tour, "motion_clip", lambda *a, **k: (np.zeros((18, 3)), clip[:18]))
    monkeypatch.setattr(tour, "interpolated_clip", lambda *a, **k: ({"decomposed": np.ones((19, 4, 6)),
                                                                       "naive": np.ones((19, 4, 6))}, clip))
    fig = {"show_images": lambda: tour.show_images([up, up], ["a", "b"]),
           "frame_grid": lambda: tour.frame_grid({"a clip": clip, "another": clip}, frames=[0, 4, 8])}.get(
        draw, lambda: getattr(tour, draw)())()
    axes = image_axes(fig)
    assert axes, f"{draw} drew no image"
    where = [corner(fig, ax) for ax in axes]
    plt.close(fig)
    assert where == ["top-left"] * len(axes), f"{draw} draws the scene upside down or mirrored: {where}"


@pytest.mark.parametrize("draw", ["show_images", "frame_grid"])
def test_an_ordinary_image_stands_the_same_way_up_too(draw):
    down = scene(y_up=False)   # the built-in actions and the other families: row 0 at the top
    fig = (tour.show_images([down], ["a"], y_up=False) if draw == "show_images"
           else tour.frame_grid({"actions": down[None]}, frames=[0], y_up={"actions": False}))
    where = corner(fig, image_axes(fig)[0])
    plt.close(fig)
    assert where == "top-left"


def test_the_animation_stands_as_the_figures_do(tmp_path):
    from PIL import Image

    from fractalvid.storage.video import write_clip

    gif = write_clip(tour.as_rows_top_down(np.repeat(scene()[None], 3, axis=0)), tmp_path / "clip.gif")
    first = np.asarray(Image.open(gif).convert("L"))
    rows, cols = np.nonzero(first > 128)
    assert rows.max() < 16 and cols.max() < 16   # top-left, as in the figures


def test_the_tour_draws_every_image_through_the_one_picture_function():
    """Every imshow of the tour's module is inside picture(), and the notebook's only imshow is the temporal
    shift's table (frames down its rows, as a table reads)."""
    tree = ast.parse((ROOT / "fractalvid" / "tour.py").read_text())
    owners = [f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
              for n in ast.walk(f) if isinstance(n, ast.Attribute) and n.attr == "imshow"]
    assert owners == ["picture"], owners
    in_notebook = [source(c) for c in cells("code") if "imshow" in source(c)]
    assert len(in_notebook) == 1 and "temporal_shift" in in_notebook[0], in_notebook


def test_the_density_figure_has_a_colour_bar_in_points_per_pixel():
    fig = tour.density_figure(steps=50, res=48)
    bars = [ax for ax in fig.axes if "points per pixel" in ax.get_ylabel()]
    plt.close(fig)
    assert len(bars) == 1


# ------------------------------------------------------------------ the widgets

def redraw_seconds(figure, values) -> list[float]:
    """Seconds per redraw, as the inline backend redraws: the figure made, then rendered to a PNG."""
    out = []
    for v in values:
        start = time.perf_counter()
        fig = figure(**v)
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)
        out.append(time.perf_counter() - start)
    return out


@pytest.mark.parametrize("figure, values", [
    ("density_figure", [dict(steps=s) for s in (20, 57, 143, 299, 400)]),
    ("attractor_figure", [dict(alpha=a) for a in (1.25, 3.5, 4.75, 6.0)] + [dict(alpha=4.5, n_maps=6)]),
    ("interpolation_figure", [dict(motion=m) for m in ("naive", "decomposed", "naive", "decomposed", "naive")]),
    ("motion_figure", [dict(curve="curve", frame=0), dict(curve="curve", frame=5), dict(curve="periodic"),
                       dict(curve="periodic", frame=9), dict(curve="curve", frame=17)]),
])
def test_each_widget_redraws_within_a_second(figure, values):
    """Median of 5 redraws, each at a value the widget had not shown, its caches emptied first (numba's kernels
    compiled beforehand, as the tour's earlier cells compile them)."""
    tour.density_figure(steps=2, res=16); tour.attractor(4.5, 3, res=16); tour.motion_clip("linear", res=16)
    for cached in (tour.attractor, tour.density, tour.motion_clip, tour.interpolated_clip, tour.collapsing_draw):
        cached.cache_clear()
    seconds = redraw_seconds(getattr(tour, figure), values)
    assert statistics.median(seconds) < 1.0, [round(s, 2) for s in seconds]


def test_what_a_widget_redraws_is_cached_and_cannot_be_changed_by_a_caller():
    tour.motion_clip.cache_clear()
    lam, frames = tour.motion_clip("sharp", res=32)
    assert tour.motion_clip("sharp", res=32)[1] is frames       # a play tick renders nothing again
    with pytest.raises(ValueError, match="read-only"):
        frames[0, 0, 0] = 1


def test_the_hint_to_move_a_control_shows_only_where_it_can_be_moved(monkeypatch):
    import ipywidgets

    shown = []
    monkeypatch.setattr(tour, "display", shown.append)
    controls = {"steps": ipywidgets.IntSlider(7, min=1, max=50)}
    tour.live(lambda steps: tour.density_figure(steps=steps, res=16), controls, interactive=False,
              hint="move the slider")
    assert len(shown) == 1 and type(shown[0]).__name__ == "Figure"           # the report: a still figure alone
    tour.live(lambda steps: tour.density_figure(steps=steps, res=16), controls, interactive=True,
              hint="move the slider")
    hints = [w for w in shown[-1].children if isinstance(w, ipywidgets.HTML)]
    assert len(hints) == 1 and "move the slider" in hints[0].value


def test_no_markdown_of_the_tour_tells_a_reader_of_the_static_report_to_move_a_control():
    told = [source(c)[:80] for c in cells("markdown")
            if re.search(r"\b(move|press|drag|click|slide)\s+(the|a|it|play)\b", source(c), re.I)]
    assert not told, told


def test_each_cell_of_the_tour_draws_from_its_own_rng():
    """No cell reads a generator another cell made (rerun alone, it would draw other pictures than the slides),
    and none uses numpy's global one."""
    for cell in cells("code"):
        tree = ast.parse(source(cell))
        made = {t.id for n in ast.walk(tree) if isinstance(n, (ast.Assign, ast.For)) for t in ast.walk(
            n.targets[0] if isinstance(n, ast.Assign) else n.target) if isinstance(t, ast.Name)}
        for n in ast.walk(tree):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and "rng" in n.id:
                assert n.id in made, f"a cell reads {n.id}, made elsewhere: {source(cell)[:120]}"
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Attribute) and n.value.attr == "random":
                assert n.attr == "default_rng", f"np.random.{n.attr}: the global generator"


# ------------------------------------------------------------------ exercises, the student copy, the slides

def exercises() -> dict[int, list[dict]]:
    """Exercise number -> its cells (its question first), from the exercises' heading to the references."""
    nb = json.loads(NOTEBOOK.read_text())["cells"]
    start = next(i for i, c in enumerate(nb) if source(c).startswith("## 14. Exercises"))
    out, current = {}, None
    for c in nb[start:]:
        if source(c).startswith("## References"):
            break
        number = re.search(r"^(\d)\. ", source(c), re.M) if "solution" not in c["metadata"].get("tags", []) else None
        if number:
            current = int(number.group(1))
            out[current] = []
        out[current].append(c)
    return out


def test_every_exercise_has_its_answer_and_each_that_asks_for_code_its_solution_cell():
    found = exercises()
    assert sorted(found) == [1, 2, 3, 4, 5]
    for number, group in found.items():
        question, rest = source(group[0]), group[1:]
        assert all("solution" in c["metadata"].get("tags", []) for c in rest), number
        assert any(c["cell_type"] == "markdown" and "<details>" in source(c) for c in rest), number
        assert "<details>" not in question                       # no answer in a cell the student copy keeps
        asks_for_code = bool(re.search(r"`[^`]*\(", question)) or re.search(r"\b(Compute|Scan|Follow)\b", question)
        assert bool(asks_for_code) == any(c["cell_type"] == "code" for c in rest), number


def test_the_solution_cells_run_and_check_what_their_answers_say():
    solutions = cells("code", tag="solution")
    assert len(solutions) == 4
    for cell in solutions:   # each on its own, as a student would paste it; the notebook's setting for res, seed
        exec(compile(source(cell), "<solution>", "exec"), {"res": 64, "seed": 0})
        plt.close("all")


def make(*targets, tmp_path):
    """The Makefile's targets, with this interpreter's environment and without reinstalling it."""
    done = subprocess.run(["make", "-C", str(ROOT), f"BIN={BIN}", "-o", f"{BIN}/.installed", f"TEACHING={tmp_path}",
                           *targets], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_make_student_writes_the_tour_without_its_answers(tmp_path):
    import nbformat

    make("student", tmp_path=tmp_path)
    copy = nbformat.read(tmp_path / "00_tour_student.ipynb", as_version=4)
    nbformat.validate(copy)
    texts = [c.source for c in copy.cells]
    full = [source(c) for c in cells() if "solution" not in c["metadata"].get("tags", [])]
    assert texts == full                                         # every other cell, as it is and in order
    assert not any("<details>" in t for t in texts) and len(texts) == len(cells()) - 9
    assert all(re.search(rf"^{n}\. ", "\n".join(texts), re.M) for n in range(1, 6))   # the questions stay


def test_make_slides_builds_a_pdf_of_the_tours_figures_in_the_tours_order(tmp_path):
    folder = tmp_path / "figures"
    folder.mkdir()
    names = ["temporal_shift", "chaos_game_one_walker", "try_density", "one_map_decomposed"]
    for i, name in enumerate(names + ["not_in_the_tour"]):
        plt.imsave(folder / f"{name}.png", np.full((20, 30 + i), i * 50, np.uint8), cmap="gray")
    pages = tour.slides_pdf(folder, NOTEBOOK, tmp_path / "slides.pdf")
    assert pages == ["chaos_game_one_walker.png", "try_density.png", "one_map_decomposed.png", "temporal_shift.png",
                     "not_in_the_tour.png"]                       # the tour's order, the rest after
    pdf = (tmp_path / "slides.pdf").read_bytes()
    assert pdf[:5] == b"%PDF-" and len(re.findall(rb"/Type\s*/Page\b", pdf)) == 5
    with pytest.raises(ValueError, match="folder"):
        tour.slides_pdf(tmp_path / "empty", NOTEBOOK, tmp_path / "none.pdf")
    # the Makefile's target, on the committed figures: a page per figure
    printed = make("slides", tmp_path=tmp_path)
    figures = list((ROOT / "reports" / "figures" / "00_tour").glob("*.png"))
    assert f"{len(figures)} pages" in printed
    assert len(re.findall(rb"/Type\s*/Page\b", (tmp_path / "tour_slides.pdf").read_bytes())) == len(figures)


# ------------------------------------------------------------------ JupyterLab without the news pop-up

def notification_settings(settings_dir: Path) -> dict:
    """The notification settings a JupyterLab started with JUPYTERLAB_SETTINGS_DIR=settings_dir serves."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lab = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
                            "--ServerApp.ip=127.0.0.1", "--allow-root", "--IdentityProvider.token=t",
                            f"--ServerApp.root_dir={settings_dir}"],
                           env={**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings_dir)},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/lab/api/settings/@jupyterlab/apputils-extension:notification?token=t"
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    return json.loads(r.read())
            except OSError:
                time.sleep(0.3)
        raise TimeoutError("jupyter lab did not answer in 60 s")
    finally:
        lab.terminate()
        lab.wait(timeout=30)


def test_the_tours_jupyterlab_asks_nothing_about_news(tmp_path):
    """JupyterLab asks "Would you like to get notified about official Jupyter news?" while the setting fetchNews
    is "none", its default; the project's settings folder, which make tour passes, says "false"."""
    settings = ROOT / ".jupyterlab" / "user-settings"
    assert f"JUPYTERLAB_SETTINGS_DIR={settings}" in make("-n", "tour", tmp_path=tmp_path)
    ours = notification_settings(settings)
    assert ours["settings"]["fetchNews"] == "false" and ours["settings"]["checkForUpdates"] is False
    bare = notification_settings(tmp_path)   # without them JupyterLab would ask
    assert "fetchNews" not in bare["settings"] and bare["schema"]["properties"]["fetchNews"]["default"] == "none"
