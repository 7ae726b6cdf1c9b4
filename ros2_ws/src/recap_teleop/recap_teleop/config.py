"""The arbitration node's parameters (one table) and the frozen configs built from them."""
from __future__ import annotations

from dataclasses import dataclass

from recap_core.aloha_layout import ALOHA_FOLLOWER_GRIPPER, ALOHA_LEADER_GRIPPER, SIM_GRIPPER, GripperCalibration
from recap_core.joint_limits import JointLimits
from recap_teleop.takeover import ArbitrationConfig
from recap_teleop.command_adapters import AdapterConfig
from recap_teleop.safety_filter import SafetyConfig

_LIMITS = JointLimits()

# name -> (default, description). Types follow the defaults.
PARAMETERS: dict[str, tuple[object, str]] = {
    "control_rate_hz": (50.0, "control rate: watchdog / human-mode output ticks (Hz)"),
    "command_adapter": ("joint_state", "joint_state (sim) | joint_trajectory (ros2_control) | interbotix (real ALOHA)"),
    "command_topics": (["/follower_left/command", "/follower_right/command"], "joint_state adapter topics (left, right)"),
    "trajectory_topics": (["/left_arm_controller/joint_trajectory", "/right_arm_controller/joint_trajectory"],
                          "joint_trajectory adapter topics (left, right)"),
    "trajectory_joint_prefixes": (["left_", "right_"], "joint_trajectory adapter: joint name prefixes (left, right)"),
    "interbotix_namespaces": (["/follower_left", "/follower_right"], "interbotix adapter robot namespaces"),
    "policy_command_topic": ("/policy/command", "the policy's 14-D command stream"),
    "follower_joint_topics": (["/follower_left/joint_states", "/follower_right/joint_states"], "follower joint states"),
    "leader_joint_topics": (["/leader_left/joint_states", "/leader_right/joint_states"], "leader arm joint states"),
    "follower_gripper_closed": (ALOHA_FOLLOWER_GRIPPER.closed,
                                f"raw follower gripper reading when closed (ALOHA; the sim uses {SIM_GRIPPER.closed})"),
    "follower_gripper_open": (ALOHA_FOLLOWER_GRIPPER.open,
                              f"raw follower gripper reading when open (ALOHA; the sim uses {SIM_GRIPPER.open})"),
    "leader_gripper_closed": (ALOHA_LEADER_GRIPPER.closed, "raw leader gripper reading when closed (ALOHA)"),
    "leader_gripper_open": (ALOHA_LEADER_GRIPPER.open, "raw leader gripper reading when open (ALOHA)"),
    "takeover_threshold_rad": (0.8, "takeover refused when leader and follower differ more on any joint"),
    "leader_motion_threshold_rad": (0.1, "automatic takeover when the resting leader moves this far"),
    "auto_takeover": (True, "enable automatic takeover on leader motion"),
    "leader_motion_reference": ("rest", "rest: passive leaders, motion from their resting pose; command: leaders "
                                        "driven to the followers' commanded pose, motion away from it"),
    "joy_topic": ("/takeover/joy", "sensor_msgs/Joy pedal / gamepad"),
    "joy_button": (0, "Joy button index; a press toggles between policy and human"),
    "takeover_topic": ("/takeover/request", "std_msgs/Bool: true = human takes over, false = hand back"),
    "takeover_service": ("/takeover/set", "std_srvs/SetBool: true = human takes over, false = hand back"),
    "estop_topic": ("/estop", "std_msgs/Bool: true = hold the arms (e-stop), false = release"),
    "keyboard": (True, "read a takeover key from the terminal (only when stdin is a TTY)"),
    "takeover_key": ("t", "terminal key toggling between policy and human"),
    "max_step": (0.05, "largest change of one joint per tick (rad / normalised gripper)"),
    "watchdog_timeout_s": (0.2, "no fresh command from the controlling source for this long -> hold"),
    "joint_lower": (list(_LIMITS.lower), "14 lower position limits, JOINT_NAMES order"),
    "joint_upper": (list(_LIMITS.upper), "14 upper position limits, JOINT_NAMES order"),
    "joint_max_velocity": (list(_LIMITS.max_velocity), "14 velocity limits (rad/s; gripper 1/s)"),
    "state_period_s": (1.0, "InterventionState is republished at least this often (and on every change)"),
}


@dataclass(frozen=True)
class ArbitrationNodeConfig:
    control_period: float
    adapter: AdapterConfig
    arbitration: ArbitrationConfig
    safety: SafetyConfig
    leader_gripper: GripperCalibration
    policy_command_topic: str
    follower_joint_topics: tuple[str, str]
    leader_joint_topics: tuple[str, str]
    joy_topic: str
    joy_button: int
    takeover_topic: str
    takeover_service: str
    estop_topic: str
    keyboard: bool
    takeover_key: str
    state_period_s: float

    def __post_init__(self) -> None:
        if len(self.follower_joint_topics) != 2 or len(self.leader_joint_topics) != 2:
            raise ValueError("follower_joint_topics and leader_joint_topics need (left, right)")
        if self.joy_button < 0 or len(self.takeover_key) != 1 or not self.state_period_s > 0:
            raise ValueError("joy_button must be >= 0, takeover_key one character, state_period_s > 0")

    @classmethod
    def from_parameters(cls, p: dict[str, object]) -> "ArbitrationNodeConfig":
        rate = float(p["control_rate_hz"])
        if not rate > 0:
            raise ValueError(f"control_rate_hz must be positive, got {rate}")
        period = 1.0 / rate
        limits = JointLimits(tuple(p["joint_lower"]), tuple(p["joint_upper"]), tuple(p["joint_max_velocity"]))
        return cls(
            control_period=period,
            adapter=AdapterConfig(
                kind=str(p["command_adapter"]),
                gripper=GripperCalibration(float(p["follower_gripper_closed"]), float(p["follower_gripper_open"])),
                control_period=period, command_topics=tuple(p["command_topics"]),
                trajectory_topics=tuple(p["trajectory_topics"]),
                trajectory_joint_prefixes=tuple(p["trajectory_joint_prefixes"]),
                interbotix_namespaces=tuple(p["interbotix_namespaces"])),
            arbitration=ArbitrationConfig(float(p["takeover_threshold_rad"]), float(p["leader_motion_threshold_rad"]),
                                          bool(p["auto_takeover"]), str(p["leader_motion_reference"])),
            safety=SafetyConfig(limits, period, float(p["max_step"]), float(p["watchdog_timeout_s"])),
            leader_gripper=GripperCalibration(float(p["leader_gripper_closed"]), float(p["leader_gripper_open"])),
            policy_command_topic=str(p["policy_command_topic"]),
            follower_joint_topics=tuple(p["follower_joint_topics"]), leader_joint_topics=tuple(p["leader_joint_topics"]),
            joy_topic=str(p["joy_topic"]), joy_button=int(p["joy_button"]), takeover_topic=str(p["takeover_topic"]),
            takeover_service=str(p["takeover_service"]), estop_topic=str(p["estop_topic"]),
            keyboard=bool(p["keyboard"]), takeover_key=str(p["takeover_key"]), state_period_s=float(p["state_period_s"]))
