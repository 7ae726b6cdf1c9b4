"""Which steps of a loop run have finished, so a crashed or interrupted run resumes after the
last finished step instead of starting over. One strict JSON file, rewritten atomically."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recap_core.output_files import write_json_atomic


# The ledger's layout and what its steps mean; a work dir written under another one is not resumed.
LEDGER_FORMAT = 3


class Ledger:
    def __init__(self, path: Path, config_hash: str) -> None:
        self.path = path
        self.config_hash = config_hash
        self._steps: dict[str, Any] = {}
        if path.exists():
            data = json.loads(path.read_text())
            if data.get("format") != LEDGER_FORMAT:
                raise ValueError(f"{path.parent} was made by an older version of the loop; start a new workdir "
                                 "(--workdir)")
            if data.get("config_hash") != config_hash:
                raise ValueError(
                    f"{path} belongs to a loop run with another configuration "
                    f"({data.get('config_hash')} != {config_hash}); use another --workdir or remove it")
            self._steps = data["steps"]

    def done(self, step: str) -> bool:
        return step in self._steps

    def result(self, step: str) -> Any:
        return self._steps[step]

    def finish(self, step: str, result: Any = None) -> None:
        """Record `step` as finished with a JSON-serialisable result (NaN and infinities stored as null)."""
        self._steps[step] = result
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, {"format": LEDGER_FORMAT, "config_hash": self.config_hash, "steps": self._steps},
                          indent=1)

    def results_under(self, prefix: str) -> list[Any]:
        """Results of the finished steps whose names start with `prefix`, in finishing order."""
        return [result for step, result in self._steps.items() if step.startswith(prefix)]

    @property
    def finished_steps(self) -> list[str]:
        return list(self._steps)
