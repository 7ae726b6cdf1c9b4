"""How precisely a camera setting locates the cup against the serving spot: a probe (docs/BRINGUP.md).

    python -m recap_lab.experiments.camera_precision --out runs/camera_precision

The camera policies place the `espresso` cup four times less precisely than the demonstrations,
and their near misses are the largest failure left besides tip-overs. Whether the images can show
the 3 cm tolerance at all is a question a policy's success rate answers slowly and noisily. This
probe answers it directly. The scripted expert serves cups in `--episodes` scenes; the frames of
each scene's serving phase (brewed, the cup's centre within `--near-cm` of the spot; every
`--every`-th control step) are rendered with the spot drawn at a random offset from the cup
(uniform within `--near-cm`: the expert itself serves within 1.5 cm), once at the graph's camera
size (240 x 320, as the sim node publishes; reduced as the policy node reduces them, INTER_AREA
to the model size, after a fixed crop of cam_high where a setting names one) and once straight at
48 x 64 (as the in-process simulations, demonstrations and evaluations, render the model's
frames). For each camera setting, the product's observation encoder (`ObservationEncoder`: the
same backbone, random shift and qpos path as the policy) with a linear head learns the cup's
offset from the spot (x, y in cm) on the first scenes and is scored on the held-out ones: the
Euclidean error's median and 90th percentile, per training seed. `--checkpoints` adds trained
camera models: their encoders stay frozen and an MLP head learns to read the offset from their
features, which says how much of it the policy's training kept. "qpos only" is the floor: the
joints say where a held cup is, not where the spot is. The spot is a visual marker only (no
contacts), so drawing it elsewhere changes nothing else.

The frames are kept in `--out/frames.npz` and each trained probe's errors in
`--out/<setting>/seed_<k>.json`, so a rerun trains only what is missing; PRECISION.md is the table.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from recap_core.aloha_layout import CAM_HIGH, CAMERA_NAMES, WRIST_CAMERAS
from recap_core.output_files import write_text_atomic

NATIVE_SIZE = (240, 320)  # what the sim node publishes (config/aloha_sim.yaml)
MODEL_SIZE = (48, 64)  # the image model's default size, which in-process sims render at directly
CAMERAS = CAMERA_NAMES
RIGHT_WRIST = WRIST_CAMERAS["right"]  # the camera over the cup as it is served
# cam_high rows 90-210, columns 120-280 of 240 x 320: the table from the serving spot to the spout
# (x -0.2 to 0.4 m at the front edge), half of the frame's width; at 48 x 64 a pixel is 2.5 native
# pixels instead of 5.
TABLE_CROP = (90, 120, 120, 160)  # top, left, height, width
FROZEN_HEAD = 256  # hidden width of the MLP that reads a frozen encoder's features


@dataclass(frozen=True)
class Setting:
    """One camera setting the probe is trained on."""

    name: str
    cameras: tuple[str, ...]  # () = qpos only
    size: tuple[int, int] = (48, 64)
    encoder: str = "strided_cnn"
    high_crop: tuple[int, int, int, int] | None = None  # of cam_high's native frame, before resizing
    rendered: bool = False  # frames rendered at MODEL_SIZE (in-process sims, datagen), not reduced from 240 x 320
    checkpoint: str | None = None  # a trained policy or value checkpoint whose encoder is probed frozen

    @property
    def key(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "_", self.name).strip("_")


SETTINGS = {s.key: s for s in (
    Setting("qpos only", ()),
    Setting("3 cameras 48x64", CAMERAS),
    Setting("3 cameras rendered at 48x64", CAMERAS, rendered=True),
    Setting(f"{CAM_HIGH} 48x64", (CAM_HIGH,)),
    Setting(f"{CAM_HIGH} 48x64 spatial_softmax", (CAM_HIGH,), encoder="spatial_softmax"),
    Setting(f"{CAM_HIGH} 96x128", (CAM_HIGH,), size=(96, 128)),
    Setting(f"{CAM_HIGH} table crop 48x64", (CAM_HIGH,), high_crop=TABLE_CROP),
    Setting(f"{RIGHT_WRIST} 48x64", (RIGHT_WRIST,)),
    Setting(f"3 cameras 48x64, {CAM_HIGH} table crop", CAMERAS, high_crop=TABLE_CROP),
)}


@dataclass(frozen=True)
class ProbeConfig:
    steps: int = 3000
    batch: int = 64
    lr: float = 1e-3
    held_out: float = 0.2  # fraction of the scenes (the last ones) scored, never trained on


class SpotView:
    """Renders a copy of a scene with the serving spot drawn elsewhere; the scene itself is untouched."""

    def __init__(self, model, cameras: tuple[str, ...] = CAMERAS, size: tuple[int, int] = NATIVE_SIZE) -> None:
        import mujoco

        from recap_sim.renderer import CameraRenderer

        self._model, self._view = model, mujoco.MjData(model)
        self._spot = model.body("serve_spot").mocapid[0]
        self._renderer = CameraRenderer(model, cameras, *size)

    def render(self, data, spot_xy: np.ndarray) -> dict[str, np.ndarray]:
        import mujoco

        view = self._view
        view.qpos[:], view.mocap_pos[:], view.mocap_quat[:] = data.qpos, data.mocap_pos, data.mocap_quat
        view.mocap_pos[self._spot, :2] = spot_xy
        mujoco.mj_kinematics(self._model, view)
        mujoco.mj_camlight(self._model, view)  # the cameras follow the bodies they are mounted on
        return self._renderer.render(view)

    def close(self) -> None:
        self._renderer.close()


def serving_frames(episodes: int, seed: int, every: int, near_m: float, progress: bool = True) -> dict[str, np.ndarray]:
    """Run the scripted expert on `episodes` espresso scenes (seeds seed, seed + 1, ...) and render
    the serving phase's frames at NATIVE_SIZE with the serving spot drawn at a random offset from
    the cup, uniform in a disc of radius `near_m`, so that every offset up to it is seen in the arm
    and cup poses of a real serve. Returns {"qpos" (N, 14), "offset_cm" (N, 2) cup - drawn spot,
    "scene" (N,) episode index, <camera> (N, 240, 320, 3) uint8, <camera>@48x64 (N, 48, 64, 3)
    uint8 rendered at MODEL_SIZE}."""
    from tqdm import tqdm

    from recap_sim.blas_threads import one_blas_thread
    from recap_sim.env import SimConfig, SimEnv
    from recap_sim.expert import ScriptedExpert

    env = SimEnv(SimConfig(task="espresso"))
    view, small = SpotView(env.model), SpotView(env.model, size=MODEL_SIZE)
    at = {name: i for i, name in enumerate(env.state_names)}
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {"qpos": [], "offset_cm": [], "scene": [], **{c: [] for c in CAMERAS},
                             **{_rendered_key(c): [] for c in CAMERAS}}
    try:
        with one_blas_thread():
            for scene in tqdm(range(episodes), desc="serving frames", disable=not progress):
                observation = env.reset(seed=seed + scene)
                expert = ScriptedExpert(env, seed=seed + scene)
                step = 0
                while True:
                    s = observation.env_state
                    cup = np.array([s[at["cup_x"]], s[at["cup_y"]]])
                    near = np.hypot(*(cup - [s[at["serve_x"]], s[at["serve_y"]]])) < near_m
                    if step % every == 0 and s[at["brewed"]] > 0.5 and near:
                        radius, angle = near_m * np.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
                        offset = radius * np.array([np.cos(angle), np.sin(angle)])
                        rows["qpos"].append(observation.qpos)
                        rows["offset_cm"].append(offset * 100.0)
                        rows["scene"].append(scene)
                        for camera, frame in view.render(env.data, cup - offset).items():
                            rows[camera].append(frame)
                        for camera, frame in small.render(env.data, cup - offset).items():
                            rows[_rendered_key(camera)].append(frame)
                    result = env.step(expert.act(observation))
                    observation, step = result.observation, step + 1
                    if result.done:
                        break
    finally:
        view.close()
        small.close()
        env.close()
    if not rows["scene"]:
        raise RuntimeError(f"no serving-phase frames in {episodes} scenes")
    return {k: np.asarray(v, np.float64 if k in ("qpos", "offset_cm", "scene") else np.uint8) for k, v in rows.items()}


def _rendered_key(camera: str) -> str:
    return f"{camera}@{MODEL_SIZE[0]}x{MODEL_SIZE[1]}"


def setting_frames(data: dict[str, np.ndarray], camera: str, setting: Setting) -> np.ndarray:
    """One camera's frames as `setting` gives them to the model."""
    if setting.rendered:
        return data[_rendered_key(camera)]
    return reduce_frames(data[camera], camera, setting)


