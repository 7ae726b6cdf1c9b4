"""Simulated ALOHA-style bimanual robot (MuJoCo) with tasks, a scripted expert and a simulated operator."""
