"""Notebooks find the project's params.yaml; long work reports progress as a few lines outside a terminal."""
import os

import pytest
import yaml

from fractalvid.progress import Lines, progress_bar
from fractalvid.project import enter_project, find_root


def test_enter_project_finds_params_above_and_moves_there(tmp_path, monkeypatch):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"generate": {"classes": 3}}))
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")   # where Jupyter starts a notebook
    assert enter_project() == {"generate": {"classes": 3}}
    assert os.getcwd() == str(tmp_path)          # params.yaml's relative paths now resolve
    assert find_root(tmp_path / "notebooks") == tmp_path


def test_no_params_yaml_is_a_clear_error(tmp_path):
    lonely = tmp_path / "a" / "b"
    lonely.mkdir(parents=True)
    if any((p / "params.yaml").exists() for p in (lonely, *lonely.parents)):
        pytest.skip("a params.yaml sits above the temporary folder")
    with pytest.raises(FileNotFoundError, match="no params.yaml in .*b or any folder above it"):
        find_root(lonely)


def test_lines_print_each_quarter_once(capsys):
    bar = Lines(total=10, desc="generate ds", unit="clip")
    bar.set_postfix(loss="0.5")
    for _ in range(10):
        bar.update(1)
    bar.close()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0] for line in lines] == [f"generate ds: {n}/10 clips" for n in (3, 5, 8, 10)]
    assert lines[-1].endswith(", loss 0.5")


def test_progress_bar_is_lines_without_a_terminal_and_silent_when_disabled(capsys):
    # pytest captures stderr: no terminal, as under papermill
    assert isinstance(progress_bar(4, "x", "clip"), Lines)
    quiet = progress_bar(4, "x", "clip", enabled=False)
    quiet.update(4)
    quiet.close()
    assert capsys.readouterr().out == ""
