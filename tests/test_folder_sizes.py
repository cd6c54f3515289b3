"""No folder of more than twelve modules (issue 27): a newcomer takes in a folder's names
at a glance. A folder that grows past it is split into sub-packages named after what
they do (docs/architecture.md draws the map).

The Python folders of campaign/, bench/ and tests/ count their .py files (__init__ and
conftest included); the template folders count templates, a mail's .txt and .html as one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.helpers import ROOT

LIMIT = 12


def modules(folder: Path) -> int:
    return len(list(folder.glob("*.py")))


def templates(folder: Path) -> int:
    return len({p.name.split(".")[0] for p in folder.glob("*.*") if p.suffix in (".html", ".txt")})


def crowded(root: Path, count: Callable[[Path], int]) -> dict[str, int]:
    """Folder (from the project root) -> how many it holds, for each one over LIMIT."""
    folders = [root, *(p for p in root.rglob("*") if p.is_dir())]
    sizes = {
        folder.relative_to(root.parent).as_posix(): count(folder)
        for folder in folders
        if "__pycache__" not in folder.parts
    }
    return {folder: size for folder, size in sorted(sizes.items()) if size > LIMIT}


def test_no_python_folder_holds_more_than_twelve_modules():
    for top in ("campaign", "bench", "tests"):
        assert crowded(ROOT / top, modules) == {}, "split it into sub-packages"


def test_no_template_folder_holds_more_than_twelve_templates():
    assert crowded(ROOT / "templates", templates) == {}, "split it into sub-folders"


def test_the_count_sees_a_crowded_folder(tmp_path):
    package = tmp_path / "campaign" / "crowded"
    package.mkdir(parents=True)
    for n in range(LIMIT + 1):
        (package / f"m{n}.py").touch()
    (package / "notes.md").touch()
    assert crowded(tmp_path / "campaign", modules) == {"campaign/crowded": LIMIT + 1}
    mail = tmp_path / "templates" / "mail"
    mail.mkdir(parents=True)
    for n in range(LIMIT):
        (mail / f"m{n}.txt").touch()
        (mail / f"m{n}.html").touch()
    assert crowded(tmp_path / "templates", templates) == {}
    (mail / "one_more.txt").touch()
    assert crowded(tmp_path / "templates", templates) == {"templates/mail": LIMIT + 1}
