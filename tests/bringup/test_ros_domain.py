"""Each graph in its own ROS domain: the option, its default, and the test of a free domain."""
import random
import socket

import pytest

from recap_bringup import ros_domain
from recap_bringup.ros_domain import MAX_DOMAIN_ID, domain_in_use, free_domain_id, requested_domain_id, resolve_domain_id
from ros_harness import SpinningNode
from bringup.checkpoint_config import write_checkpoint_config


def _parsers():
    from recap_lab.self_improvement.cli import build_parser as loop_parser
    from recap_bringup.runner import build_parser as runner_parser
    from recap_bringup.soak import build_parser as soak_parser

    return {"runner": (runner_parser, ["espresso"]), "loop": (loop_parser, []),
            "soak": (soak_parser, ["--checkpoint", "ckpt"])}


@pytest.mark.parametrize("command", ["runner", "loop", "soak"])
def test_every_command_that_starts_a_graph_takes_a_validated_domain_id(command, capsys):
    build, required = _parsers()[command]
    assert build().parse_args([*required, "--domain-id", "7"]).domain_id == 7
    assert build().parse_args(required).domain_id is None  # resolved when the graph starts
    assert "--domain-id" in build().format_help()
    for bad, said in (("102", "102 is not a valid ROS domain id: use 0..101"), ("-1", "-1 is not a valid"),
                      ("seven", "'seven' is not an integer domain id")):
        with pytest.raises(SystemExit):
            build().parse_args([*required, "--domain-id", bad])
        err = capsys.readouterr().err
        assert "argument --domain-id" in err and said in err


def test_the_option_wins_over_ros_domain_id_and_a_bad_variable_is_named():
    assert requested_domain_id(5, {"ROS_DOMAIN_ID": "9"}) == 5
    assert requested_domain_id(None, {"ROS_DOMAIN_ID": "9"}) == 9
    assert requested_domain_id(None, {"ROS_DOMAIN_ID": " "}) is None
    assert requested_domain_id(None, {}) is None
    with pytest.raises(ValueError, match=r"ROS_DOMAIN_ID='abc' is not an integer"):
        requested_domain_id(None, {"ROS_DOMAIN_ID": "abc"})
    with pytest.raises(ValueError, match=r"ROS_DOMAIN_ID=230 is not a valid ROS domain id"):
        requested_domain_id(None, {"ROS_DOMAIN_ID": "230"})


def test_default_is_ros_domain_id_else_a_free_one_for_sim_else_zero(monkeypatch):
    monkeypatch.setattr(ros_domain, "free_domain_id", lambda: 77)
    assert resolve_domain_id(3, {"ROS_DOMAIN_ID": "9"}, sim=True) == (3, "--domain-id")
    assert resolve_domain_id(None, {"ROS_DOMAIN_ID": "9"}, sim=True) == (9, "ROS_DOMAIN_ID")
    assert resolve_domain_id(None, {}, sim=True) == (77, "free on this machine")
    # A real robot's drivers run in the robot PC's domain: without one named, the ROS default.
    assert resolve_domain_id(None, {}, sim=False)[0] == 0


def test_a_free_domain_skips_those_in_use_and_the_default_domain():
    busy = set(range(0, MAX_DOMAIN_ID + 1)) - {42}
    assert free_domain_id(in_use=busy.__contains__, rng=random.Random(0)) == 42
    picked = {free_domain_id(in_use=lambda d: False, rng=random.Random(seed)) for seed in range(50)}
    assert 0 not in picked and len(picked) > 1  # random order: two graphs started at once rarely collide
    with pytest.raises(RuntimeError, match="every ROS domain 1..101 is in use"):
        free_domain_id(in_use=lambda d: True)


def test_a_domain_with_a_participant_on_this_machine_is_in_use():
    domain = free_domain_id()
    assert not domain_in_use(domain)
    with SpinningNode("probe_domain_in_use", domain_id=domain):
        assert domain_in_use(domain)
    # Multicast discovery (without ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) binds 7400 + 250 d, shared.
    other = free_domain_id()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", 7400 + 250 * other))
        assert domain_in_use(other)


def test_the_domain_is_not_part_of_a_loop_runs_identity(tmp_path, monkeypatch):
    from recap_bringup import deployment
    from recap_lab.self_improvement.cli import build_parser, config_from

    assert not config_from(build_parser().parse_args(["--domain-id", "5"])).differences(
        config_from(build_parser().parse_args([])))
    # The deployment's graph gets the domain (every node process and the episode driver).
    sessions = []

    class FakeSession:
        def __init__(self, specs, log_dir, startup_timeout_s, domain_id=None):
            sessions.append(domain_id)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def run_episode(self, task, seed, prompt, wall_timeout_s):
            return _result(seed)

    monkeypatch.setattr(deployment, "GraphSession", FakeSession)
    write_checkpoint_config(tmp_path / "policy", state_dim=15)
    cfg = deployment.DeploymentConfig(task="espresso", prompt="p", episodes=1, first_seed=1, wall_timeout_s=1.0,
                                      domain_id=23)
    finished = []
    deployment.deploy(tmp_path / "policy", tmp_path / "bags", tmp_path / "logs", cfg, [0],
                      lambda i, result: finished.append((i, result["seed"])))
    assert sessions == [23] and finished == [(0, 1)]


def _result(seed):
    from recap_bringup.episode_driver import EpisodeResult

    return EpisodeResult("e", seed, "success", "", 1.0, 0, "/bag")
