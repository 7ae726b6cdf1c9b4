"""Camera health: silent cameras at startup are named after the timeout, slow cameras warned once."""
import pytest

from recap_core.diagnostics import Level
from recap_policy.camera_health import CameraHealth, CameraHealthConfig

CAMS = {"cam_high": "/cam_high/image_raw", "cam_left_wrist": "/cam_left_wrist/image_raw/compressed"}
S = 10**9


def test_a_silent_camera_is_named_once_the_startup_timeout_has_passed():
    health = CameraHealth(CAMS, CameraHealthConfig(startup_timeout_s=2.0))
    assert health.startup_error(100 * S) is None  # the first check is startup
    health.frame("cam_high", 100 * S)
    assert health.startup_error(101 * S) is None  # still within the timeout
    error = health.startup_error(102 * S)
    assert error is not None and "['/cam_left_wrist/image_raw/compressed'] in 2.0 s" in error
    assert "/cam_high" not in error.split(" in ")[0]
    health.frame("cam_left_wrist", 102 * S)
    assert health.silent_topics() == [] and health.startup_error(103 * S) is None


def feed(health: CameraHealth, camera: str, start_s: float, rate_hz: float, n: int) -> float:
    for i in range(n):
        health.frame(camera, int((start_s + i / rate_hz) * S))
    return start_s + n / rate_hz


def test_a_slow_camera_is_warned_once_and_again_after_it_recovered():
    health = CameraHealth(CAMS, CameraHealthConfig(min_rate_hz=8.0, window=5))
    t = feed(health, "cam_high", 0.0, 30.0, 5)
    feed(health, "cam_left_wrist", 0.0, 4.0, 4)
    assert health.newly_slow() == []  # cam_left_wrist's window is not full yet
    feed(health, "cam_left_wrist", 1.0, 4.0, 1)
    warnings = health.newly_slow()
    assert len(warnings) == 1 and warnings[0].startswith(
        "/cam_left_wrist/image_raw/compressed: camera 'cam_left_wrist' delivers 4.0 frames/s, slower than "
        "min_camera_rate_hz 8")
    assert health.newly_slow() == []  # not repeated while it stays slow
    feed(health, "cam_left_wrist", 2.0, 30.0, 5)
    assert health.newly_slow() == []
    feed(health, "cam_left_wrist", 3.0, 2.0, 5)
    assert len(health.newly_slow()) == 1
    assert health.rate_hz("cam_high") == pytest.approx(30.0) and t > 0


def test_no_rate_check_at_zero_and_bad_settings_are_refused():
    health = CameraHealth(CAMS, CameraHealthConfig(min_rate_hz=0.0, window=2))
    feed(health, "cam_high", 0.0, 0.5, 2)
    assert health.newly_slow() == []
    with pytest.raises(ValueError, match="startup_timeout_s must be positive, got 0"):
        CameraHealthConfig(startup_timeout_s=0)
    with pytest.raises(ValueError, match="min_camera_rate_hz must be >= 0, got -1"):
        CameraHealthConfig(min_rate_hz=-1)


def test_the_status_gives_rate_and_age_per_camera_warns_when_slow_and_errs_when_silent():
    health = CameraHealth(CAMS, CameraHealthConfig(startup_timeout_s=2.0, min_rate_hz=8.0, window=5))
    health.startup_error(0)  # startup
    status = health.status("policy_node: cameras", 1 * S)
    assert status.level == Level.OK and status.values["cam_high.age_s"] == -1.0  # still within the timeout
    t = feed(health, "cam_high", 0.0, 30.0, 5)
    feed(health, "cam_left_wrist", 0.0, 4.0, 5)
    status = health.status("policy_node: cameras", int(t * S))
    assert status.level == Level.WARN and "cam_left_wrist 4.0 Hz" in status.message
    assert status.values["cam_high.rate_hz"] == pytest.approx(30.0)
    assert status.values["cam_high.age_s"] == pytest.approx(t - 4 / 30, abs=1e-3)
    status = health.status("policy_node: cameras", 5 * S)  # both silent for 2 s or more
    assert status.level == Level.ERROR and "cam_high, cam_left_wrist" in status.message
    never = CameraHealth(CAMS, CameraHealthConfig(startup_timeout_s=2.0))
    never.startup_error(0)
    assert never.status("c", 3 * S).level == Level.ERROR  # never delivered, after the startup timeout
