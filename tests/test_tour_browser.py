"""The tour as a teacher uses it: JupyterLab started headless on the tour, opened in headless Chromium, every
cell run there, then each widget moved (a slider by keyboard, a menu, a button) and its figure redrawn; a
screenshot is saved.

Slow (a kernel runs the whole tour). Needs Debian's Chromium and its driver (``apt-get install chromium
chromium-driver``; ``.ci/run`` installs them); skipped with that message where they are absent. Run as a
script it leaves the screenshot where you say: ``python tests/test_tour_browser.py OUT.png``.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
# what the tour reads: its own parameters, the paper's (for the scale of chapter 12), the pipeline's committed
# results and ablations; and the project's JupyterLab settings, which make tour passes
TOUR_FILES = ("params.yaml", "params-paper.yaml", "notebooks/00_tour.ipynb", "reports/metrics/results.json",
              "reports/metrics/pretrain", "reports/metrics/generate.json", "reports/plots/pretrain",
              "reports/ablations.json", ".jupyterlab/user-settings")
# Chromium as root on a machine without a network: no sandbox, and no background connections to refuse
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1400,1000")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="Chromium or chromedriver is absent: "
                                 "apt-get install chromium chromium-driver (as .ci/run does)")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float, what: str, every: float = 0.5):
    """``condition()``'s first truthy value, polled; TimeoutError naming ``what`` after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"waited {timeout:.0f} s for {what}")


def start_lab(folder: Path, port: int, token: str, log: Path) -> subprocess.Popen:
    """JupyterLab on ``folder`` as make tour starts it: with the project's settings (no news pop-up)."""
    lab = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
                            "--ServerApp.ip=127.0.0.1", "--allow-root", f"--IdentityProvider.token={token}",
                            f"--ServerApp.root_dir={folder}", "--LabApp.expose_app_in_browser=True"],
                           env={**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(folder / ".jupyterlab" / "user-settings")},
                           stdout=log.open("w"), stderr=subprocess.STDOUT)

    def up():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2) as r:
                return r.status == 200
        except OSError:
            return lab.poll() is not None and pytest.fail(f"jupyter lab exited: {log.read_text()[-2000:]}")
    wait_for(up, 60, "jupyter lab to answer")
    return lab


# in the page: the notebook open in JupyterLab (found among the main area's widgets: a headless window has
# no focus, so the shell's current widget stays unset), its kernel, and what its cells show
NOTEBOOK = ("window.jupyterapp && Array.from(window.jupyterapp.shell.widgets('main'))"
            ".find(w => w.content && w.sessionContext)")
RUN_ALL = (f"const w = {NOTEBOOK}; window.jupyterapp.shell.activateById(w.id); "
           "window.jupyterapp.commands.execute('notebook:run-all-cells');")
KERNEL_IDLE = (f"const w = {NOTEBOOK}; return !!(w && w.sessionContext && w.sessionContext.session && "
               "w.sessionContext.session.kernel && w.sessionContext.session.kernel.status === 'idle');")
LAST_CELL_RAN = (f"const w = {NOTEBOOK}; const cells = w.content.widgets; const last = cells[cells.length - 1]; "
                 "return cells.every(c => c.model.type !== 'code' || c.model.executionCount !== null) && "
                 "(last.model.type !== 'code' || last.model.executionCount !== null);")
ERRORS = ("return Array.from(document.querySelectorAll('[data-mime-type=\"application/vnd.jupyter.error\"]'))"
          ".map(e => e.textContent.slice(0, 500));")
# the box of the widget whose control is labelled arguments[0], and the figure it shows
BOX = ("return Array.from(document.querySelectorAll('.widget-vbox')).find(b => Array.from("
       "b.querySelectorAll('.widget-label')).some(l => l.textContent.trim() === arguments[0])) || null;")
FIGURE = "const img = arguments[0].querySelector('img'); return img ? img.src : null;"


