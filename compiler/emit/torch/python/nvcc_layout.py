"""Weight layouts: PyTorch's (this engine) and the tfjs runtime's (docs/CONVENTIONS.md).

In: a model's parameters, or one tensor and its layout kind. Out: the same values in the other
layout. The twin of runtime/io/torch-layout.ts; both follow one table:
  linear     torch [out, in]            tfjs [in, out]              (transpose)
  conv       torch [out, in, kh, kw]    tfjs [kh, kw, in, out]      (permute 2, 3, 1, 0)
  depthwise  torch [C, 1, k, k]         tfjs [k, k, C, 1]           (permute 2, 3, 0, 1)
  grn        torch [1, 1, 1, C]         tfjs [C]                    (GRN gamma / beta)
  token      torch [1, C, 1, 1]         tfjs [C]                    (FCMAE mask_token)
  plain      same shape in both
Holds afterwards: to_tfjs(kind, to_torch(kind, t, shape)) == t for every kind, so checkpoints
move between the engines both ways with the same keys.
"""
from __future__ import annotations

from typing import Dict, Mapping, Sequence

import torch
from torch import nn


def _is(module: nn.Module, cls, name: str) -> bool:
    return isinstance(module, cls) or type(module).__name__ == name


def layout_kinds(model: nn.Module) -> Dict[str, str]:
    """The layout kind of every parameter of `model`, by state_dict key."""
    kinds: Dict[str, str] = {}
    for prefix, module in model.named_modules():
        for leaf, _ in module.named_parameters(recurse=False):
            key = f"{prefix}.{leaf}" if prefix else leaf
            kind = "plain"
            if leaf == "weight" and _is(module, nn.Linear, "Linear"):
                kind = "linear"
            elif leaf == "weight" and isinstance(module, nn.Conv2d):
                depthwise = module.groups > 1 and module.groups == module.in_channels == module.out_channels
                kind = "depthwise" if depthwise else "conv"
            elif leaf in ("gamma", "beta") and "GRN" in type(module).__name__:
                kind = "grn"
            elif leaf == "mask_token":
                kind = "token"
            kinds[key] = kind
    return kinds


def to_tfjs(kind: str, t: torch.Tensor) -> torch.Tensor:
    if kind == "linear":
        return t.t().contiguous()
    if kind == "conv":
        return t.permute(2, 3, 1, 0).contiguous()
    if kind == "depthwise":
        return t.permute(2, 3, 0, 1).contiguous()
    if kind in ("grn", "token"):
        return t.reshape(-1).contiguous()
    return t.contiguous()


def to_torch(kind: str, t: torch.Tensor, torch_shape: Sequence[int]) -> torch.Tensor:
    if kind == "linear":
        out = t.t()
    elif kind == "conv":
        out = t.permute(3, 2, 0, 1)
    elif kind == "depthwise":
        out = t.permute(2, 3, 0, 1)
    elif kind in ("grn", "token"):
        out = t.reshape(list(torch_shape))
    else:
        out = t
    if list(out.shape) != list(torch_shape):
        raise ValueError(f"shape {list(t.shape)} does not fit a {kind} parameter of torch shape {list(torch_shape)}")
    return out.contiguous()


def tfjs_shape(kind: str, torch_shape: Sequence[int]) -> list:
    return list(to_tfjs(kind, torch.empty(list(torch_shape), device="meta")).shape)


def state_to_tfjs(model: nn.Module) -> Dict[str, torch.Tensor]:
    """The model's parameters (and buffers saved by state_dict) in the tfjs layout, on the CPU, float32."""
    kinds = layout_kinds(model)
    out: Dict[str, torch.Tensor] = {}
    for key, t in model.state_dict().items():
        if key in kinds:
            out[key] = to_tfjs(kinds[key], t.detach().float().cpu())
    return out


def load_tfjs_state(model: nn.Module, tensors: Mapping[str, torch.Tensor], source: str, strict: bool = True) -> None:
    """Assigns tfjs-layout tensors to the model; one error lists every missing, unexpected and mis-shaped key."""
    kinds = layout_kinds(model)
    params = dict(model.named_parameters())
    missing = [k for k in kinds if k not in tensors]
    unexpected = [k for k in tensors if k not in kinds]
    misshaped = []
    converted = {}
    for key, t in tensors.items():
        if key not in kinds:
            continue
        try:
            converted[key] = to_torch(kinds[key], t, params[key].shape)
        except ValueError as e:
            misshaped.append(f"{key}: {e}")
    if (strict and (missing or unexpected)) or misshaped:
        lines = [f"{source}: the weights do not fit the model"]
        for title, items in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
            if items:
                more = " ..." if len(items) > 20 else ""
                lines.append(f"  {title} ({len(items)}): " + ", ".join(items[:20]) + more)
        raise ValueError("\n".join(lines))
    with torch.no_grad():
        for key, t in converted.items():
            params[key].copy_(t.to(params[key].dtype))
