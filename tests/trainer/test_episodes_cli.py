"""`recap episodes list | label`: outcomes and where they come from; labels written to the episode
sidecar only, checked for every bag before any is written, and taken by the converter."""
from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import pytest
from converter.bagfactory import T0, TS, BagSpec, header, write_mcap_ros2, write_rosbags, write_sidecar
from rosbags.rosbag2 import StoragePlugin, Writer

from recap_trainer.bags.build import build_dataset
from recap_trainer.bags.config import ConverterConfig
from recap_trainer.bags.episode_summary import summarize
from recap_trainer.cli import main as recap_main
from recap_trainer.dataset import RecapDataset

CFG = ConverterConfig(cameras=("cam_high",), image_size=(24, 32))


def spec(**fields) -> BagSpec:
    return BagSpec(command_step=0.01, **fields)


def small_bag(path: Path, custom: dict[str, str] | None = None, task_outcome: int | None = None) -> Path:
    """A bag with one /sim/task_state message (done with `task_outcome`) and optional custom_data."""
    msgtype = "recap_msgs/msg/TaskState"
    duration = TS.types["builtin_interfaces/msg/Duration"]
    msg = TS.types[msgtype](header=header(T0), task="stack", episode_id="", seed=0, stage=1, num_stages=1,
                            stage_name="", max_stage=1, elapsed=duration(sec=1, nanosec=0), time_limit=duration(sec=10, nanosec=0),
                            done=task_outcome is not None,
                            outcome=task_outcome or 0, failure_reason="")
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        for key, value in (custom or {}).items():
            w.set_custom_data(key, value)
        conn = w.add_connection("/sim/task_state", msgtype, typestore=TS)
        w.write(conn, T0, TS.serialize_cdr(msg, msgtype))
    return path


@pytest.fixture
def run(monkeypatch, capsys):
    """The CLI as a shell runs it (no argv given: errors become one line and an exit code)."""
    def invoke(*argv: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["recap", *argv])
        code = recap_main()
        out, err = capsys.readouterr()
        return code, out, err
    return invoke


