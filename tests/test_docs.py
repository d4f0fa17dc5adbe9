"""The user docs hold together: every relative link in the README, docs/, CHANGELOG and the reports' and
benchmarks' Markdown pages resolves to a file of the repository."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md")),
         *sorted((ROOT / "reports").glob("*.md")), *sorted((ROOT / "benchmarks").rglob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(text: str) -> list[str]:
    """Markdown link targets that name a file of the repository (not a URL, not an anchor), code blocks aside."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def test_the_link_finder_finds_relative_links_only():
    text = "[a](docs/x.md) [b](https://example.org) [c](#top) [d](../e.png#frag)\n```\n[f](g.md)\n```"
    assert relative_links(text) == ["docs/x.md", "../e.png#frag"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = [t for t in relative_links(page.read_text()) if not (page.parent / t.split("#")[0]).exists()]
    assert not broken, f"{page.relative_to(ROOT)} links to files that do not exist: {broken}"


# the package's own terms: a user page that uses one needs the glossary's entry for it
TERMS = {"weizmann6": r"weizmann6", "basketball5": r"basketball5", "grid": r"\bgrids?\b", "test read": r"test reads?",
         "per-init": r"per-init", "channels-last": r"channels[- ]last", "shear": r"\bshear", "pre-training draw":
         r"pre-training draws?", "clip-passes": r"clip-passes", "LP-FT": r"LP-FT", "sigma factor": r"sigma factor",
         "margin": r"\bmargins?\b", "holdout": r"\bholdout\b", "paired seeds": r"paired seeds"}
USER_PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "glossary.md")]


def glossary_entries() -> str:
    """The glossary's entry titles (its bold lead-ins), lower case, one per line."""
    text = (ROOT / "docs" / "glossary.md").read_text()
    return "\n".join(m.lower() for m in re.findall(r"^\*\*(.+?)\*\*", text, flags=re.M))


def test_every_package_term_a_user_page_uses_is_in_the_glossary():
    entries = glossary_entries()
    missing = {}
    for term, pattern in TERMS.items():
        users = [p.name for p in USER_PAGES if re.search(pattern, p.read_text(), flags=re.I)]
        if users and term.lower() not in entries:
            missing[term] = users
    assert not missing, f"terms used by user pages but not defined in docs/glossary.md: {missing}"


def test_the_glossary_check_catches_an_undefined_term(monkeypatch):
    monkeypatch.setattr(__import__(__name__), "glossary_entries", lambda: "margin")
    with pytest.raises(AssertionError, match="weizmann6"):
        test_every_package_term_a_user_page_uses_is_in_the_glossary()


# words about how the package was made, not about the package: they belong in no user page
PROCESS_WORDS = ("this project's target", "the rule's", "this session", "session)", "from one run here",
                 "work period", "(later)", "on this project's", "the issue", "my notes")


def user_texts() -> dict[str, str]:
    """README, docs/, the CHANGELOG's headings and the notebooks' text cells, by name."""
    import json
    texts = {p.name: p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]}
    texts["CHANGELOG.md headings"] = "\n".join(line for line in (ROOT / "CHANGELOG.md").read_text().splitlines()
                                               if line.startswith("#"))
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        texts[nb.name] = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return texts


def test_user_pages_speak_of_the_package_not_of_its_making():
    found = {name: [w for w in PROCESS_WORDS if w.lower() in text.lower()] for name, text in user_texts().items()}
    found = {name: words for name, words in found.items() if words}
    assert not found, f"process words in user pages: {found}"
