"""How every benchmark reports: one JSON object on stdout, and the same text in `--output`."""

from __future__ import annotations

import json
from pathlib import Path


def emit(result: dict, output: str | Path | None = None, sort_keys: bool = False) -> None:
    text = json.dumps(result, indent=2, sort_keys=sort_keys)
    print(text)
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text + "\n")
