"""`recap serve CHECKPOINT | --lerobot POLICY_DIR`: a policy served over openpi's websocket protocol
(docs/SERVING.md)."""
from __future__ import annotations

import logging
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

from recap_model.sampling import DEFAULT_NOISE_SCALE
from recap_trainer.cli.options import UsageError

log = logging.getLogger("recap.serve")

OPTION_FIELDS = ("advantage", "guidance_scale", "noise_scale", "seed", "port", "fps")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve", help="serve a policy (RECAP checkpoint or LeRobot policy) to openpi clients (websocket, msgpack-numpy)",
        description="Serve a RECAP policy checkpoint, or a LeRobot pretrained policy (--lerobot), over openpi's "
        "websocket protocol: openpi_client's WebsocketClientPolicy and recap_policy's remote backend get the "
        "metadata on connect and one action chunk (H, 14) per observation, with the RECAP fields (advantage, "
        "guidance_scale, noise_scale, frozen_prefix) per request. GET /healthz on the same port answers 200. "
        "Ctrl-C stops it.")
    p.add_argument("checkpoint", type=Path, nargs="?",
                   help="RECAP policy checkpoint directory (config.json, model.safetensors)")
    p.add_argument("--lerobot", type=Path, metavar="POLICY_DIR",
                   help="serve a LeRobot pretrained policy instead: lerobot-train's .../pretrained_model directory "
                        "with its policy_preprocessor.json / policy_postprocessor.json; the prompt is the instruction "
                        "and AdvantagePromptStep, if the preprocessor has it, runs in inference mode. Needs the "
                        "Python 3.12 env with lerobot (.venv312/bin/recap)")
    p.add_argument("--fps", type=float, default=None,
                   help="--lerobot: the policy's control rate in Hz (default: the training dataset's meta/info.json, "
                        "found through the policy's train_config.json)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for other machines: no authentication)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000, openpi's; 0: any free port)")
    p.add_argument("--device", default="cpu",
                   help="where the model runs: cpu (default) or cuda[:n]; RECAP inputs and noise stay on the CPU")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default 0: torch's choice)")
    p.add_argument("--noise-scale", type=float, default=DEFAULT_NOISE_SCALE,
                   help=f"scale of the flow's starting noise for requests without `noise_scale` "
                        f"(default {DEFAULT_NOISE_SCALE}; 1 = the paper's sampling; not used by LeRobot policies)")
    p.add_argument("--seed", type=int, default=0,
                   help="noise seed: chunk k of every connection samples with SEED + k, so a client's chunks "
                        "do not depend on the other clients (default 0)")
    p.add_argument("--advantage", default="positive", choices=("positive", "negative", "unconditioned"),
                   help="indicator I for requests without `advantage` (default positive: RECAP's improved policy)")
    p.add_argument("--guidance-scale", type=float, default=1.0,
                   help="CFG beta for requests without `guidance_scale` (default 1: no guidance, one forward "
                        "pass per denoising step; LeRobot policies take 1 only)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    import torch

    from recap_trainer.serving.protocol import ServingDefaults
    from recap_trainer.serving.server import PolicyServer, ServerConfig

    logging.basicConfig(level=logging.INFO, format="[%(asctime)s %(name)s] %(message)s", datefmt="%H:%M:%S")
    if (args.checkpoint is None) == (args.lerobot is None):
        raise UsageError("give either a RECAP CHECKPOINT or --lerobot POLICY_DIR")
    if args.fps is not None and args.lerobot is None:
        raise UsageError("--fps is for --lerobot policies (a RECAP checkpoint has its control period)")
    if args.threads < 0:
        raise UsageError(f"--threads must be >= 0, got {args.threads}")
    with _options_named():
        defaults = ServingDefaults(advantage=args.advantage, guidance_scale=args.guidance_scale,
                                   noise_scale=args.noise_scale, seed=args.seed)
        config = ServerConfig(host=args.host, port=args.port)
    if args.threads:
        torch.set_num_threads(args.threads)
    adapter = _lerobot_adapter(args, defaults) if args.lerobot else _recap_adapter(args, defaults)
    server = PolicyServer(adapter, config)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with server:
        stop.wait()
        log.info("stopping: closing client connections")
    return 0


def _recap_adapter(args, defaults):
    from recap_model.policy import load_policy
    from recap_trainer.serving.device import place_policy
    from recap_trainer.serving.recap_adapter import RecapPolicyAdapter

    if not (args.checkpoint / "config.json").is_file():
        raise FileNotFoundError(f"no policy checkpoint at {args.checkpoint} (config.json missing)")
    policy = load_policy(args.checkpoint, seed=args.seed, noise_scale=args.noise_scale)
    where = place_policy(policy, args.device)
    log.info("loaded %s (H=%d, cameras %s, tasks %s) on %s", policy.metadata["policy_id"], policy.metadata["horizon"],
             policy.metadata["cameras"] or "none", policy.metadata["tasks"], where)
    return RecapPolicyAdapter(policy, defaults)


def _lerobot_adapter(args, defaults):
    from recap_trainer.serving.lerobot_adapter import load_lerobot_adapter

    with _options_named():
        return load_lerobot_adapter(args.lerobot, defaults, args.device, args.fps)


@contextmanager
def _options_named():
    """A config's ValueError about one option (its message starts with the field's name) as a UsageError
    naming the option; other errors pass as they are."""
    try:
        yield
    except ValueError as error:
        name, _, problem = str(error).partition(" ")
        if isinstance(error, UsageError) or name not in OPTION_FIELDS:
            raise
        raise UsageError(f"--{name.replace('_', '-')} {problem}") from None
