"""Drive managed nodes through their lifecycle transitions, node by node, in the order given.

The bringup runner, the loop's graph session and the launch files use this one driver, so they
cannot disagree. A node that fails a transition stops the drive with that node's own message (its
ERROR status on /diagnostics, see managed_node). A node already past a transition is left as it is.

    python -m recap_lifecycle.transitions --nodes arbitration_node episode_recorder policy_node
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState

from diagnostic_msgs.msg import DiagnosticArray

# transition label -> (id, the state it reaches, the states it is allowed from)
TRANSITIONS = {
    "configure": (Transition.TRANSITION_CONFIGURE, "inactive", ("unconfigured",)),
    "activate": (Transition.TRANSITION_ACTIVATE, "active", ("inactive",)),
    "deactivate": (Transition.TRANSITION_DEACTIVATE, "inactive", ("active",)),
    "cleanup": (Transition.TRANSITION_CLEANUP, "unconfigured", ("inactive",)),
}
# The order a state is reached in, to tell "already past it" from "cannot get there".
ORDER = ("unconfigured", "inactive", "active")
MESSAGE_WAIT_S = 3.0  # after a failure, how long to wait for the node's own message on /diagnostics


class TransitionError(RuntimeError):
    """A node did not make a transition; the message is the node's own where it gave one."""


def drive_transitions(names: Sequence[str], transitions: Sequence[str] = ("configure", "activate"),
                      domain_id: int | None = None, timeout_s: float = 30.0,
                      give_up: Callable[[], bool] | None = None) -> None:
    """Each transition for every node in `names` (in order), before the next transition.

    `give_up()` true stops the wait for a service or an answer at once (e.g. a node's process has
    ended: DDS may still list its services, and its answer would never come)."""
    unknown = [t for t in transitions if t not in TRANSITIONS]
    if unknown:
        raise ValueError(f"unknown transition(s) {unknown}; known: {sorted(TRANSITIONS)}")
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    node = Node("recap_lifecycle_driver", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    failures: dict[str, str] = {}  # node name -> its lifecycle ERROR message

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for status in msg.status:
            owner, _, what = status.name.partition(": ")
            if what == "lifecycle" and status.level == bytes([2]):
                failures[owner] = status.message

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 50)

    def call(client, request, what: str, deadline: float):
        while not client.service_is_ready():
            if give_up and give_up():
                raise TransitionError(f"{what}: gave up waiting for {client.srv_name}")
            if time.monotonic() > deadline:
                raise TransitionError(f"{what}: the node's lifecycle service {client.srv_name} did not appear "
                                      f"within {timeout_s:.0f} s (is the node running, and is it a managed node?)")
            executor.spin_once(timeout_sec=0.1)
        future = client.call_async(request)
        while not future.done():
            if give_up and give_up():
                raise TransitionError(f"{what}: gave up waiting for an answer from {client.srv_name}")
            if time.monotonic() > deadline:
                raise TransitionError(f"{what}: no answer from {client.srv_name} within {timeout_s:.0f} s")
            executor.spin_once(timeout_sec=0.1)
        return future.result()

    try:
        for transition in transitions:
            transition_id, reached, allowed_from = TRANSITIONS[transition]
            for name in names:
                deadline = time.monotonic() + timeout_s
                base = name.rsplit("/", 1)[-1]
                what = f"{base} ({transition})"
                state = call(node.create_client(GetState, f"/{name.lstrip('/')}/get_state"), GetState.Request(),
                             what, deadline).current_state.label
                if state == reached or (state in ORDER and reached in ORDER and transition in ("configure", "activate")
                                        and ORDER.index(state) > ORDER.index(reached)):
                    continue
                if state not in allowed_from:
                    raise TransitionError(f"{base} is {state}: it cannot {transition}")
                request = ChangeState.Request()
                request.transition.id = transition_id
                reply = call(node.create_client(ChangeState, f"/{name.lstrip('/')}/change_state"), request, what,
                             deadline)
                if not reply.success:
                    wait_until = time.monotonic() + MESSAGE_WAIT_S
                    while base not in failures and time.monotonic() < wait_until:
                        executor.spin_once(timeout_sec=0.1)
                    raise TransitionError(failures.get(base, f"{base} failed to {transition} (see its log)"))
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recap_lifecycle.transitions",
        description="Drive managed RECAP nodes through lifecycle transitions, node by node, in order; "
                    "exit 1 with the failing node's own message.")
    parser.add_argument("--nodes", nargs="+", required=True, help="node names, in the order to drive them")
    parser.add_argument("--transitions", nargs="+", default=["configure", "activate"],
                        choices=sorted(TRANSITIONS), help="transitions, each for every node before the next")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds per node and transition to wait for its service and answer")
    opts = parser.parse_args(argv)
    try:
        drive_transitions(opts.nodes, opts.transitions, timeout_s=opts.timeout)
    except TransitionError as exc:
        print(f"recap lifecycle: {exc}", file=sys.stderr)
        return 1
    print(f"recap lifecycle: {' and '.join(opts.transitions)} done for {', '.join(opts.nodes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
