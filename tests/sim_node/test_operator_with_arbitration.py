"""End to end over real DDS: sim node + simulated operator + the arbitration node (recap_teleop),
no policy. The operator takes over the stalled arms through /takeover/request and the leader arm
joint states, the arbitration forwards the leader to the follower, and the task gets done."""
import pytest
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from recap_msgs.msg import InterventionState, TaskState
from recap_msgs.srv import ResetSim
from sim_node_helpers import call, ros_args

pytestmark = pytest.mark.integration

# Transient local to get the latched state; a deep queue so no intermediate state is lost here.
LATCHED = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def test_operator_completes_transfer_cube_through_the_arbitration_node(ros_node, sim_process, start_process):
    states = ros_node.collect(TaskState, "/sim/task_state", LATCHED)
    interventions = ros_node.collect(InterventionState, "/intervention_state", LATCHED)
    start_process("recap_teleop.arbitration_node", *ros_args({}, {
        "use_sim_time": "true", "keyboard": "false",
        # The simulated leader sits at the follower's commanded pose while watching: automatic
        # takeover must measure leader motion from that pose, not from a resting pose.
        "auto_takeover": "false", "leader_motion_reference": "command",  # as config/aloha_sim.yaml
        "robot": "aloha_sim"}))
    # Real time, not faster: at 2x a busy 2-core machine let the sim fall behind the
    # operator -> arbitration -> sim command round trip, and the expert dropped the cube (CI flake).
    # 20 s instead of the task's 10: in a full suite run a takeover hand-off can cost seconds of sim
    # time (the arbitration timer skips ticks when /clock jumps), and this test is about completing
    # the task through the arbitration node, not about the expert's speed.
    sim_process(cameras="['none']", real_time_factor=1.0, use_sim_time="true", time_limit_s=20.0, **{
        "operator.enabled": "true", "operator.stall_timeout_s": 0.5, "operator.max_takeovers_per_episode": 10})

    # Start the episode once the arbitration node runs and sees the follower.
    interventions.wait_for(1, timeout=60.0, predicate=lambda m: "waiting" not in m.detail)
    # Up to three episodes: when the 2 cores are saturated (a full suite next to this test) the sim has
    # run at a real-time factor of 0.16 and the expert dropped the cube; one success shows the path works.
    reset = ros_node.node.create_client(ResetSim, "/sim/reset")
    failures = []
    for seed in (2, 3, 4):
        reply = call(reset, ResetSim.Request(task="", seed=seed))
        assert reply.success, reply.message
        episode = reply.state.episode_id
        done = states.wait_for(1, timeout=90.0, predicate=lambda s: s.episode_id == episode and s.done)[0]
        assert done.time_limit.sec == 20  # the sim node's time_limit_s parameter
        if done.outcome == TaskState.OUTCOME_SUCCESS:
            break
        failures.append(f"seed {seed}: {done.failure_reason}")
    assert done.outcome == TaskState.OUTCOME_SUCCESS, failures
    # Every takeover came through the topic (automatic takeover is off). While the human commands, the
    # safety filter may hold the arms (SOURCE_SAFETY: a leader reading late under a loaded machine);
    # that hold is part of the design, not another trigger.
    sources = {(m.source, m.detail) for m in interventions.messages if m.human_in_control}
    assert any(source == InterventionState.SOURCE_TOPIC for source, _ in sources), sources
    assert all(source in (InterventionState.SOURCE_TOPIC, InterventionState.SOURCE_SAFETY)
               for source, _ in sources), sources
