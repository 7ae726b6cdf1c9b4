"""`recap-console`: the operator's terminal console (curses; works over SSH: keys only, no mouse,
no colours, redrawn on resize).

The ROS node spins on a background thread; this thread reads keys and redraws the model's view
ten times a second. The node's logs go to a file (`--log-file`): written to the terminal they
would tear the screen.
"""
from __future__ import annotations

import argparse
import curses
import os
import sys
import threading
import time
from pathlib import Path

from recap_core.output_files import OutputError, check_output_file
from recap_teleop.console_input import JOY_ACTIONS, KEYS, Action, action_for_key
from recap_teleop.console_state import ConsoleView

REFRESH_S = 0.1


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:02d}:{rest:02d}"


def legend() -> list[str]:
    return [*(f"{k}  {a.value}" for k, a in KEYS.items()), "space  e-stop (as e)"]


def pack(title: str, items: list[str], width: int) -> list[str]:
    """`items` on as few lines as fit in `width`, never splitting one."""
    rows: list[list[str]] = [[]]
    for item in items:
        if rows[-1] and len(title) + len(" | ".join([*rows[-1], item])) > width - 1:
            rows.append([])
        rows[-1].append(item)
    return [(title if i == 0 else " " * len(title)) + " | ".join(row) for i, row in enumerate(rows)]


def render_lines(view: ConsoleView, joy: dict[int, Action], width: int = 100) -> list[str]:
    """The screen's lines; the key legend is wrapped to `width`, other lines are cut when drawn."""
    lines = [f"RECAP console - {view.control}", ""]
    lines.append(f"MODE: {view.mode.value}   {view.mode_detail}")
    lines.append(f"interventions this episode: {view.interventions}")
    if view.estop:
        lines.append("E-STOP ENGAGED: the arms hold (u releases)")
    rec = view.recording
    if rec is None:
        lines.append("RECORDING: no")
    else:
        elapsed = "started before this console" if view.elapsed_s is None else _clock(view.elapsed_s)
        lines.append(f"RECORDING: {rec.episode_id}  {elapsed}  task: {rec.task}")
    counts = ", ".join(f"{o} {n}" for o, n in view.outcome_counts.items())
    lines.append(f"episodes started here: {view.episodes_started}   outcomes seen: {counts}")
    last = view.last_ended
    if last is not None:
        drops = "drops unknown (bag not on this machine)" if last.detected_drops is None \
            else f"{last.detected_drops} dropped messages"
        lines.append(f"last episode: {last.episode_id} {last.outcome}, {drops}  {last.bag_path}")
    lines.append(f"recorder: {view.recorder}")
    lines.append(f"policy: {view.policy}")
    lines.append(f"policy latency: {view.latency}")
    lines.append(f"watchdog: {view.watchdog}")
    if view.pending:
        lines.append(f"waiting for: {', '.join(view.pending)}")
    lines += ["", *pack("keys: ", legend(), width)]
    if joy:
        lines += pack("joy: ", [f"button {i}  {a.value}" for i, a in sorted(joy.items())], width)
    lines += ["", "messages (newest first):", *(f"  {m}" for m in view.messages)]
    return lines


def draw(screen, lines: list[str]) -> None:
    screen.erase()
    height, width = screen.getmaxyx()
    for row, text in enumerate(lines[:height]):
        try:
            screen.addnstr(row, 0, text, max(0, width - 1), curses.A_BOLD if text.startswith(("MODE", "E-STOP")) else 0)
        except curses.error:  # the terminal shrank between getmaxyx and the write
            break
    screen.refresh()


def follow_terminal_size(screen) -> None:
    """Resize the screen to the terminal's size. Asked every frame rather than on SIGWINCH: a
    console started from a process that ignores SIGWINCH inherits the ignore, and curses then never
    hears of a resize (its KEY_RESIZE needs the signal)."""
    try:
        size = os.get_terminal_size(sys.__stdout__.fileno())
    except OSError:  # no terminal size to ask (curses keeps its own)
        return
    if (size.lines, size.columns) != screen.getmaxyx():
        curses.resizeterm(size.lines, size.columns)
        screen.clear()


def run_screen(screen, node) -> None:
    try:
        curses.curs_set(0)
    except curses.error:  # terminals without an invisible cursor
        pass
    screen.timeout(int(REFRESH_S * 1000))
    joy = node.joy.mapping
    while not node.quit_requested:
        follow_terminal_size(screen)
        draw(screen, render_lines(node.model.view(time.monotonic()), joy, screen.getmaxyx()[1]))
        key = screen.getch()
        if 0 <= key < 256:
            action = action_for_key(chr(key))
            if action is not None:
                node.request(action)


