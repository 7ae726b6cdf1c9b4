"""`recap serve`: a RECAP checkpoint or a LeRobot policy served to openpi clients (openpi's websocket
protocol), ROS-free.

server: the websocket server; policy_adapter: what a served policy provides; recap_adapter /
lerobot_adapter: the two kinds; protocol: the request fields; wire: openpi's msgpack-numpy frames;
device: running the model on a GPU.
"""