def move(driver, box, control: str) -> None:
    """Move one control of a widget box as a student would: a slider by its keyboard, a menu by choosing, a
    button by clicking."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
    if control in ("steps", "alpha"):
        handle = box.find_element(By.CSS_SELECTOR, ".noUi-handle")
        handle.click()
        handle.send_keys(Keys.ARROW_RIGHT * 4)
    elif control == "curve":
        Select(box.find_element(By.CSS_SELECTOR, "select")).select_by_visible_text("periodic")
    else:   # motion: the other interpolation
        next(b for b in box.find_elements(By.CSS_SELECTOR, "button") if b.text.strip() == "decomposed").click()


def run_tour_in_browser(folder: Path, screenshot: Path) -> dict:
    """Open the tour in JupyterLab in Chromium, run every cell, then move one control of each widget; what was
    seen: the widgets, the images, errors, and per control whether its figure was redrawn."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    port, token = free_port(), "fractalvid-tour-test"
    lab = start_lab(folder, port, token, folder / "jupyterlab.log")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + (f"--user-data-dir={folder / 'chromium-profile'}",):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        driver.get(f"http://127.0.0.1:{port}/lab/tree/notebooks/00_tour.ipynb?token={token}")
        wait_for(lambda: driver.execute_script(KERNEL_IDLE), 120, "the tour's kernel to start")
        driver.execute_script(RUN_ALL)
        wait_for(lambda: driver.execute_script(LAST_CELL_RAN) and driver.execute_script(KERNEL_IDLE), 300,
                 "every cell of the tour to run")
        redrawn = {}
        for control in ("steps", "alpha", "motion", "curve"):
            box = wait_for(lambda: driver.execute_script(BOX, control), 60, f"the widget of '{control}'")
            before = wait_for(lambda: driver.execute_script(FIGURE, box), 60, f"the figure of '{control}'")
            move(driver, box, control)
            redrawn[control] = bool(wait_for(lambda: (src := driver.execute_script(FIGURE, box)) != before and src,
                                             60, f"the figure of '{control}' to be redrawn"))
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", driver.execute_script(BOX, "motion"))
        time.sleep(0.5)
        driver.save_screenshot(str(screenshot))
        return {"widgets": len(driver.find_elements(By.CSS_SELECTOR, ".jupyter-widgets.widget-vbox")),
                "news": "official Jupyter news" in driver.find_element(By.TAG_NAME, "body").text,
                "hints": len([e for e in driver.find_elements(By.CSS_SELECTOR, ".widget-html")
                              if e.text.startswith("Try it:")]),
                "images": len(driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output img")),
                "errors": driver.execute_script(ERRORS), "redrawn": redrawn,
                "pressed": [b.text.strip() for b in driver.find_elements(By.CSS_SELECTOR,
                                                                         ".widget-toggle-buttons button.mod-active")]}
    finally:
        driver.quit()
        lab.terminate()
        lab.wait(timeout=30)


def copy_tour(folder: Path) -> None:
    for rel in TOUR_FILES:
        source, target = ROOT / rel, folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)


def test_the_tour_runs_in_jupyterlab_and_a_widget_redraws_its_figure(tmp_path):
    copy_tour(tmp_path)
    screenshot = tmp_path / "tour_in_jupyterlab.png"
    seen = run_tour_in_browser(tmp_path, screenshot)
    assert seen["errors"] == [], seen["errors"]
    assert seen["widgets"] >= 4, seen          # the four interactive pieces, live
    assert seen["hints"] == 4, seen            # each says what to move, where it can be moved
    assert not seen["news"], seen              # no pop-up over the figures asking about Jupyter news
    assert seen["images"] >= 15, seen          # the tour's figures rendered in the page
    assert seen["redrawn"] == {"steps": True, "alpha": True, "motion": True, "curve": True}, seen
    assert seen["pressed"] == ["decomposed"], seen
    assert screenshot.stat().st_size > 10_000 and screenshot.read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "reports" / "figures" / "00_tour" / "try_interpolation.png").exists()  # ran there


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tour_in_jupyterlab.png").resolve()
    with tempfile.TemporaryDirectory() as tmp:
        copy_tour(Path(tmp))
        print(json.dumps(run_tour_in_browser(Path(tmp), out)))
    print(out)
