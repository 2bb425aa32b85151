"""Weight layouts: PyTorch's (this engine) and the tfjs runtime's (docs/CONVENTIONS.md).

In: a model's parameters, or one tensor and its layout kind. Out: the same values in the other
layout, under the same key. The twin of runtime/io/torch-layout.ts; both follow one table:
  linear     torch [out, in]            tfjs [in, out]              (transpose)
  conv2d     torch [out, in, kh, kw]    tfjs [kh, kw, in, out]      (permute 2, 3, 1, 0)
  depthwise  torch [C, 1, k, k]         tfjs [k, k, C, 1]           (permute 2, 3, 0, 1)
  same       everything else (biases, norms, GRN gamma/beta [C], tokens)
A kind comes from the owning layer: nvcc_layers' Linear / Conv2d / DepthwiseConv2d (by class
name) or torch.nn's Linear / Conv2d (groups == channels: depthwise). Holds afterwards:
to_tfjs(kind, to_torch(kind, t, shape)) == t for every kind, so checkpoints move between the
engines both ways with the same keys.
"""
from __future__ import annotations

from typing import Dict, Mapping, Sequence

import torch
from torch import nn

_TO_TFJS = {"linear": (1, 0), "conv2d": (2, 3, 1, 0), "depthwise": (2, 3, 0, 1)}
_TO_TORCH = {"linear": (1, 0), "conv2d": (3, 2, 0, 1), "depthwise": (2, 3, 0, 1)}


def _kind(module: nn.Module, leaf: str) -> str:
    if leaf != "weight":
        return "same"
    name = type(module).__name__
    if name == "DepthwiseConv2d":
        return "depthwise"
    if isinstance(module, nn.Conv2d):
        depthwise = module.groups > 1 and module.groups == module.in_channels == module.out_channels
        return "depthwise" if depthwise else "conv2d"
    if name in ("Conv2d", "ConvTranspose2d"):  # [in, out, kh, kw] <-> [kh, kw, out, in]: the same permutation
        return "conv2d"
    if isinstance(module, nn.Linear) or name == "Linear":
        return "linear"
    return "same"


def layout_kinds(model: nn.Module) -> Dict[str, str]:
    """The layout kind of every parameter and buffer of `model`, by state_dict key (buffers: same)."""
    kinds: Dict[str, str] = {}
    for prefix, module in model.named_modules():
        for leaf, _ in module.named_parameters(recurse=False):
            kinds[f"{prefix}.{leaf}" if prefix else leaf] = _kind(module, leaf)
    for key in _buffers(model):
        kinds[key] = "same"
    return kinds


def _buffers(model: nn.Module) -> Dict[str, torch.Tensor]:
    """The saved buffers (BatchNorm's running statistics), by state_dict key, as the tfjs engine names them."""
    saved = model.state_dict(keep_vars=True)
    return {key: b for key, b in model.named_buffers() if key in saved}


def state_tensors(model: nn.Module) -> Dict[str, torch.Tensor]:
    """Parameters and saved buffers by state_dict key, in state_dict order."""
    params = dict(model.named_parameters())
    buffers = _buffers(model)
    return {key: params[key] if key in params else buffers[key] for key in model.state_dict(keep_vars=True)
            if key in params or key in buffers}


def _host(t: torch.Tensor) -> torch.Tensor:
    """float32, or int32 for integer state (num_batches_tracked): the two dtypes of tfjs weights files."""
    return t.detach().cpu().to(torch.int32 if not t.is_floating_point() else torch.float32)


def to_tfjs(kind: str, t: torch.Tensor) -> torch.Tensor:
    return (t.permute(*_TO_TFJS[kind]) if kind in _TO_TFJS else t).contiguous()


def to_torch(kind: str, t: torch.Tensor, torch_shape: Sequence[int]) -> torch.Tensor:
    if kind in _TO_TORCH:
        out = t.permute(*_TO_TORCH[kind])
    elif list(t.shape) != list(torch_shape) and t.numel() == _numel(torch_shape):
        out = t.reshape(list(torch_shape))  # e.g. GRN [C] of a hand-written model holding [1, 1, 1, C]
    else:
        out = t
    if list(out.shape) != list(torch_shape):
        raise ValueError(f"shape {list(t.shape)} does not fit a {kind} parameter of torch shape {list(torch_shape)}")
    return out.contiguous()


def _numel(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def tfjs_shape(kind: str, torch_shape: Sequence[int]) -> list:
    return [torch_shape[a] for a in _TO_TFJS[kind]] if kind in _TO_TFJS else list(torch_shape)


def state_to_tfjs(model: nn.Module) -> Dict[str, torch.Tensor]:
    """The model's parameters and buffers in the tfjs layout, on the CPU, float32 (int32 for counters)."""
    kinds = layout_kinds(model)
    return {key: to_tfjs(kinds[key], _host(p)) for key, p in state_tensors(model).items()}


def load_tfjs_state(model: nn.Module, tensors: Mapping[str, torch.Tensor], source: str, strict: bool = True) -> None:
    """Assigns tfjs-layout tensors to the model; one error lists every missing, unexpected and mis-shaped key."""
    kinds = layout_kinds(model)
    params = state_tensors(model)
    missing = [k for k in params if k not in tensors]
    unexpected = [k for k in tensors if k not in params]
    misshaped = []
    converted = {}
    for key, t in tensors.items():
        if key not in params:
            continue
        try:
            converted[key] = to_torch(kinds[key], t, params[key].shape)
        except ValueError as e:
            misshaped.append(f"{key}: {e}")
    if (strict and (missing or unexpected)) or misshaped:
        lines = [f"{source}: the weights do not fit the model (nothing was loaded)"]
        for title, items in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
            if items:
                more = " ..." if len(items) > 20 else ""
                lines.append(f"  {title} ({len(items)}): " + ", ".join(items[:20]) + more)
        raise ValueError("\n".join(lines))
    with torch.no_grad():
        for key, t in converted.items():
            params[key].copy_(t.to(params[key].dtype))
