"""Optimizers and learning-rate schedules of the tfjs runtime (runtime/optim), for torch tensors.

In: a stage's optimizer and schedule settings (the TrainSpec JSON), the model's parameters with
their decay decision, gradients, and the step number. Out: parameters updated in place, slots
`m` (and `v`) per parameter keyed `<path>#m` as runtime/optim/state-io.ts keeps them, and the lr
of any step. Holds afterwards: Lion and AdamW apply the update formulas of runtime/optim/lion.ts
and adamw.ts in the same order (clip by the global norm, then decoupled decay with the parameter
before the step); the schedule is runtime/optim/schedule.ts buildSchedule evaluated at the
fractional epoch step / steps_per_epoch, so both engines use the same lr at every step; frozen
parameters (requires_grad False) and parameters without a gradient are untouched and get no slots.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

# ----------------------------------------------------------------------------------------------
# Schedules


class ScheduleError(ValueError):
    pass


class Schedule:
    def __init__(self, phases: Sequence[dict], base_lr: float, steps_per_epoch: int, epochs: float) -> None:
        if not (base_lr >= 0) or not math.isfinite(base_lr):
            raise ScheduleError(f"learning-rate schedule: base lr must be a finite number >= 0, got {base_lr}")
        if steps_per_epoch <= 0:
            raise ScheduleError(
                f"learning-rate schedule: steps per epoch must be a positive integer, got {steps_per_epoch}")
        phases = list(phases) or [{"kind": "constant"}]
        self.base = base_lr
        self.steps_per_epoch = steps_per_epoch
        self.epochs = epochs
        self.total_steps = round(epochs * steps_per_epoch)
        self.phases: List[Tuple[dict, float, float, float, float]] = []
        start, level = 0.0, base_lr
        for i, p in enumerate(phases):
            kind = p["kind"]
            where = f"learning-rate schedule: phase {i + 1} ({kind})"
            if p.get("epochs") is not None:
                length = float(p["epochs"])
            elif p.get("steps") is not None:
                length = p["steps"] / steps_per_epoch
            elif i == len(phases) - 1:
                length = epochs - start
            else:
                raise ScheduleError(f"{where}: only the last phase may omit its length (epochs or steps)")
            if start + length > epochs + 1e-9:
                raise ScheduleError(f"{where}: phases run to epoch {start + length} but training has {epochs} epochs")
            frm = (p.get("from") or 0.0) if kind == "warmup" else level
            if kind == "warmup":
                to = base_lr
            elif kind in ("cosine",):
                to = p.get("to") or 0.0
            elif kind == "linear":
                to = p["to"]
            elif kind == "constant":
                to = p.get("value", frm) if p.get("value") is not None else frm
            elif kind == "step":
                every = p.get("every") if p.get("every") is not None else p["everySteps"] / steps_per_epoch
                to = frm * p["gamma"] ** math.floor(length / every)
            else:
                raise ScheduleError(f"{where}: unknown kind '{kind}'")
            self.phases.append((p, start, length, frm, to))
            start += length
            level = to
        self.level = level

    def at(self, step: int) -> float:
        e = step / self.steps_per_epoch
        for p, start, length, frm, to in self.phases:
            if e < start + length:
                x = e - start
                frac = x / length if length > 0 else 1
                kind = p["kind"]
                if kind == "warmup":
                    return frm + (self.base - frm) * frac
                if kind == "linear":
                    return frm + (to - frm) * frac
                if kind == "cosine":
                    return to + (frm - to) * 0.5 * (1 + math.cos(math.pi * frac))
                if kind == "constant":
                    return to
                every = p.get("every") if p.get("every") is not None else p["everySteps"] / self.steps_per_epoch
                return frm * p["gamma"] ** math.floor(x / every + 1e-9)
        return self.level


def stage_schedule(stage: dict, steps_per_epoch: int) -> Schedule:
    """runtime/train/runner.ts buildStageSchedule."""
    return Schedule([dict(p) for p in stage["schedule"]], stage["optimizer"]["lr"], steps_per_epoch, stage["epochs"])


# ----------------------------------------------------------------------------------------------
# Which parameters are decayed


def official_no_decay(rule: str, path: str, flagged: bool, tfjs_rank: int) -> bool:
    """runtime/optim/optimizer.ts isNoDecay for the 'finetune' and 'pretrain' rules (ranks in the tfjs layout)."""
    name = path.split(".")[-1]
    if rule == "finetune":
        return flagged or tfjs_rank <= 1 or name in ("bias", "gamma", "beta")
    if name == "bias":
        return True
    if name in ("gamma", "beta", "mask_token"):
        return False
    return tfjs_rank <= 1


def no_decay_rule(spec_rules: Sequence[dict]) -> Callable[[str, bool, int], bool]:
    """runtime/train/runner.ts buildOptimizer's predicate: any listed rule says 'no decay'."""

    def decide(path: str, flagged: bool, tfjs_rank: int) -> bool:
        for r in spec_rules:
            k = r["kind"]
            if k == "official" and official_no_decay(r["rule"], path, flagged, tfjs_rank):
                return True
            if k == "flagged" and flagged:
                return True
            if k == "rank1" and tfjs_rank <= 1:
                return True
            if k == "suffix" and path.endswith(r["suffix"]):
                return True
            if k == "prefix" and path.startswith(r["prefix"]):
                return True
        return False

    return decide


# ----------------------------------------------------------------------------------------------
# Optimizers


