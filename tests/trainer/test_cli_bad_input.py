"""Bad options and outputs of the training commands are refused before any training starts."""

import json

import pytest

from trainer.conftest import mixed_episodes
from recap_core.output_files import OutputError
from recap_model.models.config import ValueConfig
from recap_trainer.cli import main
from recap_trainer.cli.options import UsageError
from recap_trainer.dataset import DatasetConfig, DatasetWriter


@pytest.fixture
def data(tmp_path):
    writer = DatasetWriter(tmp_path / "data")
    for ep in mixed_episodes(2):
        writer.append(ep)
    return tmp_path / "data"


@pytest.fixture
def trainings(monkeypatch):
    """Replaces both trainers, in their modules and where recap_trainer.algorithm binds them: each
    call is recorded instead of run. (Patching the modules alone let an algorithm first imported
    during such a test keep the fakes for the rest of the session.)"""
    import recap_trainer.algorithm as algorithm

    calls = []
    for kind in ("value", "policy"):
        def fake(*args, kind=kind, **kwargs):
            calls.append((kind, args, kwargs))
            return args[1]

        monkeypatch.setattr(f"recap_trainer.training.train_{kind}.train_{kind}", fake)
        monkeypatch.setattr(algorithm, f"train_{kind}", fake)
    return calls


def train_value(data, out, *extra):
    return main(["train-value", "--data", str(data), "--out", str(out), "--steps", "2", "--batch-size", "8", *extra])


def fake_checkpoint(directory):
    directory.mkdir(parents=True)
    (directory / "config.json").write_text("{}")
    (directory / "trainer_state.json").write_text("{}")
    return directory


def test_an_unwritable_out_is_refused_before_training(data, tmp_path, trainings):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for command, extra in (("train-value", []), ("train-policy", ["--method", "bc"])):
        with pytest.raises(OutputError, match="a_file is not a directory"):
            main([command, "--data", str(data), "--out", str(blocker / "ckpt"), *extra])
    assert trainings == []


def test_an_existing_checkpoint_is_replaced_only_with_force(data, tmp_path, trainings):
    out = fake_checkpoint(tmp_path / "ckpt")
    with pytest.raises(UsageError, match="holds a checkpoint; pass --resume to continue it or --force"):
        train_value(data, out)
    assert trainings == []
    assert train_value(data, out, "--force") == 0
    assert [kind for kind, _, _ in trainings] == ["value"]
    with pytest.raises(UsageError, match="give one of them"):
        train_value(data, out, "--force", "--resume")


def test_resume_needs_a_checkpoint_in_out(data, tmp_path, trainings):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match=f"--resume: {empty} holds no checkpoint"):
        train_value(data, empty, "--resume")
    assert trainings == []
    assert train_value(data, fake_checkpoint(tmp_path / "ckpt"), "--resume") == 0
    assert trainings[0][2]["resume"] is True


@pytest.mark.parametrize("option, value, message", [
    ("--steps", "0", "--steps must be > 0, got 0"),
    ("--batch-size", "-4", "--batch-size must be > 0, got -4"),
    ("--lr", "0", "--lr must be > 0, got 0.0"),
    ("--threads", "-1", "--threads must be >= 0"),
    ("--ema-decay", "1", "--ema-decay must be in [0, 1) (0 = no average), got 1.0"),
])
def test_numeric_options_are_named_in_their_error(data, tmp_path, trainings, option, value, message):
    with pytest.raises(UsageError) as error:
        main(["train-value", "--data", str(data), "--out", str(tmp_path / "v"), option, value])
    assert str(error.value).startswith(message) and "TrainConfig(" not in str(error.value)


