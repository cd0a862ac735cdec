"""The README starts with the commands that work from nothing but the repository's URL."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CLONE = "git clone https://example.org/licensewatch.git && cd licensewatch"
DEMO = "pip install . && licensewatch demo"
TESTS = 'pip install ".[test]" && python -m pytest'


def first_code_block(text: str) -> tuple[str, list[str]]:
    """The language and the lines of the first fenced code block of ``text``."""
    match = re.search(r"^```(\w*)\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)
    assert match, "the README has no code block"
    return match.group(1), match.group(2).splitlines()


def test_the_readme_starts_with_clone_then_the_demo_and_the_tests() -> None:
    text = README.read_text(encoding="utf-8")
    before = text.split("```", 1)[0]
    assert before.strip() == "# licensewatch", "only the title comes before the first commands"
    language, lines = first_code_block(text)
    assert language == "sh"
    assert lines == [CLONE, DEMO, TESTS]


def test_the_clone_placeholder_names_the_folder_cd_enters() -> None:
    match = re.fullmatch(r"git clone (\S+) && cd (\S+)", CLONE)
    assert match
    url, folder = match.groups()
    assert url.rsplit("/", 1)[1].removesuffix(".git") == folder


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert TESTS in ci, ".ci/run must run the README's test command verbatim, as its own line"
