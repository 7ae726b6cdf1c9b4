"""LeRobotDataset v3.0 export and ALOHA/ACT HDF5 import."""
from __future__ import annotations

import json
import os

import cv2
import h5py
import numpy as np
import pytest
import pyarrow.parquet as pq
from converter.bagfactory import BagSpec, write_rosbags
from recap_core.output_files import OutputError

from recap_trainer.aloha_hdf5 import HDF5ImportConfig, import_hdf5
from recap_trainer.bags.build import build_dataset
from recap_trainer.bags.config import ConverterConfig
from recap_trainer.cli import main as recap_main
from recap_trainer.dataset import RecapDataset
from recap_trainer.lerobot_export import export_lerobot

CFG = ConverterConfig(cameras=("cam_high",), image_size=(32, 48))


def test_lerobot_v3_export_with_rewards_interventions_and_indicator_column(tmp_path):
    bags = [write_rosbags(tmp_path / "ok", BagSpec(steps=20, command_step=0.01)),
            write_rosbags(tmp_path / "bad", BagSpec(steps=15, outcome_event=2, command_step=0.01))]
    build_dataset(bags, tmp_path / "ds", CFG, progress=False)
    labels = {"ok": [t % 2 == 0 for t in range(20)], "bad": [False] * 15}
    scheduling = os.sched_getscheduler(0), os.sched_getparam(0)
    info = export_lerobot(tmp_path / "ds", tmp_path / "lr", labels=labels)
    # the AV1 encoder raises its threads to real-time priority as root: this process must not keep it
    assert (os.sched_getscheduler(0), os.sched_getparam(0)) == scheduling
    out = tmp_path / "lr"

    meta = json.loads((out / "meta" / "info.json").read_text())
    assert meta == info and meta["codebase_version"] == "v3.0" and meta["fps"] == 50
    assert meta["total_episodes"] == 2 and meta["total_frames"] == 35
    assert meta["features"]["observation.images.cam_high"]["dtype"] == "video"
    frames = pq.read_table(out / "data" / "chunk-000" / "file-000.parquet").to_pydict()
    assert len(frames["index"]) == 35 and frames["index"] == list(range(35))
    ep0 = [i for i, e in enumerate(frames["episode_index"]) if e == 0]
    first_id = pq.read_table(out / "meta" / "episodes" / "chunk-000" / "file-000.parquet").to_pylist()[0]
    ds = RecapDataset(tmp_path / "ds")
    ep = ds.episode(first_id["recap/episode_id"])
    rewards = [frames["next.reward"][i] for i in ep0]
    assert rewards[-1] == (1.0 if ep.outcome == "success" else 0.0) and sum(rewards[:-1]) == 0
    assert [frames["complementary_info.is_intervention"][i] for i in ep0] == ep.intervention.tolist()
    np.testing.assert_allclose([frames["observation.state"][i] for i in ep0], ep.qpos, atol=1e-6)
    assert pq.read_table(out / "meta" / "tasks.parquet").to_pydict()["task"] == ["transfer the cube"]
    assert [frames["recap.indicator"][i] for i in ep0] == [int(f) for f in labels[ep.episode_id]]
    episodes = pq.read_table(out / "meta" / "episodes" / "chunk-000" / "file-000.parquet").to_pylist()
    assert [e["length"] for e in episodes] == [ds.episode(e["recap/episode_id"]).num_steps for e in episodes]
    assert episodes[1]["videos/observation.images.cam_high/from_timestamp"] == episodes[0]["length"] / 50
    import av
    with av.open(str(out / "videos" / "observation.images.cam_high" / "chunk-000" / "file-000.mp4")) as video:
        decoded = [f.to_ndarray(format="rgb24") for f in video.decode(video=0)]
    assert len(decoded) == 35 and decoded[0].shape == (32, 48, 3)
    np.testing.assert_allclose(decoded[0].mean((0, 1)), ep.images["cam_high"][0].mean((0, 1)), atol=8)


def write_act_hdf5(path, steps=12, compressed=False, drop=None, cams=("cam_high",), scale=1.0):
    qpos = scale * (np.tile(np.linspace(0, 1, 14), (steps, 1)) + np.arange(steps)[:, None] * 0.01)
    with h5py.File(path, "w") as f:
        f.attrs["sim"] = False
        f.attrs["compress"] = compressed
        if drop != "/observations/qpos":
            f["/observations/qpos"] = qpos
        if drop != "/action":
            f["/action"] = qpos + 0.05
        frames = np.zeros((steps, 60, 80, 3), np.uint8)
        frames[..., 0] = (np.arange(steps) * 20)[:, None, None]
        for cam in cams:
            if compressed:
                enc = [cv2.imencode(".jpg", cv2.cvtColor(fr, cv2.COLOR_RGB2BGR))[1].ravel() for fr in frames]
                pad = max(len(e) for e in enc)
                rows = np.zeros((steps, pad), np.uint8)
                for t, e in enumerate(enc):
                    rows[t, : len(e)] = e
                f[f"/observations/images/{cam}"] = rows
            else:
                f[f"/observations/images/{cam}"] = frames
        if compressed:
            f["compress_len"] = np.array([[len(e) for e in enc]] * len(cams), np.float32)
    return path


