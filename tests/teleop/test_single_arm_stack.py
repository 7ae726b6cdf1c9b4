"""The arbitration node on a 7-D single arm (single_arm_6dof) over real DDS: the description gives the
topics, joints and the joint_trajectory adapter; a missing joint holds the arms; reset to home.

The test node plays the robot (ros2_control's /joint_states with an extra joint the description does
not know, and the controller's trajectory topic) and the policy (/policy/command by state-vector name).
"""
import numpy as np
import pytest
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from recap_core.robot_description import load_robot
from ros_harness import wait_until
from stack_helpers import ros_args

pytestmark = pytest.mark.integration

ROBOT = load_robot("single_arm_6dof")
DRIVER = ["joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "gripper_joint"]
POSE = np.array([0.3, -0.4, 0.5, 0.1, -0.2, 0.2, 0.5])  # state vector, gripper normalised
MAX_STEP = 0.05


def raw(pose: np.ndarray) -> list[float]:
    out = pose.copy()
    out[6] = ROBOT.follower_arms[0].gripper.calibration.denormalise(out[6])
    return out.tolist()


class Robot:
    """Publishes the follower's joint states at 50 Hz at the latest commanded pose; policy commands on demand."""

    def __init__(self, ros_node) -> None:
        self.node = ros_node.node
        self.pose = POSE.copy()
        self.drop_joint: str | None = None
        self.trajectories = ros_node.collect(JointTrajectory, "/arm_controller/joint_trajectory")
        self._states = self.node.create_publisher(JointState, "/joint_states", 10)
        self.policy = self.node.create_publisher(JointState, "/policy/command", 10)
        self.node.create_timer(0.02, self._tick)

    def _tick(self) -> None:
        names, positions = [*DRIVER, "tool_flange"], [*raw(self.pose), 0.0]  # tool_flange: unknown, ignored
        if self.drop_joint is not None:
            i = names.index(self.drop_joint)
            names, positions = names[:i] + names[i + 1:], positions[:i] + positions[i + 1:]
        self._states.publish(JointState(name=names, position=positions))

    def command(self, pose: np.ndarray) -> None:
        self.policy.publish(JointState(name=list(ROBOT.joint_names), position=pose.tolist()))

    def commanded(self, start: int = 0) -> list[np.ndarray]:
        out = []
        for msg in self.trajectories.messages[start:]:
            assert list(msg.joint_names) == DRIVER
            out.append(np.array(msg.points[0].positions))
        return out


def call(ros_node, client, request, timeout: float = 10.0):
    future = client.call_async(request)
    wait_until(future.done, timeout, f"{client.srv_name} to answer")
    return future.result()


def test_a_single_arm_is_commanded_by_name_holds_on_a_missing_joint_and_goes_home(ros_node, start_process):
    proc = start_process("recap_teleop.arbitration_node", *ros_args(
        ["robot:=single_arm_6dof", "keyboard:=false", f"max_step:={MAX_STEP}", "watchdog_timeout_s:=0.2"]))
    robot = Robot(ros_node)
    home = ros_node.node.create_client(Trigger, "/arbitration/home")
    ros_node.wait_for_subscribers("/policy/command", timeout=30.0)

    # The policy drives: 7-D trajectories with the driver's names, one bounded step per period.
    target = POSE + 0.2
    def driven() -> bool:
        robot.command(target)
        got = robot.commanded()
        if got:
            robot.pose = got[-1].copy()
            robot.pose[6] = ROBOT.follower_arms[0].gripper.calibration.normalise(robot.pose[6])
        return bool(got) and np.allclose(robot.pose, target, atol=1e-6)
    wait_until(driven, 30.0, f"the arm to reach the policy's target; log:\n{proc.log()[-2000:]}")
    commands = robot.commanded()
    steps = np.abs(np.diff(np.stack(commands), axis=0))
    steps[:, 6] /= 0.8  # the gripper's raw span
    assert steps.max() <= MAX_STEP + 1e-9

    # Home is refused while the policy drives.
    robot.command(target)
    reply = call(ros_node, home, Trigger.Request())
    assert not reply.success and "policy is driving" in reply.message

    # A reading without joint3: the arm is stale, the arms hold where they are.
    robot.drop_joint = "joint3"
    wait_until(lambda: "missing joint(s) ['joint3']" in proc.log(), 20.0, "the stale arm to be reported")
    held_from = len(robot.trajectories.messages)
    for _ in range(3):
        robot.command(target + 0.3)
        wait_until(lambda: len(robot.trajectories.messages) > held_from, 10.0, "a hold command")
        held_from = len(robot.trajectories.messages)
    held = robot.commanded(len(robot.trajectories.messages) - 2)
    np.testing.assert_allclose(held[-1], raw(target), atol=1e-9)
    robot.drop_joint = None

    # The policy falls silent (the watchdog holds): home ramps to the description's home pose.
    def homed() -> bool:
        return call(ros_node, home, Trigger.Request()).success
    wait_until(homed, 20.0, "the home request to be accepted once the policy is silent")
    start = len(robot.trajectories.messages)
    goal = np.array(raw(ROBOT.home_pose()))
    wait_until(lambda: any(np.allclose(c, goal) for c in robot.commanded(start)), 30.0, "the arm to reach home")
    path = np.stack([raw(target), *robot.commanded(start)])
    steps = np.abs(np.diff(path, axis=0))
    steps[:, 6] /= 0.8
    assert steps.max() <= MAX_STEP + 1e-9
