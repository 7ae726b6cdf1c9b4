"""ros2 launch recap_bringup transfer_cube.launch.py [sim:=true] [checkpoint:=DIR] [record:=true] ...

The nodes and their parameters come from recap_bringup.graph (the one description of the graph).
"""
from recap_bringup.launch_description import make_launch_description


def generate_launch_description():
    return make_launch_description(default_task="transfer_cube")
