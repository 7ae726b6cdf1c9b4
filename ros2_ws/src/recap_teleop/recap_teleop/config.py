"""The arbitration node's parameters (one table) and the frozen config built from them and the robot
description (which gives the arms' topics, joints, grippers, limits, command adapter and rate)."""
from __future__ import annotations

from dataclasses import dataclass

from recap_core.robot_description import ROBOT_PARAMETER, RobotDescription
from recap_teleop.arbitration_core import ArmLayout
from recap_teleop.command_adapters import AdapterConfig
from recap_teleop.safety_filter import SafetyConfig
from recap_teleop.takeover import ArbitrationConfig

# name -> (default, description). Types follow the defaults.
PARAMETERS: dict[str, tuple[object, str]] = {
    ROBOT_PARAMETER[0]: ROBOT_PARAMETER[1:],
    "policy_command_topic": ("/policy/command", "the policy's command stream (JointState named by the "
                                                "description's joint names)"),
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
    "state_period_s": (1.0, "InterventionState is republished at least this often (and on every change)"),
}


@dataclass(frozen=True)
class ArbitrationNodeConfig:
    robot: RobotDescription
    layout: ArmLayout
    adapter: AdapterConfig
    arbitration: ArbitrationConfig
    safety: SafetyConfig
    policy_command_topic: str
    joy_topic: str
    joy_button: int
    takeover_topic: str
    takeover_service: str
    estop_topic: str
    keyboard: bool
    takeover_key: str
    state_period_s: float

    def __post_init__(self) -> None:
        if self.joy_button < 0 or len(self.takeover_key) != 1 or not self.state_period_s > 0:
            raise ValueError("joy_button must be >= 0, takeover_key one character, state_period_s > 0")

    @property
    def control_period(self) -> float:
        return self.robot.control_period

    @classmethod
    def from_parameters(cls, p: dict[str, object], robot: RobotDescription) -> ArbitrationNodeConfig:
        return cls(
            robot=robot, layout=ArmLayout.from_description(robot), adapter=AdapterConfig.from_description(robot),
            arbitration=ArbitrationConfig(float(p["takeover_threshold_rad"]), float(p["leader_motion_threshold_rad"]),
                                          bool(p["auto_takeover"]), str(p["leader_motion_reference"])),
            safety=SafetyConfig.from_description(robot, float(p["max_step"]), float(p["watchdog_timeout_s"])),
            policy_command_topic=str(p["policy_command_topic"]), joy_topic=str(p["joy_topic"]),
            joy_button=int(p["joy_button"]), takeover_topic=str(p["takeover_topic"]),
            takeover_service=str(p["takeover_service"]),
            estop_topic=str(p["estop_topic"]), keyboard=bool(p["keyboard"]), takeover_key=str(p["takeover_key"]),
            state_period_s=float(p["state_period_s"]))
