"""launch_ros LaunchDescription built from the graph description (imports launch lazily:
launch/launch_ros exist on ROS installs, not in a pip-only environment).

Besides the nodes it starts the same transition driver as recap-bringup
(`python -m recap_lifecycle.transitions`), which configures and activates the managed nodes in the
graph's order once they are up; when it fails (a node could not configure), the launch shuts down
with that node's message."""
from __future__ import annotations

import sys

from recap_bringup.graph import NODE_ENVIRONMENT, describe_graph, managed_nodes
from recap_bringup.launch_arguments import HELP, default_strings, parse


def transitions_command(node_names: list[str]) -> list[str]:
    """The driver process's command line (the runner calls the same driver in-process)."""
    return [sys.executable, "-m", "recap_lifecycle.transitions", "--nodes", *node_names]


def make_launch_description(default_task: str):
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, EmitEvent, ExecuteProcess, OpaqueFunction, RegisterEventHandler
    from launch.event_handlers import OnProcessExit
    from launch.events import Shutdown
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    defaults = default_strings(task=default_task)

    def nodes(context):
        args = parse({name: LaunchConfiguration(name).perform(context) for name in defaults})
        specs = describe_graph(args)
        actions = [
            Node(package=spec.package, executable=spec.executable, name=spec.name,
                 parameters=[dict(spec.parameters)], remappings=list(spec.remappings),
                 additional_env=NODE_ENVIRONMENT, output="screen", emulate_tty=True)
            for spec in specs
        ]
        driver = ExecuteProcess(cmd=transitions_command(managed_nodes(specs)), name="lifecycle_transitions",
                                output="screen")

        def on_driver_exit(event, _context):
            if event.returncode == 0:
                return []
            return [EmitEvent(event=Shutdown(reason="a managed node did not configure or activate (see above)"))]

        return [*actions, driver,
                RegisterEventHandler(OnProcessExit(target_action=driver, on_exit=on_driver_exit))]

    declared = [DeclareLaunchArgument(name, default_value=value, description=HELP[name])
                for name, value in defaults.items()]
    return LaunchDescription([*declared, OpaqueFunction(function=nodes)])