def test_aloha_hdf5_import_raw_and_jpeg_with_bad_files_named(tmp_path):
    src = tmp_path / "act"
    src.mkdir()
    write_act_hdf5(src / "episode_0.hdf5")
    write_act_hdf5(src / "episode_1.hdf5", compressed=True)
    write_act_hdf5(src / "episode_2.hdf5", drop="/action")
    write_act_hdf5(src / "episode_3.hdf5", cams=("cam_low",))
    write_act_hdf5(src / "episode_6.hdf5", scale=1e6)  # stored in other units
    (src / "episode_4.hdf5").write_bytes(b"not hdf5")
    with h5py.File(src / "episode_5.hdf5", "w") as f:  # a 6-DoF single-arm recording
        f["/observations/qpos"] = np.zeros((12, 7))
        f["/action"] = np.zeros((12, 7))
    cfg = HDF5ImportConfig(cameras=("cam_high",), image_size=(30, 40))
    report = import_hdf5([src], tmp_path / "ds", "fold the towel", cfg)
    assert len(report.converted) == 2
    failed = {k.rsplit("/", 1)[-1]: v for k, v in report.failed.items()}
    assert "missing key /action" in failed["episode_2.hdf5"] and "episode_2.hdf5" in failed["episode_2.hdf5"]
    assert "missing key /observations/images/cam_high" in failed["episode_3.hdf5"]
    assert "not a readable HDF5 file" in failed["episode_4.hdf5"]
    assert "/observations/qpos has shape (12, 7), expected (T, 14)" in failed["episode_5.hdf5"]
    assert "episode_6.hdf5: /observations/qpos step 0: left_shoulder = 76923.1 (allowed -2.05..1.46)" \
        in failed["episode_6.hdf5"]
    ds = RecapDataset(tmp_path / "ds")
    raw, jpeg = ds.episode("hdf5-act-episode_0"), ds.episode("hdf5-act-episode_1")
    for ep in (raw, jpeg):
        assert ep.source == "demo" and ep.outcome == "success" and ep.task == "fold the towel"
        np.testing.assert_allclose(ep.executed_action - ep.qpos, 0.05)
        assert np.isnan(ep.proposed_action).all() and ep.images["cam_high"].shape == (12, 30, 40, 3)
    assert raw.images["cam_high"][5, 3, 3, 0] == 100
    assert abs(int(jpeg.images["cam_high"][5, 3, 3, 0]) - 100) <= 4  # lossy, still RGB order
    again = import_hdf5([src], tmp_path / "ds", "fold the towel", cfg)  # incremental
    assert len(again.skipped) == 2 and not again.converted


def test_cli_import_and_export(tmp_path, capsys):
    src = tmp_path / "act"
    src.mkdir()
    write_act_hdf5(src / "episode_0.hdf5", compressed=True)
    assert recap_main(["dataset", "import-hdf5", str(src), "--out", str(tmp_path / "ds"), "--task", "t",
                       "--cameras", "cam_high", "--image-size", "30", "40"]) == 0
    assert recap_main(["dataset", "export-lerobot", str(tmp_path / "ds"), "--out", str(tmp_path / "lr")]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["episodes"] == 1 and out["frames"] == 12
    # A non-empty --out is kept unless --force.
    with pytest.raises(OutputError, match="--force"):
        recap_main(["dataset", "export-lerobot", str(tmp_path / "ds"), "--out", str(tmp_path / "lr")])
    assert recap_main(["dataset", "export-lerobot", str(tmp_path / "ds"), "--out", str(tmp_path / "lr"),
                       "--force"]) == 0


def test_export_reads_recap_label_output(tmp_path):
    from recap_trainer.labels import Labels
    bag = write_rosbags(tmp_path / "ok", BagSpec(steps=10, command_step=0.01))
    build_dataset([bag], tmp_path / "ds", CFG, progress=False)
    flags = np.arange(10) < 4
    Labels(advantage={"ok": np.zeros(10)}, indicator={"ok": flags}, value={"ok": np.zeros(10)},
           returns={"ok": np.zeros(10)}, thresholds={"transfer the cube": 0.0}, info={"stage": "finetune"}
           ).save(tmp_path / "labels")
    assert recap_main(["dataset", "export-lerobot", str(tmp_path / "ds"), "--out", str(tmp_path / "lr"),
                       "--labels", str(tmp_path / "labels")]) == 0
    frames = pq.read_table(tmp_path / "lr" / "data" / "chunk-000" / "file-000.parquet").to_pydict()
    assert frames["recap.indicator"] == flags.astype(int).tolist()
