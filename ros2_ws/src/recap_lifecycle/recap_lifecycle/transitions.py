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
from typing import Any

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
# A get_state unanswered this long is asked again; a change_state, checked by the node's state.
# Why: Fast DDS drops a service's answer when the server has not yet matched the client's reply
# reader ("failed to send response (timeout): client will not receive response" in the node's log);
# one lost answer to get_state once stalled a graph's start-up for its whole timeout.
ASK_AGAIN_S = 2.0


class TransitionError(RuntimeError):
    """A node did not make a transition; the message is the node's own where it gave one."""


def await_answer(send: Callable[[], Any], spin: Callable[[], None], deadline: float, late: Callable[[], str],
                 give_up: Callable[[], str | None] = lambda: None,
                 overdue: Callable[[], Any | None] | None = None) -> Any:
    """The result of the future `send()` returns. Unanswered for ASK_AGAIN_S: without `overdue` the
    request is sent again (a request that may be repeated); with it, `overdue()` is asked and what
    it returns other than None is the result (the answer was lost, the outcome is known otherwise).
    TransitionError(late()) past `deadline`, TransitionError(give_up()) when that says why."""
    future, since = send(), time.monotonic()
    while not future.done():
        reason = give_up()
        if reason:
            raise TransitionError(reason)
        if time.monotonic() > deadline:
            raise TransitionError(late())
        if time.monotonic() - since > ASK_AGAIN_S:
            if overdue is None:
                future = send()
            else:
                known = overdue()
                if known is not None:
                    return known
            since = time.monotonic()
        spin()
    return future.result()


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

    def call(client, request, what: str, deadline: float, overdue=None):
        while not client.service_is_ready():
            if give_up and give_up():
                raise TransitionError(f"{what}: gave up waiting for {client.srv_name}")
            if time.monotonic() > deadline:
                raise TransitionError(f"{what}: the node's lifecycle service {client.srv_name} did not appear "
                                      f"within {timeout_s:.0f} s (is the node running, and is it a managed node?)")
            executor.spin_once(timeout_sec=0.1)
        pending = []

        def send():
            for future in pending:  # an answer to an earlier ask is as good, but nothing waits for it now
                client.remove_pending_request(future)
            pending[:] = [client.call_async(request)]
            return pending[0]

        return await_answer(send, lambda: executor.spin_once(timeout_sec=0.1), deadline,
                            late=lambda: f"{what}: no answer from {client.srv_name} within {timeout_s:.0f} s",
                            give_up=lambda: (f"{what}: gave up waiting for an answer from {client.srv_name}"
                                             if give_up and give_up() else None),
                            overdue=overdue)

    clients = {}  # one per service: a new client is matched by DDS afresh, and may lose answers afresh

    def client_of(kind, name: str, service: str):
        key = f"/{name.lstrip('/')}/{service}"
        if key not in clients:
            clients[key] = node.create_client(kind, key)
        return clients[key]

    def state_of(name: str, what: str, deadline: float) -> str:
        return call(client_of(GetState, name, "get_state"), GetState.Request(), what, deadline).current_state.label

    def change(name: str, transition_id: int, reached: str, what: str, deadline: float) -> bool:
        """True once the node reached `reached`. change_state is sent once (a second configure would
        run the node's configure twice); while its answer is overdue the node's state is asked: the
        state reached, or the node's failure on /diagnostics, settles it if the answer was lost."""
        request = ChangeState.Request()
        request.transition.id = transition_id
        failures.pop(name.rsplit("/", 1)[-1], None)  # only a failure of this attempt settles it

        def overdue():
            if state_of(name, what, deadline) == reached:
                return ChangeState.Response(success=True)
            return ChangeState.Response(success=False) if name.rsplit("/", 1)[-1] in failures else None

        return call(client_of(ChangeState, name, "change_state"), request, what, deadline, overdue).success

    try:
        for transition in transitions:
            transition_id, reached, allowed_from = TRANSITIONS[transition]
            for name in names:
                deadline = time.monotonic() + timeout_s
                base = name.rsplit("/", 1)[-1]
                what = f"{base} ({transition})"
                state = state_of(name, what, deadline)
                if state == reached or (state in ORDER and reached in ORDER and transition in ("configure", "activate")
                                        and ORDER.index(state) > ORDER.index(reached)):
                    continue
                if state not in allowed_from:
                    raise TransitionError(f"{base} is {state}: it cannot {transition}")
                if not change(name, transition_id, reached, what, deadline):
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
