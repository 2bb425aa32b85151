"""The data nvcc prepared for a run (runtime/train/shards.ts), read back for the torch engine.

In: a shard folder (`manifest.json` plus `<split>-<k>.safetensors`), split names, sample indices
and, for training, the stage's augmentation spec with the `augment` RNG stream. Out: batches:
images NCHW float32 normalised as the tfjs pipeline normalises them, one [n, width] float32
tensor per lab group, class indices and patient ids. Holds afterwards: every shard's SHA-256 was
checked against the manifest before use; augmentation draws come from the given stream in the
order of runtime/data/augment.ts drawAugment (flip, angle, then crop area, ratio, centre x, centre
y), one draw per sample in batch order, and the pixels are rendered with the same inverse affine
map and bilinear sampling in float64, so a batch equals the tfjs engine's up to float rounding.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

import nvcc_safetensors as st

SHARD_FORMAT = "nvcc-data-shards"
SPLITS = ("train", "val", "test")


class DataError(RuntimeError):
    """A data problem the user fixes (names the file and what is wrong)."""


@dataclass(frozen=True)
class AugmentDraw:
    flip: bool
    angle: float
    cx: float
    cy: float
    w: float
    h: float

    def identity(self) -> bool:
        return (not self.flip) and self.angle == 0 and self.w == 1 and self.h == 1


IDENTITY = AugmentDraw(False, 0.0, 0.5, 0.5, 1.0, 1.0)


def draw_augment(spec: Optional[dict], rng) -> AugmentDraw:
    """runtime/data/augment.ts drawAugment, draw for draw."""
    if not spec:
        return IDENTITY
    hflip = spec.get("hflip")
    flip = rng.uniform() < hflip if hflip is not None and hflip > 0 else False
    degrees = spec.get("rotateDegrees")
    angle = (2 * rng.uniform() - 1) * degrees * (math.pi / 180) if degrees else 0.0
    cx, cy, w, h = 0.5, 0.5, 1.0, 1.0
    rrc = spec.get("randomResizedCrop")
    if rrc:
        smin, smax = rrc["scale"]
        rmin, rmax = rrc["ratio"]
        area = smin + (smax - smin) * rng.uniform()
        ratio = math.exp(math.log(rmin) + (math.log(rmax) - math.log(rmin)) * rng.uniform())
        w = min(1.0, math.sqrt(area * ratio))
        h = min(1.0, math.sqrt(area / ratio))
        cx = w / 2 + (1 - w) * rng.uniform()
        cy = h / 2 + (1 - h) * rng.uniform()
    return AugmentDraw(bool(flip), float(angle), cx, cy, w, h)


def render_sample(src: np.ndarray, draw: AugmentDraw, scale: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """runtime/data/augment.ts renderSample on one HWC uint8 image; returns HWC float32."""
    height, width, _ = src.shape
    if draw.identity():
        return (src.astype(np.float64) * scale + shift).astype(np.float32)
    cos, sin = math.cos(draw.angle), math.sin(draw.angle)
    xs = np.arange(width, dtype=np.float64)
    ys = np.arange(height, dtype=np.float64)
    u = ((xs[None, :] + 0.5) / width - 0.5) * draw.w
    v = ((ys[:, None] + 0.5) / height - 0.5) * draw.h
    u = np.broadcast_to(u, (height, width))
    v = np.broadcast_to(v, (height, width))
    if draw.flip:
        u = -u
    ru = cos * u - sin * v
    rv = sin * u + cos * v
    sx = np.minimum(width - 1, np.maximum(0, (draw.cx + ru) * width - 0.5))
    sy = np.minimum(height - 1, np.maximum(0, (draw.cy + rv) * height - 0.5))
    x0 = np.floor(sx).astype(np.int64)
    y0 = np.floor(sy).astype(np.int64)
    x1 = np.minimum(width - 1, x0 + 1)
    y1 = np.minimum(height - 1, y0 + 1)
    fx = (sx - x0)[..., None]
    fy = (sy - y0)[..., None]
    s = src.astype(np.float64)
    p00, p01, p10, p11 = s[y0, x0], s[y0, x1], s[y1, x0], s[y1, x1]
    p = (p00 * (1 - fx) + p01 * fx) * (1 - fy) + (p10 * (1 - fx) + p11 * fx) * fy
    return (p * scale + shift).astype(np.float32)


@dataclass
class Batch:
    inputs: Dict[str, torch.Tensor]
    labels: Optional[torch.Tensor]
    patient_ids: List[str]


class ShardData:
    """All splits of a shard folder, held in memory as the stored uint8 pixels."""

    def __init__(self, folder: str, verify: bool = True) -> None:
        self.folder = folder
        path = os.path.join(folder, "manifest.json")
        try:
            with open(path, "r", encoding="utf-8") as f:
                manifest = json.load(f)
        except FileNotFoundError:
            raise DataError(f"{path}: no shard manifest (prepare the data with nvcc first)") from None
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: not JSON ({e})") from None
        if manifest.get("format") != SHARD_FORMAT or manifest.get("version") != 1:
            raise DataError(f"{path}: not an nvcc shard manifest (format {manifest.get('format')!r})")
        self.manifest = manifest
        self.classes: List[str] = list(manifest["classes"])
        self.image_inputs: List[str] = list(manifest["imageInputs"])
        self.groups = [(g["name"], int(g["width"])) for g in manifest["groups"]]
        image = manifest["image"]
        std = np.asarray(image["std"], dtype=np.float64)
        mean = np.asarray(image["mean"], dtype=np.float64)
        # The tfjs pipeline keeps scale and shift as float32 before the float64 arithmetic.
        self.scale = (1 / (255 * std)).astype(np.float32).astype(np.float64)
        self.shift = (-mean / std).astype(np.float32).astype(np.float64)
        self.splits: Dict[str, Dict[str, object]] = {}
        for split in SPLITS:
            info = manifest["splits"][split]
            parts: Dict[str, List[torch.Tensor]] = {}
            for shard in info["shards"]:
                file = os.path.join(folder, shard["file"])
                try:
                    with open(file, "rb") as f:
                        data = f.read()
                except FileNotFoundError:
                    raise DataError(f"{file}: shard named in {path} is missing") from None
                if verify and hashlib.sha256(data).hexdigest() != shard["sha256"]:
                    raise DataError(
                        f"{file}: SHA-256 differs from {path}; the shard was changed or damaged "
                        "(prepare the data again)"
                    )
                tensors, _ = st.parse(data, file)
                for k, t in tensors.items():
                    parts.setdefault(k, []).append(t)
            merged = {k: torch.cat(v) if len(v) > 1 else v[0] for k, v in parts.items()}
            if int(merged["labels"].shape[0]) != int(info["samples"]):
                raise DataError(f"{path}: split {split} lists {info['samples']} samples, its shards hold "
                                f"{int(merged['labels'].shape[0])}")
            merged["_patients"] = info["patients"]  # type: ignore[assignment]
            self.splits[split] = merged

    def size(self, split: str) -> int:
        return int(self.splits[split]["labels"].shape[0])  # type: ignore[union-attr]

    def patient_ids(self, split: str, indices: Sequence[int]) -> List[str]:
        s = self.splits[split]
        return [s["_patients"][int(s["patient"][i])] for i in indices]  # type: ignore[index]

    def load(self, split: str, indices: Sequence[int], augment: Optional[dict] = None, rng=None,
             keep: Optional[Sequence[int]] = None) -> Batch:
        """Samples `indices` of `split`. Augmentation is drawn for every index in order; with
        `keep` (positions in `indices`) only those rows are rendered and returned, so each process
        of a distributed run draws the whole batch's stream and materialises its own part."""
        s = self.splits[split]
        images = s["images"]
        # One draw per sample even without an image input, as the tfjs adapter draws.
        all_draws = [draw_augment(augment, rng) if augment else IDENTITY for _ in indices]
        positions = list(keep) if keep is not None else list(range(len(indices)))
        draws = [all_draws[i] for i in positions]
        indices = [indices[i] for i in positions]
        n = len(indices)
        out: Dict[str, torch.Tensor] = {}
        if self.image_inputs:
            rendered = np.empty((n, *images.shape[1:]), dtype=np.float32)  # type: ignore[union-attr]
            for b, index in enumerate(indices):
                pixels = images[index].numpy()  # type: ignore[index]
                rendered[b] = render_sample(pixels, draws[b], self.scale, self.shift)
            nchw = torch.from_numpy(rendered).permute(0, 3, 1, 2).contiguous()
            for i, name in enumerate(self.image_inputs):
                out[name] = nchw if i == 0 else nchw.clone()
        idx = torch.as_tensor(list(indices), dtype=torch.long)
        for name, _ in self.groups:
            out[name] = s[f"labs.{name}"].index_select(0, idx).clone()  # type: ignore[union-attr]
        labels = s["labels"].index_select(0, idx).long()  # type: ignore[union-attr]
        return Batch(out, labels if bool((labels >= 0).all()) else None, self.patient_ids(split, indices))