def reduce_frames(frames: np.ndarray, camera: str, setting: Setting) -> np.ndarray:
    """(N, 240, 320, 3) -> (N, h, w, 3) as the policy node would give them to the model."""
    from recap_model.images import resize_to_model

    if camera == CAM_HIGH and setting.high_crop is not None:
        top, left, h, w = setting.high_crop
        frames = frames[:, top:top + h, left:left + w]
    return np.stack([resize_to_model(np.ascontiguousarray(f), setting.size) for f in frames])


def train_probe(setting: Setting, data: dict[str, np.ndarray], config: ProbeConfig, seed: int) -> dict:
    """Train the observation encoder + a linear head (a checkpoint's frozen encoder: an MLP head) on the
    training scenes; errors on the held-out ones."""
    import torch
    from torch import nn

    from recap_model.models.config import ObservationConfig
    from recap_model.models.encoders import ObservationEncoder, mlp

    scenes = data["scene"].astype(int)
    first_held_out = int(round(scenes.max() + 1 - config.held_out * (scenes.max() + 1)))
    train, test = np.flatnonzero(scenes < first_held_out), np.flatnonzero(scenes >= first_held_out)
    qpos = data["qpos"]
    mean, std = qpos[train].mean(0), qpos[train].std(0) + 1e-6
    qpos_n = torch.from_numpy(((qpos - mean) / std).astype(np.float32))
    target = torch.from_numpy(data["offset_cm"].astype(np.float32))
    images = (torch.from_numpy(np.stack([setting_frames(data, c, setting) for c in setting.cameras], 1))
              .permute(0, 1, 4, 2, 3) if setting.cameras else None)  # (N, Ncam, 3, h, w) uint8

    torch.manual_seed(seed)
    if setting.checkpoint is None:
        encoder = ObservationEncoder(ObservationConfig(cameras=setting.cameras, image_size=setting.size,
                                                       image_encoder=setting.encoder))
        model = nn.ModuleDict({"encoder": encoder, "head": nn.Linear(encoder.config.width, 2)})

        def predict(idx: np.ndarray) -> torch.Tensor:
            batch = {"qpos": qpos_n[idx], "task_id": torch.zeros(len(idx), dtype=torch.long)}
            if images is not None:
                batch["images"] = images[idx]
            return model["head"](model["encoder"](batch))
    else:
        # A frozen encoder's features are read by an MLP (as the policy's action head reads them),
        # standardised on the training frames; a linear head trained alike stopped at 3-4 cm.
        features = frozen_features(setting.checkpoint, qpos, images)
        features = (features - features[train].mean(0)) / (features[train].std(0) + 1e-6)
        model = nn.ModuleDict({"head": mlp([features.shape[1], FROZEN_HEAD, FROZEN_HEAD, 2])})

        def predict(idx: np.ndarray) -> torch.Tensor:
            return model["head"](features[idx])

    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.steps)

    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    model.train()
    for _ in range(config.steps):
        idx = rng.choice(train, config.batch)
        loss = nn.functional.mse_loss(predict(idx), target[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    seconds = time.perf_counter() - started
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([predict(chunk) for chunk in np.array_split(test, max(1, len(test) // 256))])
        train_error = float(torch.linalg.vector_norm(predict(train[:512]) - target[train[:512]], dim=1).median())
    errors = torch.linalg.vector_norm(predicted - target[test], dim=1).numpy()
    return {"setting": asdict(setting), "seed": seed, "config": asdict(config), "train_seconds": seconds,
            "train_frames": len(train), "held_out_frames": len(test),
            "median_cm": float(np.median(errors)), "p90_cm": float(np.percentile(errors, 90)),
            "within_1cm": float(np.mean(errors < 1.0)), "train_median_cm": train_error}


def frozen_features(checkpoint: str, qpos: np.ndarray, images) -> "torch.Tensor":
    """The observation features a trained checkpoint's encoder gives each frame (N, width), as at inference."""
    import torch

    from recap_model.checkpoint import load_checkpoint, read_config

    ckpt = load_checkpoint(checkpoint, read_config(checkpoint)["kind"])
    observation, encoder = ckpt.config.observation, ckpt.model.encoder.eval()
    qpos_n = torch.from_numpy(ckpt.stats.normalize("qpos", qpos).astype(np.float32))
    task = torch.full((len(qpos),), observation.task_id("espresso"), dtype=torch.long)
    chunks = []
    with torch.no_grad():
        for idx in np.array_split(np.arange(len(qpos)), max(1, len(qpos) // 256)):
            chunks.append(encoder({"qpos": qpos_n[idx], "task_id": task[idx], "images": images[idx]}))
    return torch.cat(chunks)


def checkpoint_setting(spec: str) -> Setting:
    """LABEL=PATH (or PATH) of a policy or value checkpoint -> the setting that probes its encoder frozen,
    on frames rendered at the model size as its demonstrations were."""
    from recap_model.checkpoint import load_checkpoint, read_config

    label, _, path = spec.rpartition("=")
    ckpt = load_checkpoint(path, read_config(path)["kind"])
    observation = ckpt.config.observation
    if tuple(observation.cameras) and tuple(observation.image_size) != MODEL_SIZE:
        raise ValueError(f"{path}: images of {observation.image_size}; the probe renders {MODEL_SIZE}")
    if observation.state_dim or not observation.cameras:
        raise ValueError(f"{path}: a model without cameras (object state or joints only)")
    if "espresso" not in observation.tasks:
        raise ValueError(f"{path}: a model of {list(observation.tasks)}, not of espresso")
    return Setting(f"frozen {ckpt.kind} encoder: {label or path}", tuple(observation.cameras),
                   encoder=observation.image_encoder, rendered=True, checkpoint=path)


def precision_table(results: list[dict], spread_cm: float) -> str:
    lines = ["Held-out error of the cup-to-spot offset a probe reads from each setting, cm (every training "
             f"seed; the offsets' own spread around their mean: {spread_cm:.1f} cm median):", "",
             "| setting | training seeds | median error | 90th percentile | within 1 cm | training frames' median |",
             "|---|---|---|---|---|---|"]
    by_setting: dict[str, list[dict]] = {}
    for r in results:
        by_setting.setdefault(r["setting"]["name"], []).append(r)
    for name, runs in by_setting.items():
        runs.sort(key=lambda r: r["seed"])

        def each(key: str, fmt: str) -> str:
            return ", ".join(format(r[key], fmt) for r in runs)

        within = ", ".join(f"{r['within_1cm'] * 100:.0f} %" for r in runs)
        lines.append(f"| {name} | {each('seed', 'd')} | {each('median_cm', '.2f')} | {each('p90_cm', '.2f')} | "
                     f"{within} | {each('train_median_cm', '.2f')} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recap_lab.experiments.camera_precision",
        description="How precisely each camera setting (cameras, size, crop, encoder) shows where the espresso cup "
                    "is against the serving spot: a probe trained on the scripted expert's serving frames, scored "
                    "on held-out scenes. Writes PRECISION.md in --out.")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for frames.npz, each probe's errors and PRECISION.md (a rerun resumes)")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS), metavar="SETTING",
                        help=f"camera settings to probe (default: all): {', '.join(SETTINGS)}")
    parser.add_argument("--checkpoints", nargs="+", default=[], metavar="[LABEL=]PATH",
                        help="also probe these trained camera checkpoints' encoders, frozen (an MLP head reads their "
                             "features), on frames rendered at the model size")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds of each probe")
    parser.add_argument("--episodes", type=int, default=200, help="scenes the expert serves (the last 20%% held out)")
    parser.add_argument("--scene-seed", type=int, default=10_000,
                        help="seed of the first scene (scenes are seed, seed + 1, ...)")
    parser.add_argument("--every", type=int, default=2, help="keep every n-th control step of the serving phase")
    parser.add_argument("--near-cm", type=float, default=8.0,
                        help="serving-phase frames: brewed, the cup's centre within this of the spot")
    parser.add_argument("--steps", type=int, default=ProbeConfig.steps, help="training steps of each probe")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    return parser


def main(argv: list[str] | None = None) -> int:
    opts = build_parser().parse_args(argv)
    if (opts.episodes < 5 or opts.every < 1 or opts.near_cm <= 0 or opts.steps < 1
            or len(set(opts.seeds)) != len(opts.seeds)):
        print("camera_precision: --episodes >= 5, --every >= 1, --near-cm > 0, --steps >= 1 and distinct --seeds, "
              "please", file=sys.stderr)
        return 2
    import torch

    from recap_model.checkpoint import CheckpointError

    try:
        settings = [SETTINGS[key] for key in opts.settings] + [checkpoint_setting(c) for c in opts.checkpoints]
    except (CheckpointError, ValueError, OSError) as exc:
        print(f"camera_precision: {exc}", file=sys.stderr)
        return 2
    torch.set_num_threads(opts.threads)
    opts.out.mkdir(parents=True, exist_ok=True)
    frames_path = opts.out / "frames.npz"
    identity = {"episodes": opts.episodes, "scene_seed": opts.scene_seed, "every": opts.every, "near_cm": opts.near_cm}
    identity_path = opts.out / "frames.json"
    if frames_path.is_file() and not identity_path.is_file():
        print(f"camera_precision: {frames_path} has no frames.json beside it (not this tool's, or cut off); "
              "use another --out", file=sys.stderr)
        return 2
    if identity_path.is_file() and json.loads(identity_path.read_text()) != identity:
        print(f"camera_precision: {opts.out} holds frames of {identity_path.read_text().strip()}, not {identity}; "
              "use another --out", file=sys.stderr)
        return 2
    if frames_path.is_file():
        data = dict(np.load(frames_path))
    else:
        data = serving_frames(opts.episodes, opts.scene_seed, opts.every, opts.near_cm / 100.0)
        partial = opts.out / "frames.partial.npz"
        np.savez(partial, **data)
        partial.replace(frames_path)
        write_text_atomic(identity_path, json.dumps(identity) + "\n")
    print(f"{len(data['scene'])} serving frames from {opts.episodes} scenes", flush=True)
    config = ProbeConfig(steps=opts.steps)
    results = []
    for seed in opts.seeds:  # every setting's first seed first: a stopped run still compares them all
        for setting in settings:
            path = opts.out / setting.key / f"seed_{seed}.json"
            done = json.loads(path.read_text()) if path.is_file() else {}
            if done.get("config") == asdict(config) and done.get("setting") == json.loads(json.dumps(asdict(setting))):
                results.append(done)
                continue
            result = train_probe(setting, data, config, seed)
            path.parent.mkdir(exist_ok=True)
            write_text_atomic(path, json.dumps(result, indent=1) + "\n")
            print(f"{setting.name} seed {seed}: median {result['median_cm']:.2f} cm, p90 {result['p90_cm']:.2f} cm "
                  f"({result['train_seconds']:.0f} s)", flush=True)
            results.append(result)
    offsets = data["offset_cm"]
    spread = float(np.median(np.linalg.norm(offsets - offsets.mean(0), axis=1)))
    table = precision_table(results, spread)
    frozen = "".join(f"- {s.name}: `{s.checkpoint}`\n" for s in settings if s.checkpoint)
    frozen = f"Frozen encoders (`--checkpoints`):\n\n{frozen}\n" if frozen else ""
    write_text_atomic(opts.out / "PRECISION.md",
                      f"# Camera precision at the serving spot\n\n`python -m recap_lab.experiments.camera_precision "
                      f"--episodes {opts.episodes} --scene-seed {opts.scene_seed} --every {opts.every} --near-cm "
                      f"{opts.near_cm:g} --steps {opts.steps}`: {len(data['scene'])} frames\n\n{frozen}{table}\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
