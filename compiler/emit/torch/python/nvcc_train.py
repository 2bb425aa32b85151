"""The staged trainer of the torch engine: what runtime/train/runner.ts does, on PyTorch and DDP.

In: the train spec the build wrote (`train_spec.json`: the lowered TrainSpec and DatasetSpec), the
data shards nvcc prepared (nvcc_data.py), the generated model module (`build_model`,
`MODEL_INPUTS`, `MODEL_OUTPUTS`, the mask context of nvcc_layers.py) and a run folder; started
by `python -m <pkg>.train` or `torchrun ... -m <pkg>.train` (RANK / WORLD_SIZE / LOCAL_RANK from
the environment; NCCL on GPUs, gloo on CPUs). Out: the tfjs engine's run folder: `log.jsonl`
(run, stage, step, epoch, stage-end records), `config.json`, `metrics.json`, per stage
`stages/<name>/weights.safetensors` (+ `best.safetensors`, `predictions.csv`) and
`checkpoints/ckpt-<seq>/` with `model.safetensors`, `optimizer.safetensors`, `state.json` and
`torch-rng.safetensors`. Weights and optimizer slots are written in the tfjs layout with the same
keys (nvcc_layout.py), so either engine evaluates or resumes the other's files.
Holds afterwards: data order, augmentation, masks and random throw come from the same named RNG
streams as the tfjs runner (nvcc_rng.py), drawn for the whole global batch on every rank, so N
processes on a batch of N*B take the same step as one process on the whole batch; each
checkpoint holds every stream state and torch's own RNG (dropout), so a run killed at any point
resumes from its newest complete checkpoint to the same weights as an uninterrupted run.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import nvcc_data
import nvcc_layout
import nvcc_optim
import nvcc_rng
import nvcc_safetensors as st

CHECKPOINT_FORMAT = "nvcc-checkpoint"
CHECKPOINT_VERSION = 1


class TrainingError(RuntimeError):
    """A refusal reported as a message (bad spec, no model, nothing to resume)."""


# ----------------------------------------------------------------------------------------------
# Environment: devices, processes, precision


class Env:
    def __init__(self, device: str, bf16: bool, channels_last: bool, compile_model: bool) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise TrainingError("--device cuda: this torch sees no CUDA device (use --device cpu)")
        self.device = torch.device(f"cuda:{self.local_rank}" if device == "cuda" else "cpu")
        if device == "cuda":
            torch.cuda.set_device(self.device)
        self.distributed = self.world > 1
        if self.distributed:
            import torch.distributed as dist

            dist.init_process_group("nccl" if device == "cuda" else "gloo")
        # bf16 autocast: on CUDA when the card supports it; CPU autocast in 1.13 is too partial to use.
        self.bf16 = bf16 and device == "cuda" and torch.cuda.is_bf16_supported()
        self.channels_last = channels_last and device == "cuda"
        self.compile = compile_model and hasattr(torch, "compile")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.distributed:
            torch.distributed.barrier()

    def sum(self, value: float) -> float:
        if not self.distributed:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device if self.device.type == "cuda" else "cpu")
        torch.distributed.all_reduce(t)
        return float(t.item())

    def autocast(self):
        if self.bf16:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def close(self) -> None:
        if self.distributed:
            torch.distributed.destroy_process_group()


# ----------------------------------------------------------------------------------------------
# Model adapter: named inputs in, named outputs out, masks through the layers' context


class ModelAdapter:
    def __init__(self, model_module, name: str) -> None:
        self.module = model_module
        if not hasattr(model_module, "build_model"):
            raise TrainingError(f"{model_module.__name__} has no build_model (is it an nvcc torch build?)")
        self.name = name
        self.inputs: List[str] = list(getattr(model_module, "MODEL_INPUTS", {}).get(name, []))
        self.outputs: List[str] = list(getattr(model_module, "MODEL_OUTPUTS", {}).get(name, []))
        no_decay = getattr(model_module, "MODEL_NO_DECAY", {}).get(name)
        self.no_decay = set(no_decay) if no_decay is not None else None
        # The nvcc_layers module the model's code runs with (the package's own, imported relatively).
        package = model_module.__name__.rsplit(".", 1)[0] if "." in model_module.__name__ else None
        layers = sys.modules.get(f"{package}.nvcc_layers") if package else None
        self.layers = layers or sys.modules.get("nvcc_layers")
        self.mask_context = getattr(model_module, "mask_context", None)
        if self.mask_context is None:
            self.mask_context = getattr(self.layers, "mask_context", None) if self.layers else None

    def random_source(self, rng, rows_total: Optional[int] = None, row_offset: int = 0):
        """A context drawing drop path and dropout from `rng` (nvcc_layers.random_source), or none."""
        if rng is None or self.layers is None or not hasattr(self.layers, "random_source"):
            return contextlib.nullcontext()
        return self.layers.random_source(self.layers.RandomSource(rng, rows_total, row_offset))

    def build(self) -> nn.Module:
        return self.module.build_model(self.name)

    def forward(self, model: nn.Module, inputs: Dict[str, torch.Tensor],
                mask: Optional[torch.Tensor]) -> Dict[str, torch.Tensor]:
        # The stage's inputs (`inputs = [xray, labs]`, in this dict's order) correspond to the forward
        # parameters by position, as in the tfjs build's factories (`forward(x: ...)` takes `xray`).
        args = list(inputs.values())
        if self.inputs and len(args) != len(self.inputs):
            raise TrainingError(f"model '{self.name}' takes {len(self.inputs)} inputs ({', '.join(self.inputs)}); "
                                f"the stage gives {len(args)} ({', '.join(inputs)})")
        if mask is not None:
            if self.mask_context is None:
                raise TrainingError(f"model '{self.name}': a masked stage needs nvcc_layers.mask_context")
            # nvcc_layers takes the patch-grid mask as [N, gh, gw] (1 = removed).
            with self.mask_context(mask[:, 0]):
                out = model(*args)
        else:
            out = model(*args)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        names_out = self.outputs if len(self.outputs) == len(outs) else [f"out{i}" for i in range(len(outs))]
        result = dict(zip(names_out, outs))
        result["__first__"] = outs[0]
        return result


# ----------------------------------------------------------------------------------------------
# Losses (runtime/ops/loss.ts) and masks (runtime/ops/mask.ts)


def kept_count(num_patches: int, ratio: float) -> int:
    exact = num_patches * (1 - ratio)
    nearest = round(exact)
    if abs(exact - nearest) <= 1e-9 * max(1, num_patches):
        return int(nearest)
    return math.floor(exact)


def draw_mask(n: int, gh: int, gw: int, ratio: float, rng: nvcc_rng.Rng) -> torch.Tensor:
    """[n, 1, gh, gw], 1 = removed: per sample L normals, the kept_count smallest (ties: lower index) stay."""
    num = gh * gw
    keep = kept_count(num, ratio)
    out = np.ones((n, num), dtype=np.float32)
    for i in range(n):
        noise = [rng.normal() for _ in range(num)]
        order = sorted(range(num), key=lambda l: (noise[l], l))
        out[i, order[:keep]] = 0
    return torch.from_numpy(out).reshape(n, 1, gh, gw)


def patchify(images: torch.Tensor, p: int) -> torch.Tensor:
    """NCHW -> [N, L, p*p*C], patch elements (row, col, channel), channel fastest."""
    n, c, h, w = images.shape
    x = images.reshape(n, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(n, (h // p) * (w // p), p * p * c)


def masked_mse(stage: dict, out: Dict[str, torch.Tensor], inputs: Dict[str, torch.Tensor],
               mask: torch.Tensor) -> torch.Tensor:
    if "loss" in out and out["loss"].dim() == 0:
        return out["loss"]
    pred = out.get("pred", out["__first__"]).float()
    if pred.dim() == 4:  # NCHW decoder output [N, D, gh, gw]
        pred = pred.permute(0, 2, 3, 1).reshape(pred.shape[0], -1, pred.shape[1])
    loss_spec = stage["loss"]
    target = patchify(inputs[loss_spec["input"]].float(), stage["mask"]["patch"])
    if loss_spec["target"] == "patch_normalized":
        mean = target.mean(-1, keepdim=True)
        var = target.var(-1, unbiased=True, keepdim=True)
        target = (target - mean) / torch.sqrt(var + 1e-6)
    m = mask.reshape(mask.shape[0], -1).to(pred.dtype)
    per_patch = ((pred - target) ** 2).mean(-1)
    return (per_patch * m).sum() / torch.clamp(m.sum(), min=1)


def logits_of(out: Dict[str, torch.Tensor]) -> torch.Tensor:
    return out.get("logits", out["__first__"]).float()


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, smoothing: float) -> torch.Tensor:
    k = logits.shape[1]
    target = F.one_hot(labels, k).to(logits.dtype) * (1 - smoothing) + smoothing / k
    return -(target * F.log_softmax(logits, dim=1)).sum(1).mean()


def draw_throw(n: int, p: float, choices: int, rng: nvcc_rng.Rng) -> List[int]:
    """runtime/train/modality-dropout.ts: per sample one uniform and one choice; -1 = kept."""
    thrown = [-1] * n
    if p <= 0 or choices == 0:
        return thrown
    for i in range(n):
        u = rng.uniform()
        k = rng.int(0, choices)
        if u < p:
            thrown[i] = k
    return thrown


# ----------------------------------------------------------------------------------------------
# Metrics (runtime/metrics: pooling, AUC with ties 1/2, Youden threshold on validation)


def pool_by_patient(ids: Sequence[str], labels: Sequence[int], probs: Sequence[float], method: str):
    groups: Dict[str, Tuple[int, List[float]]] = {}
    for i, pid in enumerate(ids):
        if pid not in groups:
            groups[pid] = (labels[i], [])
        groups[pid][1].append(probs[i])
    out_ids, out_labels, out_scores, counts = [], [], [], []
    for pid, (label, values) in groups.items():
        out_ids.append(pid)
        out_labels.append(label)
        out_scores.append(max(values) if method == "max" else sum(values) / len(values))
        counts.append(len(values))
    return out_ids, out_labels, out_scores, counts


def roc_points(labels: Sequence[int], scores: Sequence[float]):
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    pos_total = sum(1 for l in labels if l == 1)
    neg_total = len(labels) - pos_total
    groups: List[List[float]] = []
    for i in order:
        if not groups or groups[-1][0] != scores[i]:
            groups.append([scores[i], 0, 0])
        groups[-1][1 if labels[i] == 1 else 2] += 1
    return groups, pos_total, neg_total


def roc_auc(labels, scores) -> float:
    groups, p_total, n_total = roc_points(labels, scores)
    if p_total == 0 or n_total == 0:
        return float("nan")
    below, num = 0.0, 0.0
    for _, p, q in reversed(groups):
        num += p * below + 0.5 * p * q
        below += q
    return num / (p_total * n_total)


def youden_threshold(labels, scores) -> Optional[float]:
    groups, p_total, n_total = roc_points(labels, scores)
    if p_total == 0 or n_total == 0:
        return None
    tp = fp = 0
    best, best_j = None, -math.inf
    for s, p, q in groups:
        tp += p
        fp += q
        j = tp / p_total - fp / n_total
        if best is None or j > best_j:
            best, best_j = s, j
    return best


def rates(labels, scores, threshold: float) -> Dict[str, float]:
    tp = sum(1 for l, s in zip(labels, scores) if s >= threshold and l == 1)
    tn = sum(1 for l, s in zip(labels, scores) if s < threshold and l != 1)
    fp = sum(1 for l, s in zip(labels, scores) if s >= threshold and l != 1)
    fn = sum(1 for l, s in zip(labels, scores) if s < threshold and l == 1)
    r = lambda a, b: a / b if b else float("nan")  # noqa: E731
    return {"accuracy": r(tp + tn, tp + tn + fp + fn), "sensitivity": r(tp, tp + fn), "specificity": r(tn, tn + fp)}


def csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n\r') else text


def json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


# ----------------------------------------------------------------------------------------------
# Run folder


class RunLog:
    def __init__(self, path: str, truncate_to: Optional[int] = None) -> None:
        self.path = path
        if truncate_to is not None and os.path.exists(path) and os.path.getsize(path) > truncate_to:
            with open(path, "r+b") as f:
                f.truncate(truncate_to)
        self.f = open(path, "ab")

    def log(self, record: dict) -> None:
        self.f.write((json.dumps(json_safe(record), separators=(",", ":")) + "\n").encode("utf-8"))
        self.f.flush()

    def sync(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())

    def size(self) -> int:
        self.f.flush()
        return os.path.getsize(self.path)

    def close(self) -> None:
        self.f.close()


def write_text_atomic(path: str, text: str) -> None:
    st.write_atomic(path, text.encode("utf-8"))


def checkpoint_name(seq: int) -> str:
    return f"ckpt-{seq:06d}"


def list_checkpoints(run_dir: str) -> List[Tuple[int, str]]:
    root = os.path.join(run_dir, "checkpoints")
    if not os.path.isdir(root):
        return []
    out = []
    for entry in os.listdir(root):
        if entry.startswith("ckpt-") and entry[5:].isdigit() and len(entry) >= 11:
            out.append((int(entry[5:]), os.path.join(root, entry)))
    return sorted(out)


def write_checkpoint(run_dir: str, seq: int, files: Dict[str, bytes], keep: int) -> str:
    """Same atomic folder protocol as runtime/train/checkpoint.ts: temporary folder, state last, rename."""
    root = os.path.join(run_dir, "checkpoints")
    os.makedirs(root, exist_ok=True)
    for entry in os.listdir(root):
        if entry.startswith(".ckpt-") or entry.startswith(".trash-"):
            shutil.rmtree(os.path.join(root, entry), ignore_errors=True)
    name = checkpoint_name(seq)
    final = os.path.join(root, name)
    tmp = os.path.join(root, f".{name}.tmp-{os.getpid()}")
    os.makedirs(tmp)
    for file, data in files.items():
        if file != "state.json":
            with open(os.path.join(tmp, file), "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
    with open(os.path.join(tmp, "state.json"), "wb") as f:
        f.write(files["state.json"])
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, final)
    for old_seq, path in list_checkpoints(run_dir)[:-keep]:
        trash = os.path.join(root, f".trash-{checkpoint_name(old_seq)}-{os.getpid()}")
        os.rename(path, trash)
        shutil.rmtree(trash, ignore_errors=True)
    return final


def steps_per_epoch(size: int, batch: int) -> int:
    if size == 0:
        return 0
    return size // batch if size >= batch else 1


# ----------------------------------------------------------------------------------------------
# The trainer


class Trainer:
    def __init__(self, args: argparse.Namespace, model_module) -> None:
        self.args = args
        with open(args.spec, "r", encoding="utf-8") as f:
            spec_file = json.load(f)
        self.spec: dict = spec_file["train"]
        self.dataset_spec: dict = spec_file["dataset"]
        self.seed = args.seed if args.seed is not None else self.spec["seed"]
        self.config = {"spec": self.spec, "dataset": self.dataset_spec, "seed": self.seed}
        self.model_module = model_module
        self.env = Env(args.device, args.bf16, args.channels_last, args.compile)
        self.data = nvcc_data.ShardData(args.data)
        self.run_dir = args.run
        self.seq = 0
        self.finished: List[dict] = []
        self.elapsed_before = 0.0
        self.started = time.time()
        self.steps_this_process = 0
        self.init_files: Dict[str, str] = {}
        for item in args.init or []:
            stage_name, sep, file = item.partition("=")
            if not sep or not file:
                raise TrainingError(f"--init {item}: expected STAGE=FILE")
            if stage_name not in [s["name"] for s in self.spec["stages"]]:
                raise TrainingError(f"--init {item}: the train declaration has no stage '{stage_name}'")
            self.init_files[stage_name] = os.path.abspath(file)
        if self.init_files:
            self.config["init"] = dict(self.init_files)

    def elapsed(self) -> float:
        return self.elapsed_before + time.time() - self.started

    # -- checks
    def check_spec(self) -> None:
        problems = []
        for s in self.spec["stages"]:
            where = f"stage '{s['name']}'"
            if s["batchSize"] < self.env.world:
                problems.append(f"{where}: batch {s['batchSize']} is smaller than the {self.env.world} processes")
            if s["kind"] == "masked" and s["loss"]["kind"] != "masked_mse":
                problems.append(f"{where}: a masked stage needs masked_mse")
            names = getattr(self.model_module, "MODEL_INPUTS", None)
            if names is not None and s["model"]["factory"] not in names:
                problems.append(f"{where}: the build has no model '{s['model']['factory']}' (has {sorted(names)})")
        if problems:
            raise TrainingError(f"cannot train {self.spec['name']}:\n  " + "\n  ".join(problems))

    # -- main loop
    def run(self) -> str:
        self.check_spec()
        resume_state = None
        resume_path = None
        log_path = os.path.join(self.run_dir, "log.jsonl")
        if self.args.resume:
            latest = list_checkpoints(self.run_dir)
            if not latest:
                raise TrainingError(f"cannot resume: {self.run_dir} has no complete checkpoint")
            resume_path = latest[-1][1]
            with open(os.path.join(resume_path, "state.json"), "r", encoding="utf-8") as f:
                resume_state = json.load(f)
            stored_init = resume_state["config"].get("init")
            if stored_init and not self.init_files:
                self.init_files = dict(stored_init)
                self.config["init"] = dict(stored_init)
            if json.dumps(resume_state["config"], sort_keys=True) != json.dumps(self.config, sort_keys=True):
                raise TrainingError(
                    f"cannot resume {self.run_dir}: the configuration differs from the one the run started with")
            self.seq = resume_state["seq"]
            self.elapsed_before = resume_state["elapsed"]
            self.finished = list(resume_state["finished"])
            self.log = RunLog(log_path, resume_state["logBytes"]) if self.env.main else None
            self.main_log({"type": "resume", "checkpoint": resume_path, "stage": resume_state["stage"],
                           "epoch": resume_state["epoch"] + 1, "step": resume_state["step"],
                           "elapsed": resume_state["elapsed"], "engine": "torch"})
        else:
            if self.env.main:
                os.makedirs(self.run_dir, exist_ok=True)
                if list_checkpoints(self.run_dir):
                    raise TrainingError(
                        f"{self.run_dir} already holds a run; resume it (--resume) or choose another folder")
                write_text_atomic(os.path.join(self.run_dir, "config.json"), json.dumps(self.config, indent=2) + "\n")
                write_text_atomic(os.path.join(self.run_dir, "data-stats.json"),
                                  json.dumps(self.data.manifest["stats"], indent=2) + "\n")
            self.env.barrier()
            self.log = RunLog(log_path) if self.env.main else None
            self.main_log({"type": "run", "name": self.spec["name"], "dataset": self.spec["dataset"], "seed": self.seed,
                           "stages": [s["name"] for s in self.spec["stages"]], "engine": "torch",
                           "torch": torch.__version__, "device": str(self.env.device), "processes": self.env.world,
                           "bf16": self.env.bf16, "channelsLast": self.env.channels_last, "compile": self.env.compile})
        first = resume_state["stageIndex"] if resume_state else 0
        stages = self.spec["stages"]
        for i in range(first, len(stages)):
            resumes_here = i == first and resume_state is not None and resume_state["hasModel"]
            from_ckpt = (resume_state, resume_path) if resumes_here else None
            self.run_stage(i, from_ckpt)
        if first < len(stages):
            done = nvcc_rng.fresh_streams(nvcc_rng.create_rng(self.seed).fork("done"))
            self.checkpoint({"stageIndex": len(stages), "stage": "", "epoch": 0, "step": 0, "stageStep": 0,
                             "order": None, "epochLoss": {"sum": 0, "count": 0},
                             "rng": {k: r.state() for k, r in done.items()}, "best": None, "hasModel": False})
        if self.env.main:
            summary = {"name": self.spec["name"], "seed": self.seed, "elapsed": self.elapsed(), "engine": "torch",
                       "stages": self.finished}
            write_text_atomic(os.path.join(self.run_dir, "metrics.json"),
                              json.dumps(json_safe(summary), indent=2) + "\n")
            self.log.close()
        self.env.barrier()
        return self.run_dir

    def say(self, text: str) -> None:
        if self.env.main and not self.args.quiet:
            print(text, flush=True)

    def main_log(self, record: dict) -> None:
        if self.log is not None:
            self.log.log(record)

    def stage_path(self, stage: str, file: str) -> str:
        folder = os.path.join(self.run_dir, "stages", stage)
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, file)

    # -- one stage
    def run_stage(self, index: int, resume_from) -> None:
        stage = self.spec["stages"][index]
        env = self.env
        train_size = self.data.size("train")
        steps = steps_per_epoch(train_size, stage["batchSize"])
        if steps == 0:
            raise TrainingError(f"stage '{stage['name']}': the train split is empty")
        schedule = nvcc_optim.stage_schedule(stage, steps)
        root = nvcc_rng.stage_root(self.seed, stage)
        streams = ({k: nvcc_rng.restore_rng(v) for k, v in resume_from[0]["rng"].items()}
                   if resume_from else nvcc_rng.fresh_streams(root))
        adapter = ModelAdapter(self.model_module, stage["model"]["factory"])
        # The model is built from the same init seed whether or not a checkpoint then replaces its weights.
        torch.manual_seed(root.fork("init").next_uint32())
        model = adapter.build().to(env.device)
        if env.channels_last:
            model = model.to(memory_format=torch.channels_last)
        kinds = nvcc_layout.layout_kinds(model)
        epoch = step = stage_step = 0
        order: Optional[List[int]] = None
        loss_sum, loss_count = 0.0, 0
        thrown_tally: Dict[str, int] = {}
        best = None
        handover = None
        if resume_from:
            state, path = resume_from
            tensors, _ = st.load(os.path.join(path, "model.safetensors"))
            nvcc_layout.load_tfjs_state(model, tensors, os.path.join(path, "model.safetensors"))
            epoch, step, stage_step = state["epoch"], state["step"], state["stageStep"]
            order = list(state["order"]) if state["order"] is not None else None
            loss_sum, loss_count = state["epochLoss"]["sum"], state["epochLoss"]["count"]
            thrown_tally = dict(state["epochLoss"].get("thrown") or {})
            best = state["best"]
        else:
            init_file = self.init_files.get(stage["name"])
            if init_file:
                # Weights to start from (tfjs layout, same keys), before the hand-over as in the tfjs runner,
                # where the fresh model's initial values are replaced by the handed-over ones.
                # nvcc's converted official checkpoints (`nvcc train --init`) hold only the parameters the
                # checkpoint gives; the others keep their initial values. Any other file must fit exactly.
                tensors, init_meta = st.load(init_file)
                partial = (init_meta or {}).get("format") == "nvcc-init"
                nvcc_layout.load_tfjs_state(model, tensors, init_file, strict=not partial)
            if stage["handover"]:
                handover = self.hand_over(model, stage)
        frozen = self.freeze(model, stage)
        params = self.decay_table(model, stage, kinds, adapter.no_decay)
        optimizer = nvcc_optim.build_optimizer(stage, params)
        if resume_from:
            opt_path = os.path.join(resume_from[1], "optimizer.safetensors")
            slots, meta = st.load(opt_path)
            shapes = {k: p.shape for k, p in model.named_parameters()}
            optimizer.load_state(slots, meta, lambda key, t: nvcc_layout.to_torch(kinds[key], t, shapes[key]))
            rng_file = os.path.join(resume_from[1], "torch-rng.safetensors")
            if os.path.exists(rng_file):
                rng_state, _ = st.load(rng_file)
                torch.set_rng_state(rng_state["cpu"])
                if "cuda" in rng_state and env.device.type == "cuda":
                    torch.cuda.set_rng_state(rng_state["cuda"], env.device)
        elif not self.port_draws(stage):
            torch.manual_seed(streams["dropout"].next_uint32())
        if not resume_from:
            self.main_log({"type": "stage", "stage": stage["name"], "kind": stage["kind"],
                           "model": stage["model"]["className"],
                           "parameters": sum(p.numel() for p in model.parameters()), "frozen": frozen,
                           "groups": optimizer.groups(), "stepsPerEpoch": steps,
                           **({"init": self.init_files[stage["name"]]} if stage["name"] in self.init_files else {}),
                           **({"handover": handover} if handover else {})})
        train_model: nn.Module = model
        if env.compile:
            train_model = torch.compile(train_model)  # type: ignore[attr-defined]
        if env.distributed:
            from torch.nn.parallel import DistributedDataParallel

            train_model = DistributedDataParallel(
                train_model, device_ids=[env.device.index] if env.device.type == "cuda" else None,
                find_unused_parameters=self.args.find_unused)
        every = self.spec.get("checkpointEverySteps")

        def snapshot() -> str:
            return self.checkpoint({"stageIndex": index, "stage": stage["name"], "epoch": epoch, "step": step,
                                    "stageStep": stage_step, "order": order,
                                    "epochLoss": {"sum": loss_sum, "count": loss_count, "thrown": thrown_tally},
                                    "rng": {k: r.state() for k, r in streams.items()}, "best": best,
                                    "hasModel": True}, model, optimizer, kinds)

        augment = stage.get("augment") or None
        while epoch < stage["epochs"]:
            if order is None:
                order = nvcc_rng.permutation(streams["data"], train_size)
                loss_sum, loss_count, thrown_tally = 0.0, 0, {}
            while step < steps:
                lr = schedule.at(stage_step)
                indices = order[step * stage["batchSize"]: (step + 1) * stage["batchSize"]]
                loss, thrown = self.train_step(stage, adapter, train_model, model, optimizer, indices, streams,
                                               augment, lr)
                if not math.isfinite(loss):
                    raise TrainingError(f"stage '{stage['name']}', epoch {epoch + 1}, step {step + 1}: the loss is "
                                        f"{loss}; lower the learning rate (now {lr}) or check the data")
                for k, v in thrown.items():
                    thrown_tally[k] = thrown_tally.get(k, 0) + v
                step += 1
                stage_step += 1
                loss_sum += loss
                loss_count += 1
                self.main_log({"type": "step", "stage": stage["name"], "epoch": epoch + 1, "step": step,
                               "globalStep": stage_step, "loss": loss, "lr": lr, "elapsed": self.elapsed()})
                self.steps_this_process += 1
                if step % max(1, steps // 10) == 0 or step == steps:
                    self.say(f"{stage['name']}: epoch {epoch + 1}/{stage['epochs']} step {step}/{steps} "
                             f"loss {loss:.4g} lr {lr:.3g}")
                if every and stage_step % every == 0 and step < steps:
                    snapshot()
                if self.args.exit_after_steps and self.steps_this_process >= self.args.exit_after_steps:
                    # Test hook: die like a killed process (no cleanup, no checkpoint).
                    os._exit(137)
            metrics = self.validation_metrics(stage, adapter, model)
            train_loss = loss_sum / loss_count
            epoch += 1
            step = 0
            order = None
            if stage.get("keepBest"):
                key = stage["keepBest"]["metric"][len("val."):]
                value = metrics.get(key)
                if value is None:
                    raise TrainingError(f"stage '{stage['name']}': keep_best = {stage['keepBest']['metric']}, but that "
                                        "metric is not computed (add it to metrics)")
                maximise = stage["keepBest"]["mode"] == "max"
                better = math.isfinite(value) and (
                    best is None or (value > best["value"] if maximise else value < best["value"]))
                if better:
                    best = {"metric": stage["keepBest"]["metric"], "mode": stage["keepBest"]["mode"], "value": value,
                            "epoch": epoch}
                    if env.main:
                        st.save(self.stage_path(stage["name"], f"best-epoch-{epoch}.safetensors"),
                                nvcc_layout.state_to_tfjs(model), {"stage": stage["name"], "epoch": str(epoch),
                                                                   stage["keepBest"]["metric"]: str(value)})
            record = {"type": "epoch", "stage": stage["name"], "epoch": epoch, "trainLoss": train_loss,
                      "lr": schedule.at(max(0, stage_step - 1)), "metrics": metrics, "elapsed": self.elapsed()}
            if best:
                record["best"] = best
            if stage.get("modalityDropout") and stage["modalityDropout"]["p"] > 0:
                record["randomThrow"] = thrown_tally
            self.main_log(record)
            self.say(f"{stage['name']}: epoch {epoch}/{stage['epochs']} train loss {train_loss:.4g}"
                     + "".join(f" val {k} {v:.4g}" for k, v in metrics.items() if isinstance(v, float))
                     + (f" (best {best['metric']} {best['value']:.4g} at epoch {best['epoch']})" if best else ""))
            if self.log:
                self.log.sync()
            snapshot()

        if best:
            best_path = self.stage_path(stage["name"], f"best-epoch-{best['epoch']}.safetensors")
            env.barrier()
            tensors, _ = st.load(best_path)
            nvcc_layout.load_tfjs_state(model, tensors, best_path)
            if env.main:
                st.save(self.stage_path(stage["name"], "best.safetensors"), nvcc_layout.state_to_tfjs(model),
                        {"stage": stage["name"], "epoch": str(best["epoch"]), best["metric"]: str(best["value"])})
                folder = os.path.join(self.run_dir, "stages", stage["name"])
                for f in os.listdir(folder):
                    if f.startswith("best-epoch-"):
                        os.remove(os.path.join(folder, f))
        weights = os.path.join("stages", stage["name"], "weights.safetensors")
        evaluation = None
        if env.main:
            meta = {"stage": stage["name"], "engine": "torch"}
            if best:
                meta["kept_best"] = f"{best['metric']}={best['value']} at epoch {best['epoch']}"
            st.save(os.path.join(self.run_dir, weights), nvcc_layout.state_to_tfjs(model), meta)
            evaluation = self.final_evaluation(stage, adapter, model)
        env.barrier()
        result = {"name": stage["name"], "kind": stage["kind"], "epochs": stage["epochs"], "weights": weights,
                  **({"best": best} if best else {}), "evaluation": evaluation}
        self.finished.append(result)
        self.main_log({"type": "stage-end", "stage": stage["name"], "weights": weights,
                       **({"best": best} if best else {}), "evaluation": evaluation})
        nxt = self.spec["stages"][index + 1] if index + 1 < len(self.spec["stages"]) else None
        if nxt:
            ns = nvcc_rng.fresh_streams(nvcc_rng.stage_root(self.seed, nxt))
            self.checkpoint({"stageIndex": index + 1, "stage": nxt["name"], "epoch": 0, "step": 0, "stageStep": 0,
                             "order": None, "epochLoss": {"sum": 0, "count": 0},
                             "rng": {k: r.state() for k, r in ns.items()}, "best": None, "hasModel": False})

    # -- pieces of a stage
    def decay_table(self, model: nn.Module, stage: dict, kinds: Dict[str, str], flagged_paths: Optional[set]):
        """(path, parameter, no decay) per parameter. `flagged` is the build's MODEL_NO_DECAY (what the
        .nvc layers flag noDecay, as tfjs Parameter.noDecay); without it: biases, norms, GRN."""
        decide = nvcc_optim.no_decay_rule(stage["optimizer"]["noDecay"])
        owners = {}
        for prefix, module in model.named_modules():
            for leaf, _ in module.named_parameters(recurse=False):
                owners[f"{prefix}.{leaf}" if prefix else leaf] = (module, leaf)
        table = []
        for path, p in model.named_parameters():
            module, leaf = owners[path]
            flagged = (path in flagged_paths) if flagged_paths is not None else None
            if flagged is None:
                cls = type(module).__name__
                flagged = leaf == "bias" or ("LayerNorm" in cls or isinstance(module, nn.LayerNorm)) or (
                    "GRN" in cls and leaf in ("gamma", "beta"))
            rank = len(nvcc_layout.tfjs_shape(kinds[path], p.shape))
            table.append((path, p, decide(path, bool(flagged), rank)))
        return table

    def freeze(self, model: nn.Module, stage: dict) -> List[str]:
        frozen = []
        for prefix in stage.get("freeze") or []:
            hits = [(k, p) for k, p in model.named_parameters() if k == prefix or k.startswith(prefix + ".")]
            if not hits:
                raise TrainingError(
                    f"stage '{stage['name']}': freeze = {prefix}, but the model has no parameters there")
            for k, p in hits:
                p.requires_grad_(False)
                frozen.append(k)
        return frozen

    def hand_over(self, model: nn.Module, stage: dict) -> List[dict]:
        kinds = nvcc_layout.layout_kinds(model)
        params = nvcc_layout.state_tensors(model)  # buffers (running statistics) move with the weights
        loaded = []
        problems = []
        for h in stage["handover"]:
            done = next((r for r in self.finished if r["name"] == h["from"]), None)
            if done is None:
                raise TrainingError(
                    f"stage '{stage['name']}': stage '{h['from']}' has not finished, so it has no weights")
            source, _ = st.load(os.path.join(self.run_dir, done["weights"]))
            for m in h["modules"]:
                src = m["source"] + "." if m["source"] else ""
                dst = m["target"] + "." if m["target"] else ""
                targets = [k for k in params if k.startswith(dst)]
                for k in targets:
                    key = src + k[len(dst):]
                    if key not in source:
                        problems.append(f"{h['from']}.{key} (for {k}) is missing")
                        continue
                    try:
                        t = nvcc_layout.to_torch(kinds[k], source[key], params[k].shape)
                    except ValueError as e:
                        problems.append(f"{k}: {e}")
                        continue
                    with torch.no_grad():
                        params[k].copy_(t.to(params[k].dtype))
                    loaded.append({"source": f"{h['from']}.{key}", "target": k, "shape": list(source[key].shape)})
        if problems:
            raise TrainingError(f"stage '{stage['name']}': hand-over failed:\n  " + "\n  ".join(problems))
        return loaded

    def prepare_inputs(self, stage: dict, batch: nvcc_data.Batch) -> Dict[str, torch.Tensor]:
        missing = [n for n in stage["inputs"] if n not in batch.inputs]
        if missing:
            raise TrainingError(f"the data has no input {missing} (it has: {sorted(batch.inputs)})")
        return {n: batch.inputs[n] for n in stage["inputs"]}

    def to_device(self, t: torch.Tensor) -> torch.Tensor:
        t = t.to(self.env.device, non_blocking=True)
        if self.env.channels_last and t.dim() == 4:
            t = t.contiguous(memory_format=torch.channels_last)
        return t

    def port_draws(self, stage: dict) -> bool:
        """Whether drop path and dropout draw from the RNG port (the tfjs engine's draws, the default):
        not with `--dropout-rng native`, and not when several processes also split micro-batches, whose
        rows no longer follow the tfjs runner's micro-batches (torch's generator is used then)."""
        if self.args.dropout_rng != "port":
            return False
        return self.env.world == 1 or not stage.get("microBatch")

    def train_step(self, stage, adapter, train_model, model, optimizer, indices, streams, augment, lr):
        env = self.env
        n = len(indices)
        lo, hi = env.rank * n // env.world, (env.rank + 1) * n // env.world
        # Every rank draws for the whole global batch (identical streams everywhere) and keeps its rows.
        batch = self.data.load("train", indices, augment, streams["augment"], keep=range(lo, hi))
        inputs = self.prepare_inputs(stage, batch)
        thrown_counts: Dict[str, int] = {}
        throw = stage.get("modalityDropout")
        if throw and throw["p"] > 0:
            names = list(throw["modalities"]) or list(stage["inputs"])
            thrown = draw_throw(n, throw["p"], len(names), streams["modality_dropout"])
            thrown_counts["samples"] = sum(1 for t in thrown if t >= 0)
            for k, name in enumerate(names):
                thrown_counts[name] = sum(1 for t in thrown if t == k)
                rows = [i - lo for i in range(lo, hi) if thrown[i] == k]
                if rows:
                    x = inputs[name].clone()
                    x[rows] = throw["fill"]
                    inputs[name] = x
        mask = None
        if stage.get("mask"):
            image = stage["mask"].get("input") or (stage["loss"]["input"] if stage["loss"]["kind"] == "masked_mse"
                                                    else stage["inputs"][0])
            _, _, h, w = inputs[image].shape
            p = stage["mask"]["patch"]
            if h % p or w % p:
                raise TrainingError(f"image {h}x{w} is not divisible by patch size {p}")
            mask = draw_mask(n, h // p, w // p, stage["mask"]["ratio"], streams["mask"])
        labels = batch.labels
        # Shares of the global loss's denominator: samples, or removed patches for masked MSE.
        if stage["loss"]["kind"] == "masked_mse":
            per_row = mask.reshape(n, -1).sum(1).double()
        else:
            per_row = torch.ones(n, dtype=torch.float64)
        total = float(per_row.sum())
        local_inputs = {k: self.to_device(v) for k, v in inputs.items()}
        local_mask = self.to_device(mask[lo:hi]) if mask is not None else None
        local_labels = labels.to(env.device) if labels is not None else None
        local_n = hi - lo
        chunk = stage.get("microBatch") or local_n
        chunk = min(chunk, local_n)
        train_model.train()
        optimizer_params = [p for p in model.parameters() if p.requires_grad]
        for p in optimizer_params:
            p.grad = None
        loss_value = 0.0
        starts = list(range(0, local_n, chunk))
        for ci, start in enumerate(starts):
            size = min(chunk, local_n - start)
            share = float(per_row[lo + start: lo + start + size].sum()) / total if total > 0 else 0.0
            part = {k: v[start:start + size] for k, v in local_inputs.items()}
            part_mask = local_mask[start:start + size] if local_mask is not None else None
            sync = ci == len(starts) - 1
            ctx = train_model.no_sync() if (env.distributed and not sync) else contextlib.nullcontext()
            # The tfjs runner draws per forward pass for all its rows: one process, the micro-batch;
            # several without micro-batches, the global batch, of which this process keeps its rows.
            port = streams["dropout"] if self.port_draws(stage) else None
            draws = (adapter.random_source(port) if env.world == 1
                     else adapter.random_source(port, rows_total=n, row_offset=lo))
            with ctx, draws:
                with env.autocast():
                    out = adapter.forward(train_model, part, part_mask)
                if stage["loss"]["kind"] == "masked_mse":
                    loss = masked_mse(stage, out, part, part_mask)
                else:
                    if local_labels is None:
                        raise TrainingError(f"stage '{stage['name']}': cross_entropy needs labels")
                    loss = cross_entropy(logits_of(out), local_labels[start:start + size],
                                         stage["loss"].get("labelSmoothing", 0.0))
                # DDP averages gradients over the processes; the factor world undoes that, so the
                # summed contributions are the whole batch's mean loss.
                (loss * (share * env.world)).backward()
            loss_value += float(loss.detach()) * share
        optimizer.step(lr)
        return env.sum(loss_value), thrown_counts

    # -- evaluation (main process)
    @torch.no_grad()
    def score_split(self, stage, adapter, model, split: str, label: str):
        mask_rng = nvcc_rng.stage_root(self.seed, stage).fork(f"eval-mask:{label}")
        model.eval()
        size = self.data.size(split)
        loss_sum, n = 0.0, 0
        ids: List[str] = []
        labels: List[int] = []
        probs: List[float] = []
        for start in range(0, size, stage["batchSize"]):
            indices = list(range(start, min(size, start + stage["batchSize"])))
            batch = self.data.load(split, indices)
            inputs = {k: self.to_device(v) for k, v in self.prepare_inputs(stage, batch).items()}
            mask = None
            if stage.get("mask"):
                image = stage["mask"].get("input") or stage["loss"]["input"]
                _, _, h, w = inputs[image].shape
                p = stage["mask"]["patch"]
                mask = self.to_device(draw_mask(len(indices), h // p, w // p, stage["mask"]["ratio"], mask_rng))
            with self.env.autocast():
                out = adapter.forward(model, inputs, mask)
            if stage["kind"] == "masked":
                loss = float(masked_mse(stage, out, inputs, mask))
            else:
                logits = logits_of(out)
                loss = float("nan")
                if batch.labels is not None:
                    loss = float(cross_entropy(logits, batch.labels.to(logits.device), 0.0))
                probs.extend(torch.softmax(logits, 1)[:, 1].cpu().tolist())
                ids.extend(batch.patient_ids)
                labels.extend(batch.labels.tolist() if batch.labels is not None else [0] * len(indices))
            loss_sum += loss * len(indices)
            n += len(indices)
        return (loss_sum / n if n else float("nan")), ids, labels, probs

    def pooling(self, stage: dict) -> str:
        return stage.get("pooling") or self.spec.get("pooling") or self.dataset_spec.get("pool", "mean")

    def validation_metrics(self, stage, adapter, model) -> Dict[str, float]:
        metrics: Dict[str, float] = {}
        if self.env.main and self.data.size("val") > 0:
            loss, ids, labels, probs = self.score_split(stage, adapter, model, "val", "val")
            if stage["kind"] == "masked":
                metrics = {"loss": loss}
            else:
                _, pl, ps, _ = pool_by_patient(ids, labels, probs, self.pooling(stage))
                threshold = youden_threshold(pl, ps)
                threshold = 0.5 if threshold is None else threshold
                every = {"loss": loss, "auc": roc_auc(pl, ps), **rates(pl, ps, threshold), "threshold": threshold}
                wanted = {"loss", "threshold", *stage["metrics"]}
                metrics = {k: v for k, v in every.items() if k in wanted}
        if self.env.distributed:
            box = [metrics]
            torch.distributed.broadcast_object_list(box, src=0)
            metrics = box[0]
        return metrics

    def patient_scores(self, stage, adapter, model, splits: Sequence[str]):
        """predictions.csv's text (pooled scores per patient), and per split the pooled labels and
        scores and the mean loss."""
        rows = ["split,patient_id,label,images,score"]
        scored = {}
        losses = {}
        for s in splits:
            loss, ids, labels, probs = self.score_split(stage, adapter, model, s, s)
            pid, pl, ps, counts = pool_by_patient(ids, labels, probs, self.pooling(stage))
            scored[s] = (pl, ps)
            losses[s] = loss
            for i, p in enumerate(pid):
                label = self.data.classes[pl[i]] if 0 <= pl[i] < len(self.data.classes) else str(pl[i])
                rows.append(",".join([s, csv_cell(p), csv_cell(label), str(counts[i]), repr(float(ps[i]))]))
        return "\n".join(rows) + "\n", scored, losses

    def score_weights(self, item: str, out: str) -> None:
        """`--score STAGE=FILE --scores-out CSV`: the validation and test patients scored by a supervised
        stage's model with the given weights (tfjs layout and keys: a run's weights of either engine),
        written as predictions.csv is; nothing is trained and the run folder is not touched."""
        stage_name, sep, file = item.partition("=")
        stage = next((s for s in self.spec["stages"] if s["name"] == stage_name), None)
        if not sep or not file or stage is None:
            raise TrainingError(f"--score {item}: expected STAGE=FILE with a stage of {self.spec['name']}")
        if stage["kind"] != "supervised":
            raise TrainingError(f"--score {item}: stage '{stage_name}' is not supervised, it has no scores")
        adapter = ModelAdapter(self.model_module, stage["model"]["factory"])
        model = adapter.build().to(self.env.device)
        tensors, _ = st.load(file)
        nvcc_layout.load_tfjs_state(model, tensors, file)
        splits = [s for s in ("val", "test") if self.data.size(s) > 0]
        rows, _, _ = self.patient_scores(stage, adapter, model, splits)
        if self.env.main:
            write_text_atomic(out, rows)

    def final_evaluation(self, stage, adapter, model) -> dict:
        """Losses per split; supervised stages also pooled scores in predictions.csv and the
        validation-chosen threshold with test rates (bootstrap CIs: `nvcc report` on the run)."""
        splits = [s for s in ("val", "test") if self.data.size(s) > 0]
        if stage["kind"] == "masked":
            return {"kind": "masked", "loss": {s: self.score_split(stage, adapter, model, s, s)[0] for s in splits}}
        if "val" not in splits:
            return {"kind": "none", "warning": "no validation split: no threshold can be chosen, so no metrics"}
        rows, scored, losses = self.patient_scores(stage, adapter, model, splits)
        write_text_atomic(self.stage_path(stage["name"], "predictions.csv"), rows)
        threshold = youden_threshold(*scored["val"])
        rule = "Youden's J (max sensitivity + specificity - 1)" if threshold is not None else "fixed 0.5 (fallback)"
        threshold = 0.5 if threshold is None else threshold
        out_splits = []
        for s in splits:
            pl, ps = scored[s]
            out_splits.append({"split": "validation" if s == "val" else s, "nPatients": len(pl),
                               "nPositive": sum(1 for l in pl if l == 1), "nNegative": sum(1 for l in pl if l != 1),
                               "auc": roc_auc(pl, ps), "threshold": threshold, **rates(pl, ps, threshold)})
        return {"kind": "supervised", "threshold": threshold, "thresholdRule": rule, "splits": out_splits,
                "warnings": [], "loss": losses}

    # -- checkpoints
    def checkpoint(self, position: dict, model: Optional[nn.Module] = None, optimizer=None,
                   kinds: Optional[Dict[str, str]] = None) -> str:
        self.seq += 1
        path = os.path.join(self.run_dir, "checkpoints", checkpoint_name(self.seq))
        if self.env.main:
            if self.log:
                self.log.sync()
            state = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "seq": self.seq, **position,
                     "logBytes": self.log.size() if self.log else 0, "elapsed": self.elapsed(),
                     "finished": self.finished, "config": self.config, "engine": "torch"}
            files: Dict[str, bytes] = {}
            if model is not None and optimizer is not None and kinds is not None:
                files["model.safetensors"] = st.encode(nvcc_layout.state_to_tfjs(model),
                                                       {"format": "nvcc-weights", "stage": position["stage"]})
                slots, meta = optimizer.state(lambda key, t: nvcc_layout.to_tfjs(kinds[key], t.detach().float().cpu()))
                files["optimizer.safetensors"] = st.encode(slots, meta)
                rng = {"cpu": torch.get_rng_state()}
                if self.env.device.type == "cuda":
                    rng["cuda"] = torch.cuda.get_rng_state(self.env.device)
                files["torch-rng.safetensors"] = st.encode(rng, {"format": "nvcc-torch-rng"})
            files["state.json"] = (json.dumps(json_safe(state)) + "\n").encode("utf-8")
            write_checkpoint(self.run_dir, self.seq, files, self.args.keep_checkpoints)
        self.env.barrier()
        return path


def parse_args(argv: Optional[Sequence[str]], package_dir: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="train", description="Train an nvcc torch build (the tfjs runner's stages).")
    ap.add_argument("--run", required=True, help="run folder (created; with --resume: continued)")
    ap.add_argument("--data", default=os.path.join(package_dir, "data"), help="shard folder nvcc prepared")
    ap.add_argument("--spec", default=os.path.join(package_dir, "train_spec.json"), help="train spec the build wrote")
    ap.add_argument("--resume", action="store_true", help="continue the newest checkpoint of --run")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True,
                    help="bf16 autocast on GPUs that support it (default on)")
    ap.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                    help="channels_last memory format on GPUs (default on)")
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False,
                    help="torch.compile the model when this torch has it")
    ap.add_argument("--find-unused", action=argparse.BooleanOptionalAction, default=True,
                    help="DDP find_unused_parameters (needed when a stage leaves parameters out of the loss)")
    ap.add_argument("--init", action="append", metavar="STAGE=FILE",
                    help="start a stage from these weights (safetensors, tfjs layout and keys, e.g. another run's "
                         "stages/<stage>/weights.safetensors); repeatable")
    ap.add_argument("--score", metavar="STAGE=FILE",
                    help="train nothing: score the validation and test patients with these weights of a supervised "
                         "stage (tfjs layout and keys, either engine's run) into --scores-out")
    ap.add_argument("--scores-out", metavar="CSV", help="where --score writes (predictions.csv's columns)")
    ap.add_argument("--dropout-rng", choices=["port", "native"], default="port",
                    help="drop path and dropout masks: 'port' draws them from nvcc's RNG as the tfjs engine does "
                         "(default; pure Python, slow for dropout on large tensors), 'native' from torch's generator")
    ap.add_argument("--keep-checkpoints", type=int, default=2)
    ap.add_argument("--quiet", action="store_true", help="no progress lines (the log is written all the same)")
    ap.add_argument("--exit-after-steps", type=int, default=0, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(model_module, package_dir: str, argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv, package_dir)
    torch.use_deterministic_algorithms(args.device == "cpu", warn_only=True)
    try:
        trainer = Trainer(args, model_module)
        try:
            if args.score:
                if not args.scores_out:
                    raise TrainingError("--score needs --scores-out CSV")
                trainer.score_weights(args.score, args.scores_out)
            else:
                trainer.run()
        finally:
            trainer.env.close()
    except (TrainingError, nvcc_data.DataError, nvcc_optim.ScheduleError, st.SafetensorsError, ValueError) as e:
        print(f"nvcc train: {e}", file=sys.stderr)
        return 2
    return 0