def build_parser() -> argparse.ArgumentParser:
    joy_params = ", ".join(f"joy.{name}" for name in JOY_ACTIONS)
    parser = argparse.ArgumentParser(
        prog="recap-console", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The operator's console: start, stop and label episodes, take over, e-stop and watch "
                    "the stack (mode, episode timer, recording, policy latency, hold reasons) from a "
                    "terminal, also over SSH.",
        epilog="keys:\n" + "".join(f"  {line}\n" for line in legend()) + "\n"
               f"Joy buttons (sensor_msgs/Joy on --joy-topic) are ROS parameters: {joy_params}\n"
               "(button index, -1 = none; default: a one-button pedal, joy.takeover:=0), e.g.\n"
               "  recap-console --task 'transfer the cube' --ros-args -p joy.start:=3 -p joy.success:=0 "
               "-p joy.takeover:=5\n\n"
               "Two consoles: the first one is in control, another shows who is and stays read-only\n"
               "(its e-stop still works). See docs/NODES.md, 'Operator's console'.")
    parser.add_argument("--task", help="task prompt the episodes started here are recorded with "
                                       "(required; or -p task_prompt:=...)")
    parser.add_argument("--joy-topic", help="sensor_msgs/Joy topic of the pedal / gamepad (default /joy; "
                                            "a topic nobody publishes is fine: the keys always work)")
    parser.add_argument("--home-seed", type=int, help="seed of the /sim/reset sent by the home key (default 0); "
                        "a real robot (no /sim/reset) goes to its description's home pose via /arbitration/home")
    parser.add_argument("--observe", action="store_true",
                        help="read-only monitoring console: never takes control (the e-stop still works)")
    parser.add_argument("--use-sim-time", action="store_true",
                        help="run on /clock (the sim): the policy's chunk age is measured on sim time")
    parser.add_argument("--log-file", type=Path,
                        help="where the node's logs go (default $ROS_LOG_DIR or ~/.ros/log, "
                             "recap-console-<time>-<pid>.log; appended to)")
    return parser


def _overrides(args: argparse.Namespace) -> list:
    from rclpy.parameter import Parameter
    given = {"task_prompt": args.task, "joy_topic": args.joy_topic, "home_seed": args.home_seed,
             "observe_only": True if args.observe else None, "use_sim_time": True if args.use_sim_time else None}
    return [Parameter(name, value=value) for name, value in given.items() if value is not None]


def default_log_file() -> Path:
    root = Path(os.environ.get("ROS_LOG_DIR") or Path.home() / ".ros" / "log")
    return root / f"recap-console-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--ros-args") if "--ros-args" in argv else len(argv)
    args = build_parser().parse_args(argv[:split])
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("recap-console: needs a terminal (stdin and stdout a TTY); over SSH use `ssh -t`", file=sys.stderr)
        return 2
    log_file = args.log_file or default_log_file()
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        check_output_file(log_file, overwrite=True, what="--log-file")
    except (OutputError, OSError) as exc:
        print(f"recap-console: {exc}", file=sys.stderr)
        return 2
    return _run(args, argv[split:], log_file)


def _run(args: argparse.Namespace, ros_args: list[str], log_file: Path) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    from recap_teleop.console_node import ConsoleNode

    saved_stderr = os.dup(2)
    with open(log_file, "a") as log:
        os.dup2(log.fileno(), 2)  # rcutils and DDS write to fd 2 from C: redirect the descriptor itself
    os.environ["RCUTILS_LOGGING_USE_STDOUT"] = "0"  # stdout is the screen
    rclpy.init(args=["recap-console", *ros_args])
    node, error = None, ""
    try:
        node = ConsoleNode(parameter_overrides=_overrides(args))
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        failure: list[str] = []
        spinner = threading.Thread(target=_spin, args=(executor, node, failure, ExternalShutdownException),
                                   daemon=True)
        spinner.start()
        curses.wrapper(run_screen, node)
        error = failure[0] if failure else ""
    except ValueError as exc:  # a bad parameter: the node names it
        error = f"recap-console: cannot start: {exc}"
    except KeyboardInterrupt:
        pass
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
    if error:
        print(error, file=sys.stderr)
        return 2
    print(f"recap-console: log in {log_file}", file=sys.stderr)
    return 0


def _spin(executor, node, failure: list[str], shutdown_exception: type) -> None:
    """Spin the node; a callback that raises ends the console (a frozen screen would mislead)."""
    try:
        executor.spin()
    except shutdown_exception:
        pass
    except Exception as exc:
        import traceback
        traceback.print_exc()  # into the log file
        failure.append(f"recap-console: the ROS side failed: {exc!r}")
        node.quit_requested = True


if __name__ == "__main__":
    sys.exit(main())
