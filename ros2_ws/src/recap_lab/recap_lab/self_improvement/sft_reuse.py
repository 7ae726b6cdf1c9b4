"""Start a loop run from another run's SFT policy (`recap-lab loop --sft-from RUN`).

Runs that differ only after pi^0 (the fine-tuning labels, the deployments, the number of
iterations) then start from the same demonstrations, V_pre, pi_pre and pi^0, so they compare
without a second SFT policy's variance, and each skips the 30-40 min those steps take with
cameras. The source run's files are hard-linked where the file system allows (copied otherwise):
the loop never rewrites a finished step's files in place, so the two runs cannot change each
other's. Its finished-step records are written into the new run's ledger with its paths, after an
"sft_from" record that names the source (and the report says so)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from recap_lab.self_improvement.config import NOT_IDENTITY, LoopConfig, load_run_config
from recap_lab.self_improvement.ledger import Ledger

# Fields that change no step up to pi^0's evaluation: a run may differ from its source in these.
AFTER_SFT: tuple[str, ...] = ("iterations", "rollouts_per_iteration", "real_time_factor", "render_cameras",
                              "takeover_deviation", "finetune_n_step", "finetune_positive_fraction", "policy_init",
                              *NOT_IDENTITY)
# The SFT reference's noise validation is taken over only where these agree too (else it reruns).
REFERENCE: tuple[str, ...] = ("reference_noise_scales", "validation_episodes")
SFT_STEPS: tuple[str, ...] = ("demos", "pretrain", "iter_0/train", "iter_0/evaluate")
REFERENCE_STEPS: tuple[str, ...] = ("iter_0/validate_noise", "iter_0/evaluate_tuned")
# Where each step's files are, relative to the run directory.
STEP_FILES: dict[str, tuple[str, ...]] = {
    "demos": ("data/demos",),
    "pretrain": ("train/pretrained",),
    "iter_0/train": ("train/iter_0",),
    "iter_0/evaluate": ("eval/iter_0.json",),
    "iter_0/validate_noise": ("eval/validation",),
    "iter_0/evaluate_tuned": ("eval/reference/tuned.json",),
}
RECORD = "sft_from"  # the ledger step that names the source run


def _link_or_copy(src: Path, dst: Path) -> None:
    def link(s, d):
        try:
            os.link(s, d)
        except OSError:  # another file system, or links not allowed
            shutil.copy2(s, d)

    if src.is_dir():
        shutil.copytree(src, dst, copy_function=link)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        link(src, dst)


def start_from_sft(source: Path, workdir: Path, cfg: LoopConfig, ledger: Ledger) -> list[str]:
    """Take over `source`'s finished steps up to pi^0 (and its noise validation where the reference
    settings agree) into `workdir`'s ledger; returns the steps taken over ([] when this run already
    started from `source`: a resume). ValueError, before anything is written, when `source` is not a
    finished SFT of the same settings or `workdir` has steps or files of its own."""
    source, workdir = source.resolve(), workdir.resolve()
    if ledger.done(RECORD):
        made_from = ledger.result(RECORD)["run"]
        if made_from != str(source):
            raise ValueError(f"{workdir} started from the SFT policy of {made_from}, not {source}")
        return []
    if source == workdir:
        raise ValueError("--sft-from names the work dir itself")
    if ledger.finished_steps:
        raise ValueError(f"{workdir} has finished steps of its own ({ledger.finished_steps[0]}, ...): --sft-from "
                         "starts a new run; use another --workdir")
    source_cfg = load_run_config(source)
    differences = source_cfg.differences(cfg, AFTER_SFT + REFERENCE)
    if differences:
        raise ValueError(f"{source}'s SFT policy was made with other settings: {'; '.join(differences)}")
    try:
        source_ledger = Ledger(source / "ledger.json")
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{source}: its ledger cannot be read ({error})") from None
    missing = [step for step in SFT_STEPS if not source_ledger.done(step)]
    if missing:
        raise ValueError(f"{source} has not finished its SFT policy (missing: {', '.join(missing)}); "
                         "finish that run first")
    steps = list(SFT_STEPS)
    if not source_cfg.differences(cfg, AFTER_SFT) and all(source_ledger.done(s) for s in REFERENCE_STEPS):
        steps += REFERENCE_STEPS
    files = [name for step in steps for name in STEP_FILES[step]]
    absent = [name for name in files if not (source / name).exists()]
    if absent:
        raise ValueError(f"{source} lacks files of its finished steps: {', '.join(absent)}")
    present = [name for name in files if (workdir / name).exists()]
    if present:
        raise ValueError(f"{workdir} already has {', '.join(present)}; use another --workdir")
    results = {step: _moved(source_ledger.result(step), source, workdir) for step in steps}
    for name in files:
        _link_or_copy(source / name, workdir / name)
    # The record last: a run stopped before it has steps of its own and is refused, never resumed
    # into retraining a step whose files are the source's.
    ledger.machines += [m for m in source_ledger.machines if m not in ledger.machines]  # where its steps ran
    for step in steps:
        ledger.finish(step, results[step])
    ledger.finish(RECORD, {"run": str(source), "steps": steps})
    return steps


def _moved(result, source: Path, workdir: Path):
    """A step's recorded result with the source run's paths made this run's. A run records its paths
    as its --workdir was given (relative to where it ran, or absolute): the part after the source
    run's own directory is kept."""
    if isinstance(result, dict):
        return {key: _moved(value, source, workdir) for key, value in result.items()}
    if not isinstance(result, str):
        return result
    parts = Path(result).parts
    for k in range(min(len(parts), len(source.parts)), 0, -1):
        if parts[:k] == source.parts[-k:]:
            if not source.joinpath(*parts[k:]).exists():
                raise ValueError(f"{source}'s ledger names {result}, which is not there")
            return str(workdir.joinpath(*parts[k:]))
    return result