def bag_files(bag: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of the bag except its sidecar: bytes and mtime (ns)."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(bag.iterdir()) if p.name != "episode.json"}


def test_list_names_outcome_and_its_source_for_every_kind_of_bag(tmp_path, run):
    bags = tmp_path / "bags"
    side = write_rosbags(bags / "side", spec(outcome_event=None))
    write_sidecar(side, episode_id="ep-side", task="pour", outcome="success", iteration=2,
                  start_time_ns=T0, end_time_ns=T0 + 3_500_000_000, intervention_count=4)
    small_bag(bags / "custom", custom={"recap.outcome": "failure", "recap.task": "stack"})
    write_rosbags(bags / "events", spec(outcome_event=3))
    small_bag(bags / "taskstate", task_outcome=1)
    write_rosbags(bags / "none", spec(outcome_event=None))
    (bags / "empty").mkdir()
    (bags / "empty" / "empty.mcap").write_bytes(b"")

    code, out, _err = run("episodes", "list", str(bags), "--json")
    listing = json.loads(out)
    by_name = {Path(e["path"]).name: e for e in listing["episodes"]}
    assert {n: (e["outcome"], e["outcome_source"]) for n, e in by_name.items()} == {
        "side": ("success", "sidecar"), "custom": ("failure", "bag metadata"), "events": ("abort", "events"),
        "taskstate": ("success", "task state"), "none": (None, "none"), "empty": (None, "none")}
    assert by_name["side"]["episode_id"] == "ep-side" and by_name["side"]["task"] == "pour"
    assert by_name["side"]["iteration"] == 2 and by_name["side"]["duration_s"] == 3.5
    assert by_name["side"]["interventions"] == 4
    assert by_name["events"]["task"] == "transfer the cube" and by_name["events"]["duration_s"] > 0
    assert "empty file" in by_name["empty"]["error"] and "empty.mcap" in by_name["empty"]["error"]
    assert listing["totals"] == {"success": 2, "failure": 1, "abort": 1, "none": 1, "unreadable": 1}
    assert code == 1  # an unreadable bag is listed, and scripts see it in the exit code

    code, out, _err = run("episodes", "list", str(bags))
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["OUTCOME", "SOURCE"]
    row = next(line for line in lines if line.endswith(str(bags / "custom")))
    assert row.split()[:3] == ["failure", "bag", "metadata"] and "stack" in row
    assert any(line.startswith(f"UNREADABLE {bags / 'empty'}") and "empty file" in line for line in lines)
    assert lines[-1] == "6 bags: abort 1, failure 1, none 1, success 2, unreadable 1"


def test_label_writes_the_sidecar_keeps_its_fields_and_never_touches_the_bag(tmp_path, run):
    bag = write_rosbags(tmp_path / "ep", spec(outcome_event=None))
    write_sidecar(bag, episode_id="ep-7", task="pour", robot_id="aloha-2", note="gripper slipped",
                  relabel_history=[], topic_counts={"/executed_command": 20})
    before = bag_files(bag)

    code, out, err = run("episodes", "label", str(bag), "--outcome", "failure", "--note", "dropped it")
    assert code == 0, err
    assert f"{bag}: none -> failure" in out
    sidecar = json.loads((bag / "episode.json").read_text())
    assert sidecar["outcome"] == "failure" and sidecar["label_source"] == "manual"
    assert datetime.fromisoformat(sidecar["labelled_at"]).tzinfo is not None
    assert sidecar["note"] == "gripper slipped\ndropped it"
    assert (sidecar["episode_id"], sidecar["task"], sidecar["robot_id"]) == ("ep-7", "pour", "aloha-2")
    assert sidecar["topic_counts"] == {"/executed_command": 20}
    assert [(h["from"], h["to"], h["source"]) for h in sidecar["relabel_history"]] == [(None, "failure", "manual")]
    assert bag_files(bag) == before
    assert sorted(p.name for p in bag.iterdir()) == sorted([*before, "episode.json"])  # no temporary left


def test_label_creates_a_sidecar_beside_a_bare_storage_file(tmp_path, run):
    bag = write_mcap_ros2(tmp_path / "plain", spec(outcome_event=None))
    storage = bag / "plain.mcap"
    before = bag_files(bag)
    code, _out, err = run("episodes", "label", str(storage), "--outcome", "success")
    assert code == 0, err
    assert json.loads((bag / "episode.json").read_text())["outcome"] == "success"
    assert bag_files(bag) == before
    assert (summarize(storage).outcome, summarize(storage).outcome_source) == ("success", "sidecar")


def test_relabel_needs_force_and_says_old_and_new(tmp_path, run):
    bag = write_rosbags(tmp_path / "ep", spec(outcome_event=1))  # success on /episode_events
    code, _out, err = run("episodes", "label", str(bag), "--outcome", "failure")
    assert code == 2
    assert str(bag) in err and "success (from events)" in err and "--force" in err and "success -> failure" in err
    assert not (bag / "episode.json").exists()

    code, out, err = run("episodes", "label", str(bag), "--outcome", "failure", "--force")
    assert code == 0, err
    assert f"{bag}: success -> failure (was from events)" in out
    code, out, _err = run("episodes", "label", str(bag), "--outcome", "abort", "--force")
    assert f"{bag}: failure -> abort (was from sidecar)" in out
    history = json.loads((bag / "episode.json").read_text())["relabel_history"]
    assert [(h["from"], h["to"]) for h in history] == [("success", "failure"), ("failure", "abort")]


def test_one_bad_path_means_nothing_is_labelled_and_every_bad_path_is_named(tmp_path, run):
    good = write_rosbags(tmp_path / "good", spec(outcome_event=None))
    missing = tmp_path / "missing"
    not_a_bag = tmp_path / "notes"
    not_a_bag.mkdir()
    (not_a_bag / "readme.txt").write_text("hello")
    many = tmp_path / "many"
    write_rosbags(many / "a", spec(outcome_event=None))
    write_rosbags(many / "b", spec(outcome_event=None))

    code, _out, err = run("episodes", "label", str(good), str(missing), str(not_a_bag), str(many),
                          "--outcome", "success")
    assert code == 2
    assert f"{missing}: no such bag" in err
    assert f"{not_a_bag}: not an episode bag" in err
    assert f"{many}: a directory of 2 bags" in err
    assert not any(tmp_path.rglob("episode.json"))


def test_an_unreadable_sidecar_is_refused_not_replaced(tmp_path, run):
    bag = write_rosbags(tmp_path / "ep", spec(outcome_event=None))
    (bag / "episode.json").write_text('{"episode_id": "ep", "task": ')  # cut short
    code, _out, err = run("episodes", "label", str(bag), "--outcome", "success")
    assert code == 2 and f"{bag / 'episode.json'}: unreadable episode sidecar" in err
    assert (bag / "episode.json").read_text() == '{"episode_id": "ep", "task": '


def test_a_bare_file_sharing_its_directory_with_other_bags_is_refused(tmp_path, run):
    shared = tmp_path / "shared"
    write_mcap_ros2(shared, spec(outcome_event=None))
    (shared / "other.mcap").write_bytes((shared / "shared.mcap").read_bytes())
    code, _out, err = run("episodes", "label", str(shared / "shared.mcap"), "--outcome", "success")
    assert code == 2 and "also holds other.mcap" in err and "would label them all" in err
    assert not (shared / "episode.json").exists()


def test_the_converter_takes_the_label(tmp_path, run):
    bag = write_rosbags(tmp_path / "bags" / "ep", spec(outcome_event=None))
    out = tmp_path / "ds"
    first = build_dataset([bag], out, CFG, progress=False)
    assert not first.converted and "has no outcome" in first.failed[str(bag.resolve())]

    code, _out, err = run("episodes", "label", str(bag), "--outcome", "failure")
    assert code == 0, err
    second = build_dataset([bag], out, CFG, progress=False)
    assert second.converted == [str(bag.resolve())] and not second.failed
    assert [e.outcome for e in RecapDataset(out)] == ["failure"]


def test_a_sidecar_that_is_not_an_object_is_ignored_with_a_warning(tmp_path):
    bag = write_rosbags(tmp_path / "ep", spec(outcome_event=2))
    (bag / "episode.json").write_text("[1, 2]")
    report = build_dataset([bag], tmp_path / "ds", CFG, progress=False)
    assert report.converted == [str(bag.resolve())]
    assert any("episode.json holds a JSON list" in w for w in report.warnings[str(bag.resolve())])
    assert [e.outcome for e in RecapDataset(tmp_path / "ds")] == ["failure"]
    assert summarize(bag).outcome_source == "events"


@pytest.mark.parametrize("argv, message", [
    (["--outcome", "maybe"], "invalid choice: 'maybe'"),
    ([], "the following arguments are required: --outcome"),
])
def test_label_options_are_checked(tmp_path, capsys, argv, message):
    bag = write_rosbags(tmp_path / "ep", spec(outcome_event=None))
    with pytest.raises(SystemExit) as exit_info:
        recap_main(["episodes", "label", str(bag), *argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
