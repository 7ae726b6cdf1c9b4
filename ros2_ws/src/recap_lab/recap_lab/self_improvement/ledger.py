"""Which steps of a loop run have finished, so a crashed or interrupted run resumes after the
last finished step instead of starting over, and on which machines they ran. One strict JSON file,
rewritten atomically."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from recap_core.output_files import write_json_atomic
from recap_lab.machine import machine_summary
from recap_lab.self_improvement.config import LoopConfig, load_run_config

log = logging.getLogger("recap.loop")


# The ledger's layout and what its steps mean; a work dir written under another one is not resumed.
LEDGER_FORMAT = 3


class Ledger:
    """`machine`: what this process runs on (recap_lab.machine); the ledger keeps every machine that
    finished a step of the run, in order (a ledger written before it kept them has none)."""

    def __init__(self, path: Path, machine: str | None = None) -> None:
        self.path = path
        self.machine = machine_summary() if machine is None else machine
        self._steps: dict[str, Any] = {}
        self.machines: list[str] = []
        if path.exists():
            data = json.loads(path.read_text())
            if data.get("format") != LEDGER_FORMAT:
                raise ValueError(f"{path.parent} was made by an older version of the loop; start a new workdir "
                                 "(--workdir)")
            self._steps = data["steps"]
            self.machines = data.get("machines", [])

    def done(self, step: str) -> bool:
        return step in self._steps

    def result(self, step: str) -> Any:
        return self._steps[step]

    def finish(self, step: str, result: Any = None) -> None:
        """Record `step` as finished with a JSON-serialisable result (NaN and infinities stored as null)."""
        self._steps[step] = result
        if self.machine not in self.machines:
            self.machines.append(self.machine)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, {"format": LEDGER_FORMAT, "machines": self.machines, "steps": self._steps},
                          indent=1)

    def results_under(self, prefix: str) -> list[Any]:
        """Results of the finished steps whose names start with `prefix`, in finishing order."""
        return [result for step, result in self._steps.items() if step.startswith(prefix)]

    @property
    def finished_steps(self) -> list[str]:
        return list(self._steps)

    @property
    def other_machines(self) -> list[str]:
        """The machines other than this one that finished steps of the run."""
        return [m for m in self.machines if m != self.machine]


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
    ledger = Ledger(path)
    if ledger.other_machines:
        # The demonstrations differ between BLAS kernels (recap_lab.machine), so a run resumed
        # elsewhere is not the run either machine would have made alone.
        log.warning("steps of %s were made on another machine (%s); this one is %s: what it makes may differ from "
                    "what that machine would have made (docs/BRINGUP.md, Known limits)", workdir,
                    "; ".join(ledger.other_machines), ledger.machine)
    return ledger
