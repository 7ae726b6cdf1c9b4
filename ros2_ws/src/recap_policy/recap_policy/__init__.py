"""Policy node: action chunks from camera and joint observations, chunk scheduling and a control-rate command stream."""
