"""`recap serve CHECKPOINT`: a RECAP policy served over openpi's websocket protocol (docs/SERVING.md)."""
from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from recap_model.sampling import DEFAULT_NOISE_SCALE
from recap_trainer.cli.options import UsageError

log = logging.getLogger("recap.serve")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve", help="serve a policy checkpoint to openpi clients (websocket, msgpack-numpy)",
        description="Serve a RECAP policy checkpoint over openpi's websocket protocol: openpi_client's "
        "WebsocketClientPolicy and recap_policy's remote backend get the metadata on connect and one action "
        "chunk (H, 14) per observation, with the RECAP fields (advantage, guidance_scale, noise_scale, "
        "frozen_prefix) per request. GET /healthz on the same port answers 200. Ctrl-C stops it.")
    p.add_argument("checkpoint", type=Path, help="policy checkpoint directory (config.json, model.safetensors)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for other machines: no authentication)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000, openpi's; 0: any free port)")
    p.add_argument("--device", default="cpu",
                   help="where the model runs: cpu (default) or cuda[:n]; inputs and noise stay on the CPU")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default 0: torch's choice)")
    p.add_argument("--noise-scale", type=float, default=DEFAULT_NOISE_SCALE,
                   help=f"scale of the flow's starting noise for requests without `noise_scale` "
                        f"(default {DEFAULT_NOISE_SCALE}; 1 = the paper's sampling)")
    p.add_argument("--seed", type=int, default=0,
                   help="noise seed: chunk k of every connection samples with SEED + k, so a client's chunks "
                        "do not depend on the other clients (default 0)")
    p.add_argument("--advantage", default="positive", choices=("positive", "negative", "unconditioned"),
                   help="indicator I for requests without `advantage` (default positive: RECAP's improved policy)")
    p.add_argument("--guidance-scale", type=float, default=1.0,
                   help="CFG beta for requests without `guidance_scale` (default 1: no guidance, one forward "
                        "pass per denoising step)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    import torch

    from recap_model.policy import load_policy
    from recap_trainer.serving.device import place_policy
    from recap_trainer.serving.protocol import ServingDefaults
    from recap_trainer.serving.server import PolicyServer, ServerConfig

    logging.basicConfig(level=logging.INFO, format="[%(asctime)s %(name)s] %(message)s", datefmt="%H:%M:%S")
    if not (args.checkpoint / "config.json").is_file():
        raise FileNotFoundError(f"no policy checkpoint at {args.checkpoint} (config.json missing)")
    if args.threads < 0:
        raise UsageError(f"--threads must be >= 0, got {args.threads}")
    try:
        defaults = ServingDefaults(advantage=args.advantage, guidance_scale=args.guidance_scale,
                                   noise_scale=args.noise_scale, seed=args.seed)
        config = ServerConfig(host=args.host, port=args.port, defaults=defaults)
    except ValueError as error:  # every message starts with the field's name: name the option instead
        name, _, problem = str(error).partition(" ")
        raise UsageError(f"--{name.replace('_', '-')} {problem}") from None
    if args.threads:
        torch.set_num_threads(args.threads)
    policy = load_policy(args.checkpoint, seed=args.seed, noise_scale=args.noise_scale)
    where = place_policy(policy, args.device)
    log.info("loaded %s (H=%d, cameras %s, tasks %s) on %s", policy.metadata["policy_id"], policy.metadata["horizon"],
             policy.metadata["cameras"] or "none", policy.metadata["tasks"], where)
    server = PolicyServer(policy, config)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with server:
        stop.wait()
        log.info("stopping: closing client connections")
    return 0
