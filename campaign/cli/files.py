"""Files the commands write that hold personal data (exports, opened exports, named
packs): made readable by their owner only, whatever the umask (0644 by default would
let every account on the computer read the names)."""

from __future__ import annotations

import os
from typing import BinaryIO


def open_private(path: str) -> BinaryIO:
    """`open(path, "wb")`, but a file it creates gets mode 0600."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(descriptor, "wb")
