"""`recap serve`: RECAP checkpoints served to openpi clients (openpi's websocket protocol), ROS-free.

protocol: the metadata sent on connect and request validation; server: the websocket server;
device: running the model on a GPU.
"""
