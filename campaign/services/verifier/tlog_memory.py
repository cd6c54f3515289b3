"""What a verifier remembers between runs, as Go's checksum-database client does: per
log origin (not per URL, so a mirror or a proxy of the same log is checked against the
same memory), the verifier key pinned on first use and the last checkpoint it verified.

A later run refuses a log that shrank below, or forked from, the remembered checkpoint,
and prints both signed notes: two checkpoints signed by the same key that no single
history can contain are evidence anyone can check. Pure: a JSON file, no Flask."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

APP = "campaign-petition"


def default_path() -> Path:
    """The user's state directory (XDG_STATE_HOME, else ~/.local/state)."""
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / APP / "verifier.json"


@dataclass
class Remembered:
    key: str
    size: int = 0
    note: str = ""  # the last checkpoint verified, as served (signed, maybe cosigned)


@dataclass
class Memory:
    path: Path
    logs: dict[str, Remembered] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> Memory:
        path = path or default_path()
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError) as exc:
            raise ValueError(f"the verifier's state file {path} is unreadable: {exc}") from exc
        return cls(path, {origin: Remembered(**item) for origin, item in raw["logs"].items()})

    def get(self, origin: str) -> Remembered | None:
        return self.logs.get(origin)

    def remember(self, origin: str, key: str, size: int, note: str) -> None:
        self.logs[origin] = Remembered(key, size, note)

    def save(self) -> None:
        """Written whole to a temporary file and renamed: a crash keeps the old state."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        logs = {origin: vars(item) for origin, item in sorted(self.logs.items())}
        temporary.write_text(json.dumps({"logs": logs}, indent=1) + "\n")
        temporary.replace(self.path)
