"""Chunk scheduling (ROS-free): action chunks (H, D) -> one command per control tick."""
from recap_model.chunk_scheduling.base import SCHEDULERS, ChunkScheduler, SchedulerConfig, TimedChunk
from recap_model.chunk_scheduling.delay_estimator import DelayEstimator, DelayEstimatorConfig
from recap_model.chunk_scheduling.ensemble import EnsembleScheduler
from recap_model.chunk_scheduling.lockstep import LockstepChunking
from recap_model.chunk_scheduling.plain import PlainScheduler
from recap_model.chunk_scheduling.rtc import RealTimeChunkingScheduler

_BY_KIND = {"plain": PlainScheduler, "ensemble": EnsembleScheduler, "rtc": RealTimeChunkingScheduler}


def make_scheduler(config: SchedulerConfig) -> ChunkScheduler:
    return _BY_KIND[config.kind](config)


__all__ = ["SCHEDULERS", "ChunkScheduler", "SchedulerConfig", "TimedChunk", "DelayEstimator",
           "DelayEstimatorConfig", "EnsembleScheduler", "LockstepChunking", "PlainScheduler", "RealTimeChunkingScheduler",
           "make_scheduler"]