def test_policy_and_label_options_are_named_in_their_error(data, tmp_path, trainings):
    with pytest.raises(UsageError, match=r"^--indicator-dropout must be in \[0, 1\), got 1.0$"):
        main(["train-policy", "--data", str(data), "--out", str(tmp_path / "p"), "--indicator-dropout", "1"])
    with pytest.raises(UsageError, match=r"^--positive-fraction must be in \(0, 1\), got 1.5$"):
        main(["label", "--data", str(data), "--value", str(tmp_path), "--out", str(tmp_path / "l"),
              "--positive-fraction", "1.5"])
    with pytest.raises(UsageError, match="^--policy-steps must be > 0, got 0$"):
        main(["iterate", "--work-dir", str(tmp_path / "w"), "--demos", str(data), "--iteration", "0",
              "--policy-steps", "0"])
    with pytest.raises(UsageError, match=r"^--ema-decay must be in \[0, 1\) \(0 = no average\), got -0.5$"):
        main(["iterate", "--work-dir", str(tmp_path / "w"), "--demos", str(data), "--iteration", "0",
              "--ema-decay", "-0.5"])
    with pytest.raises(UsageError, match="^--n-step must be > 0, got 0$"):
        main(["iterate", "--work-dir", str(tmp_path / "w"), "--demos", str(data), "--iteration", "0",
              "--n-step", "0"])


def test_policy_sizes_are_named_in_their_error_before_training(data, tmp_path):
    for option in ("--horizon", "--denoising-steps"):
        with pytest.raises(UsageError, match=f"^{option} must be > 0, got 0$"):
            main(["train-policy", "--data", str(data), "--out", str(tmp_path / "p"), option, "0"])
    assert not (tmp_path / "p" / "config.json").exists()


def test_image_shift_is_refused_where_it_cannot_apply_and_reaches_the_model(data, tmp_path, trainings):
    for command in ("train-value", "train-policy"):
        args = [command, "--data", str(data), "--out", str(tmp_path / command), "--image-shift", "0"]
        with pytest.raises(UsageError, match="^--image-shift needs --cameras"):
            main(args)
        with pytest.raises(UsageError, match="^--image-shift does not apply with --init-from"):
            main([*args, "--cameras", "cam_high", "--init-from", str(tmp_path)])
        assert trainings == []
        assert main([*args, "--cameras", "cam_high"]) == 0
        assert trainings.pop()[2]["model_sizes"] == {"image_shift": 0}
        assert main([command, "--data", str(data), "--out", str(tmp_path / command), "--force"]) == 0
        assert not trainings.pop()[2]["model_sizes"]  # the model's own shift


def test_image_shift_is_checked_against_the_image_size_and_saved_with_the_model(tmp_path):
    writer = DatasetWriter(tmp_path / "images", DatasetConfig(cameras=("cam_high",), image_size=(16, 16)))
    for ep in mixed_episodes(2, cameras=("cam_high",)):
        writer.append(ep)
    common = ["--data", str(tmp_path / "images"), "--cameras", "cam_high", "--steps", "1", "--batch-size", "4"]
    with pytest.raises(UsageError, match=r"^--image-shift must be in \[0, 16\) for images of \(16, 16\), got 16$"):
        main(["train-policy", *common, "--out", str(tmp_path / "p"), "--image-shift", "16", "--method", "bc"])
    assert not (tmp_path / "p" / "config.json").exists()
    for command, extra in (("train-value", []), ("train-policy", ["--method", "bc"])):
        assert main([command, *common, *extra, "--out", str(tmp_path / command), "--image-shift", "2"]) == 0
        observation = json.loads((tmp_path / command / "config.json").read_text())["model_config"]["observation"]
        assert observation["image_shift"] == 2
        if command == "train-value":  # the value function keeps its own width
            assert observation["width"] == ValueConfig().observation.width