class SlotOptimizer:
    kind = ""
    slot_names: Tuple[str, ...] = ()

    def __init__(self, params: Sequence[Tuple[str, torch.nn.Parameter, bool]], weight_decay: float,
                 clip_grad_norm: Optional[float]) -> None:
        """`params`: (path, parameter, no_decay) for every parameter of the model."""
        self.params = list(params)
        self.weight_decay = weight_decay
        self.clip = clip_grad_norm
        self.t = 0
        self.slots: Dict[str, torch.Tensor] = {}

    def groups(self) -> Dict[str, List[str]]:
        g: Dict[str, List[str]] = {"decay": [], "noDecay": [], "frozen": []}
        for path, p, nd in self.params:
            g["frozen" if not p.requires_grad else "noDecay" if nd else "decay"].append(path)
        return g

    def _slots(self, path: str, p: torch.Tensor) -> List[torch.Tensor]:
        out = []
        for name in self.slot_names:
            key = f"{path}#{name}"
            s = self.slots.get(key)
            if s is None:
                s = torch.zeros_like(p, memory_format=torch.preserve_format)
                self.slots[key] = s
            elif s.shape != p.shape:
                raise ValueError(
                    f"optimizer slot '{key}' has shape {list(s.shape)} but the parameter is {list(p.shape)}")
            out.append(s)
        return out

    @torch.no_grad()
    def step(self, lr: float) -> None:
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(f"learning rate must be a finite number >= 0, got {lr}")
        active = [(path, p, nd) for path, p, nd in self.params if p.requires_grad and p.grad is not None]
        self.t += 1
        scale = None
        if self.clip is not None and active:
            norm = torch.sqrt(sum(torch.sum(p.grad.float() ** 2) for _, p, _ in active))
            scale = torch.clamp(self.clip / (norm + 1e-6), max=1.0)
        for path, p, nd in active:
            g = p.grad if scale is None else p.grad * scale
            self.update(p, g, self._slots(path, p), lr, 0.0 if nd else self.weight_decay, self.t)

    def update(self, p, g, slots, lr, wd, t) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def hyper(self) -> Dict[str, float]:
        return {"weightDecay": self.weight_decay}

    def state(self, to_tfjs: Callable[[str, torch.Tensor], torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], dict]:
        """Slots in the tfjs layout and the metadata runtime/optim/state-io.ts writes."""
        tensors = {k: to_tfjs(k.rsplit("#", 1)[0], v) for k, v in sorted(self.slots.items())}
        meta = {"format": "nvcc-optimizer-state", "kind": self.kind, "step": str(self.t),
                "hyper": _json(self.hyper())}
        return tensors, meta

    def load_state(self, tensors: Dict[str, torch.Tensor], meta: Dict[str, str],
                   to_torch: Callable[[str, torch.Tensor], torch.Tensor]) -> None:
        if meta.get("kind") != self.kind:
            raise ValueError(f"cannot load {meta.get('kind')} optimizer state into a {self.kind} optimizer")
        by_path = {path: p for path, p, _ in self.params}
        self.slots = {}
        for key, t in tensors.items():
            path, slot = key.rsplit("#", 1)
            if slot not in self.slot_names or path not in by_path:
                raise ValueError(f"optimizer state has an unknown slot '{key}'")
            p = by_path[path]
            self.slots[key] = to_torch(path, t).to(device=p.device, dtype=p.dtype).contiguous()
        self.t = int(meta["step"])


def _json(d: Dict[str, float]) -> str:
    import json

    return json.dumps(d, separators=(",", ":"))


class Lion(SlotOptimizer):
    kind = "lion"
    slot_names = ("m",)

    def __init__(self, params, beta1=0.9, beta2=0.99, weight_decay=0.0, clip_grad_norm=None) -> None:
        super().__init__(params, weight_decay, clip_grad_norm)
        self.beta1, self.beta2 = beta1, beta2

    def hyper(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "weightDecay": self.weight_decay}

    def update(self, p, g, slots, lr, wd, t):
        (m,) = slots
        u = torch.sign(m * self.beta1 + g * (1 - self.beta1))
        step = u if wd == 0 else u + p * wd
        p.sub_(step * lr)
        m.copy_(m * self.beta2 + g * (1 - self.beta2))


class AdamW(SlotOptimizer):
    kind = "adamw"
    slot_names = ("m", "v")

    def __init__(self, params, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, clip_grad_norm=None) -> None:
        super().__init__(params, weight_decay, clip_grad_norm)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def hyper(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps, "weightDecay": self.weight_decay}

    def update(self, p, g, slots, lr, wd, t):
        m, v = slots
        m_new = m * self.beta1 + g * (1 - self.beta1)
        v_new = v * self.beta2 + g * g * (1 - self.beta2)
        bc1 = 1 - self.beta1**t
        bc2 = 1 - self.beta2**t
        direction = (m_new / bc1) / (torch.sqrt(v_new / bc2) + self.eps)
        step = direction if wd == 0 else direction + p * wd
        p.sub_(step * lr)
        m.copy_(m_new)
        v.copy_(v_new)


def build_optimizer(stage: dict, params: Sequence[Tuple[str, torch.nn.Parameter, bool]]) -> SlotOptimizer:
    o = stage["optimizer"]
    b1, b2 = o["betas"]
    clip = o.get("clipGradNorm")
    if o["kind"] == "lion":
        return Lion(params, b1, b2, o["weightDecay"], clip)
    eps = o.get("eps") if o.get("eps") is not None else 1e-8
    return AdamW(params, b1, b2, eps, o["weightDecay"], clip)
