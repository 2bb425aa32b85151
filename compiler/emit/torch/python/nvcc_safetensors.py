"""The safetensors container in plain Python (no `safetensors` package needed; Debian lacks it).

In: bytes laid out as [u64 little-endian header length][JSON header][data], the header mapping
names to {dtype, shape, data_offsets} plus an optional `__metadata__`. Out: CPU torch tensors by
name (U8, I32, I64, F32, F16, BF16, F64) and metadata; `save` writes F32/I32/I64/U8 tensors,
names sorted, data 8-byte aligned, through a temporary file and a rename. Holds afterwards: a read
was validated (offsets inside the data, sizes equal shape x element size), so a truncated or
foreign file is refused with its path named, never half-read.
"""
from __future__ import annotations

import json
import os
import struct
from typing import Dict, Mapping, Optional, Tuple

import numpy as np
import torch

_NUMPY = {
    "U8": np.uint8,
    "I8": np.int8,
    "I32": np.int32,
    "I64": np.int64,
    "F16": np.float16,
    "F32": np.float32,
    "F64": np.float64,
    "BOOL": np.bool_,
}
_FROM_TORCH = {
    torch.uint8: "U8",
    torch.int32: "I32",
    torch.int64: "I64",
    torch.float32: "F32",
    torch.float64: "F64",
}


class SafetensorsError(ValueError):
    pass


def parse(data: bytes, source: str = "<bytes>") -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    if len(data) < 8:
        raise SafetensorsError(f"{source}: invalid safetensors: file shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise SafetensorsError(f"{source}: invalid safetensors: header of {n} bytes runs past the end of the file")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{source}: invalid safetensors: header is not JSON ({e})") from None
    metadata = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + n :]
    out: Dict[str, torch.Tensor] = {}
    for name, entry in header.items():
        dtype = entry.get("dtype")
        shape = entry.get("shape")
        begin, end = entry.get("data_offsets", [None, None])
        if not isinstance(begin, int) or not isinstance(end, int) or not 0 <= begin <= end <= len(body):
            raise SafetensorsError(f"{source}: invalid safetensors: tensor '{name}' has offsets outside the data")
        count = 1
        for d in shape:
            count *= d
        if dtype == "BF16":
            raw = np.frombuffer(body[begin:end], dtype=np.uint16)
            if raw.size != count:
                raise SafetensorsError(f"{source}: invalid safetensors: tensor '{name}' size does not match its shape")
            widened = raw.astype(np.uint32) << 16
            out[name] = torch.from_numpy(widened.view(np.float32).copy()).reshape(shape)
            continue
        np_dtype = _NUMPY.get(dtype)
        if np_dtype is None:
            raise SafetensorsError(f"{source}: invalid safetensors: tensor '{name}' has unsupported dtype {dtype}")
        arr = np.frombuffer(body[begin:end], dtype=np.dtype(np_dtype).newbyteorder("<"))
        if arr.size != count:
            raise SafetensorsError(f"{source}: invalid safetensors: tensor '{name}' size does not match its shape")
        out[name] = torch.from_numpy(arr.astype(np_dtype, copy=True)).reshape(shape)
    return out, dict(metadata)


def load(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    with open(path, "rb") as f:
        return parse(f.read(), path)


def encode(tensors: Mapping[str, torch.Tensor], metadata: Optional[Mapping[str, str]] = None) -> bytes:
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        dtype = _FROM_TORCH.get(t.dtype)
        if dtype is None:
            t = t.float()
            dtype = "F32"
        raw = t.numpy().astype(np.dtype(t.numpy().dtype).newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write_atomic(path: str, data: bytes) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(temp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)


def save(path: str, tensors: Mapping[str, torch.Tensor], metadata: Optional[Mapping[str, str]] = None) -> bytes:
    data = encode(tensors, metadata)
    write_atomic(path, data)
    return data
