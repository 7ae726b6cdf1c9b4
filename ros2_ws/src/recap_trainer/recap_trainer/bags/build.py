"""Batch conversion: many bags -> one RECAP dataset, incrementally, one bad bag never stops the rest."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from recap_trainer.bags.config import ConverterConfig
from recap_trainer.bags.episode_builder import EpisodeBuilder
from recap_trainer.bags.errors import BagError
from recap_trainer.dataset import DatasetConfig, DatasetError, DatasetWriter, EpisodeError, check_dataset_output

INCOMPLETE = ".incomplete"


@dataclass
class BuildReport:
    converted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already in the dataset
    failed: dict[str, str] = field(default_factory=dict)  # bag -> error
    warnings: dict[str, list[str]] = field(default_factory=dict)
    stale_steps: dict[str, dict[str, int]] = field(default_factory=dict)  # bag -> "topic: reason" -> steps
    skipped_messages: dict[str, dict[str, int]] = field(default_factory=dict)  # bag -> "topic: reason" -> n


def _is_bag(path: Path) -> bool:
    return path.is_file() and path.suffix in (".mcap", ".db3") or path.is_dir() and (
        (path / "metadata.yaml").exists() or any(path.glob("*.mcap")) or any(path.glob("*.db3")))


def find_bags(paths: list[Path], include_incomplete: bool = False) -> list[Path]:
    """Bags named directly, or every bag directory below a named directory (a recorder's out dir).

    <out>/.incomplete/ holds crashed or unfinished episodes: only with include_incomplete.
    """
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        if _is_bag(path):
            found.append(path)
        elif path.is_dir():
            for sub in sorted(path.rglob("*")):
                if INCOMPLETE in sub.relative_to(path).parts and not include_incomplete:
                    continue
                inside_bag = any(_is_bag(p) for p in sub.parents if path in p.parents)  # a bag's subfolder
                if sub.is_dir() and _is_bag(sub) and not inside_bag:
                    found.append(sub)
        else:
            found.append(path)  # reported as missing by the converter
    seen, out = set(), []
    for p in found:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            out.append(p)
    return out


def dataset_config(cfg: ConverterConfig) -> DatasetConfig:
    converter = cfg.to_dict()
    return DatasetConfig(robot=cfg.layout, control_period=cfg.control_period, cameras=cfg.cameras,
                         image_size=cfg.image_size if cfg.cameras else None,
                         extra={"converter": converter, "converter_hash": cfg.hash()})


def build_dataset(bags: list[Path], out: Path, cfg: ConverterConfig, task: str | None = None,
                  source_kind: str | None = None, iteration: int | None = None,
                  progress: bool = True) -> BuildReport:
    """Convert `bags` into the dataset at `out` (created, or appended to with the same settings).

    A build that converts nothing into a new dataset leaves nothing behind (the retry may use
    other settings); OutputError before any work when `out` is a file or a foreign directory,
    DatasetError when `out` was built from another robot description.
    """
    check_dataset_output(out)
    writer = DatasetWriter(out, dataset_config(cfg))
    builder = EpisodeBuilder(cfg)
    report = BuildReport()
    try:
        for bag in tqdm(bags, desc="bags", unit="bag", disable=not progress):
            origin = str(Path(bag).resolve())
            if writer.is_ingested(origin):
                report.skipped.append(origin)
                continue
            try:
                episode, warnings = builder.build(bag, task=task, source_kind=source_kind, iteration=iteration)
                if episode.episode_id in writer.episode_ids:
                    raise BagError(f"{bag}: episode id {episode.episode_id!r} is already in {out} from another bag")
                writer.append(episode, origin=origin)
                writer.mark_ingested(origin)
                report.converted.append(origin)
                if warnings:
                    report.warnings[origin] = warnings
                for counts, key in ((report.stale_steps, "stale_reasons"), (report.skipped_messages,
                                                                            "skipped_messages")):
                    if episode.metadata[key]:
                        counts[origin] = episode.metadata[key]
            except (BagError, EpisodeError, DatasetError, OSError) as exc:
                report.failed[origin] = str(exc)
    finally:
        writer.remove_if_unused()
    return report
