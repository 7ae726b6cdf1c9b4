"""A failed build leaves nothing that blocks a retry; an existing dataset's config mismatch is named."""
from __future__ import annotations

import pytest
from converter.bagfactory import BagSpec, write_rosbags
from recap_core.output_files import OutputError

from recap_trainer.bags.build import build_dataset
from recap_trainer.bags.config import ConverterConfig
from recap_trainer.cli import main as recap_main
from recap_trainer.dataset import DatasetError, RecapDataset

CFG = ConverterConfig(cameras=("cam_high",), image_size=(24, 32))


def test_a_build_that_converts_nothing_leaves_no_dataset_behind(tmp_path):
    garbage = tmp_path / "garbage.mcap"
    garbage.write_bytes(b"not an mcap file at all")
    out = tmp_path / "new" / "ds"
    report = build_dataset([garbage], out, CFG, progress=False)
    assert report.failed and not report.converted
    assert not (tmp_path / "new").exists()
    # a retry with other settings starts from scratch
    good = write_rosbags(tmp_path / "good", BagSpec(cameras=(), command_step=0.01))
    retry = build_dataset([good], out, ConverterConfig(cameras=(), image_size=None), progress=False)
    assert retry.converted and len(RecapDataset(out)) == 1


def test_a_failed_build_into_an_existing_empty_directory_keeps_the_directory(tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    garbage = tmp_path / "garbage.mcap"
    garbage.write_bytes(b"")
    build_dataset([garbage], out, CFG, progress=False)
    assert out.is_dir() and list(out.iterdir()) == []


def test_a_failed_append_keeps_the_existing_dataset(tmp_path):
    good = write_rosbags(tmp_path / "good", BagSpec(command_step=0.01))
    build_dataset([good], tmp_path / "ds", CFG, progress=False)
    garbage = tmp_path / "garbage.mcap"
    garbage.write_bytes(b"")
    build_dataset([garbage], tmp_path / "ds", CFG, progress=False)
    assert len(RecapDataset(tmp_path / "ds")) == 1


def test_another_config_is_refused_naming_the_differing_fields(tmp_path):
    good = write_rosbags(tmp_path / "good", BagSpec(command_step=0.01))
    args = ["dataset", "build", str(good), "--out", str(tmp_path / "ds"), "--image-size", "24", "32",
            "--cameras", "cam_high"]
    assert recap_main(args) == 0
    with pytest.raises(DatasetError) as error:
        recap_main([*args, "--joint-tolerance", "0.1"])
    message = str(error.value)
    assert "extra.converter.joint_tolerance_s: 0.05 in the dataset, 0.1 here" in message
    assert "extra.converter_hash" not in message and "control_period" not in message and len(message) < 400


def test_an_output_that_is_a_file_or_a_foreign_directory_is_refused_before_any_work(tmp_path):
    good = write_rosbags(tmp_path / "good", BagSpec(command_step=0.01))
    a_file = tmp_path / "file"
    a_file.write_text("x")
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"x")
    for out, why in ((a_file, "is not a directory"), (foreign, "not a RECAP dataset")):
        with pytest.raises(OutputError, match=f"--out {out}.*{why}"):
            recap_main(["dataset", "build", str(good), "--out", str(out), "--cameras", "cam_high",
                        "--image-size", "24", "32"])
    assert sorted(p.name for p in foreign.iterdir()) == ["cat.jpg"] and a_file.read_text() == "x"
