"""launch_ros LaunchDescription built from the graph description (imports launch lazily:
launch/launch_ros exist on ROS installs, not in a pip-only environment)."""
from __future__ import annotations

from recap_bringup.graph import describe_graph
from recap_bringup.launch_arguments import HELP, default_strings, parse


def make_launch_description(default_task: str):
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    defaults = default_strings(task=default_task)

    def nodes(context):
        args = parse({name: LaunchConfiguration(name).perform(context) for name in defaults})
        return [
            Node(package=spec.package, executable=spec.executable, name=spec.name,
                 parameters=[dict(spec.parameters)], remappings=list(spec.remappings),
                 output="screen", emulate_tty=True)
            for spec in describe_graph(args)
        ]

    declared = [DeclareLaunchArgument(name, default_value=value, description=HELP[name])
                for name, value in defaults.items()]
    return LaunchDescription([*declared, OpaqueFunction(function=nodes)])