def test_a_misspelt_task_in_a_per_task_option_is_an_error(data, tmp_path, trainings):
    with pytest.raises(UsageError) as error:
        train_value(data, tmp_path / "v", "--c-fail", "transfer_cub=100")
    assert str(error.value) == ("--c-fail names unknown task 'transfer_cub' (did you mean 'transfer_cube'? "
                                "known tasks: transfer_cube)")
    with pytest.raises(UsageError, match="--max-episode-length names unknown task 'laundry' \\(known tasks"):
        train_value(data, tmp_path / "v", "--max-episode-length", "laundry=500")
    with pytest.raises(UsageError, match="--c-fail transfer_cube: expected a number, got 'lots'"):
        train_value(data, tmp_path / "v", "--c-fail", "transfer_cube=lots")
    with pytest.raises(UsageError, match="--c-fail do not apply with --init-from"):
        train_value(data, tmp_path / "v", "--c-fail", "transfer_cube=100", "--init-from", str(tmp_path))
    with pytest.raises(UsageError, match="--no-time-input do not apply with --init-from"):
        train_value(data, tmp_path / "v", "--time-input", "--init-from", str(tmp_path))
    with pytest.raises(UsageError, match="--task-positive-fraction names unknown task 'transfer' "
                                         "\\(did you mean 'transfer_cube'"):
        main(["label", "--data", str(data), "--value", str(tmp_path), "--out", str(tmp_path / "l"),
              "--task-positive-fraction", "transfer=0.2"])
    assert trainings == []
    assert train_value(data, tmp_path / "v", "--c-fail", "transfer_cube=100") == 0
    rewards = trainings[0][1][3]
    assert rewards.tasks["transfer_cube"].c_fail == 100.0


def test_iterate_refuses_an_existing_iteration_unless_forced(data, tmp_path, trainings, monkeypatch):
    work = tmp_path / "work"
    (work / "iter_0").mkdir(parents=True)
    (work / "iter_0" / "old.txt").write_text("")
    ran = []
    monkeypatch.setattr("recap_trainer.algorithm.pretrain", lambda *a: ran.append("pretrain"))
    monkeypatch.setattr("recap_trainer.algorithm.iterate", lambda *a: ran.append("iterate") or work)
    args = ["iterate", "--work-dir", str(work), "--demos", str(data), "--iteration", "0"]
    with pytest.raises(OutputError, match="iter_0 is not empty"):
        main(args)
    assert ran == []
    assert main([*args, "--force"]) == 0 and ran == ["pretrain", "iterate"]
    with pytest.raises(UsageError, match="--iteration must be >= 0, got -1"):
        main([*args[:-1], "-1"])


def test_on_the_command_line_a_usage_error_is_one_line_and_exit_status_2(data, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.argv", ["recap", "train-value", "--data", str(data), "--out", str(tmp_path / "v"),
                                     "--steps", "0"])
    assert main() == 2
    assert capsys.readouterr().err == "recap train-value: error: --steps must be > 0, got 0\n"


def test_a_trained_checkpoint_resumes_and_is_refused_without_resume(data, tmp_path):
    out = tmp_path / "v"
    assert train_value(data, out) == 0
    assert json.loads((out / "trainer_state.json").read_text())["step"] == 2
    with pytest.raises(UsageError, match="holds a checkpoint"):
        train_value(data, out)
    assert train_value(data, out, "--resume", "--steps", "3") == 0
    assert json.loads((out / "trainer_state.json").read_text())["step"] == 3


def test_resuming_from_a_damaged_trainer_state_names_the_file(data, tmp_path, capsys, monkeypatch):
    out = tmp_path / "v"
    assert train_value(data, out) == 0
    state = json.loads((out / "trainer_state.json").read_text())
    del state["losses"]
    (out / "trainer_state.json").write_text(json.dumps(state))
    monkeypatch.setattr("sys.argv", ["recap", "train-value", "--data", str(data), "--out", str(out), "--steps", "3",
                                     "--batch-size", "8", "--resume"])
    assert main() == 1
    assert capsys.readouterr().err.endswith(f"{out / 'trainer_state.json'}: cannot resume, no ['losses']\n")
