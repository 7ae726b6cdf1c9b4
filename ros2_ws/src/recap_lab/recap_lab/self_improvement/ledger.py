"""Which steps of a loop run have finished, so a crashed or interrupted run resumes after the
last finished step instead of starting over. One strict JSON file, rewritten atomically."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recap_core.output_files import write_json_atomic
from recap_lab.self_improvement.config import LoopConfig, load_run_config


# The ledger's layout and what its steps mean; a work dir written under another one is not resumed.
LEDGER_FORMAT = 3


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._steps: dict[str, Any] = {}
        if path.exists():
            data = json.loads(path.read_text())
            if data.get("format") != LEDGER_FORMAT:
                raise ValueError(f"{path.parent} was made by an older version of the loop; start a new workdir "
                                 "(--workdir)")
            self._steps = data["steps"]

    def done(self, step: str) -> bool:
        return step in self._steps

    def result(self, step: str) -> Any:
        return self._steps[step]

    def finish(self, step: str, result: Any = None) -> None:
        """Record `step` as finished with a JSON-serialisable result (NaN and infinities stored as null)."""
        self._steps[step] = result
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, {"format": LEDGER_FORMAT, "steps": self._steps}, indent=1)

    def results_under(self, prefix: str) -> list[Any]:
        """Results of the finished steps whose names start with `prefix`, in finishing order."""
        return [result for step, result in self._steps.items() if step.startswith(prefix)]

    @property
    def finished_steps(self) -> list[str]:
        return list(self._steps)


def open_run_ledger(workdir: Path, cfg: LoopConfig) -> Ledger:
    """The ledger of the loop run in `workdir`, to be resumed with `cfg`. ValueError, naming each
    setting that differs, when the run there was made with others. Its config.json is compared
    field by field rather than by a digest, so a run made before a setting existed resumes."""
    path = workdir / "ledger.json"
    if path.exists():
        differences = load_run_config(workdir).differences(cfg)
        if differences:
            raise ValueError(f"{workdir} belongs to a loop run with other settings ({'; '.join(differences)}); "
                             "use another --workdir or remove it")
    return Ledger(path)
