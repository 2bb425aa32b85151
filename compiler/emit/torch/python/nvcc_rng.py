"""The tfjs runtime's seeded random numbers (runtime/rng.ts), bit for bit, in Python.

In: a seed (int or str) or a saved state (the 7 words runtime/rng.ts writes into checkpoints).
Out: an Rng with next_uint32, uniform, normal, int, fork and state, and the helpers built on
them (permutation). Holds afterwards: every draw equals the TypeScript one for the same state,
so the torch engine visits the same sample order, draws the same augmentations, masks and
random throws as the tfjs engine, and a checkpoint of either engine resumes in the other.
"""
from __future__ import annotations

import math
import struct
from typing import List, Optional, Sequence, Union

ALGORITHM = "xoshiro128**+box-muller/v1"
M32 = 0xFFFFFFFF


def _imul(a: int, b: int) -> int:
    return (a * b) & M32


def _rotl(x: int, k: int) -> int:
    x &= M32
    return ((x << k) | (x >> (32 - k))) & M32


def fmix32(x: int) -> int:
    x &= M32
    x ^= x >> 16
    x = _imul(x, 0x85EBCA6B)
    x ^= x >> 13
    x = _imul(x, 0xC2B2AE35)
    x ^= x >> 16
    return x


def fnv1a32(text: str) -> int:
    h = 0x811C9DC5
    for b in text.encode("utf-8"):
        h ^= b
        h = _imul(h, 0x01000193)
    return h


def hash_string32(text: str) -> int:
    return fmix32(fnv1a32(text))


class _SplitMix32:
    def __init__(self, seed: int) -> None:
        self.s = seed & M32

    def __call__(self) -> int:
        self.s = (self.s + 0x9E3779B9) & M32
        z = self.s
        z = _imul(z ^ (z >> 16), 0x21F0AAAD)
        z = _imul(z ^ (z >> 15), 0x735A2D97)
        return (z ^ (z >> 15)) & M32


def _seed_to_word(seed: Union[int, float, str]) -> int:
    if isinstance(seed, str):
        return hash_string32(seed)
    if not math.isfinite(seed):
        raise ValueError(f"rng seed must be a finite number, got {seed}")
    whole = int(seed)  # truncation, as Math.trunc
    lo = whole % 2**32
    hi = (whole // 2**32) % 2**32
    return fmix32(lo ^ fmix32(hi ^ 0x5BD1E995))


class Rng:
    """xoshiro128** with a cached second Box-Muller normal (runtime/rng.ts Xoshiro128)."""

    def __init__(self, words: Sequence[int], spare: Optional[float] = None) -> None:
        if len(words) != 4:
            raise ValueError("xoshiro128** needs 4 state words")
        self.s = [w & M32 for w in words]
        if not any(self.s):
            self.s[0] = 0x9E3779B9
        self.spare = spare

    def next_uint32(self) -> int:
        s0, s1, s2, s3 = self.s
        result = _imul(_rotl(_imul(s1, 5), 7), 9)
        t = (s1 << 9) & M32
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 11)
        self.s = [s0, s1, s2, s3]
        return result

    def uniform(self) -> float:
        a = self.next_uint32() >> 5
        b = self.next_uint32() >> 6
        return (a * 67108864 + b) / 9007199254740992

    def normal(self) -> float:
        if self.spare is not None:
            v = self.spare
            self.spare = None
            return v
        u1 = 1 - self.uniform()
        u2 = self.uniform()
        r = math.sqrt(-2 * math.log(u1))
        theta = 2 * math.pi * u2
        self.spare = r * math.sin(theta)
        return r * math.cos(theta)

    def int(self, lo: int, hi: int) -> int:
        if hi <= lo:
            raise ValueError(f"int({lo}, {hi}): need integers lo < hi")
        span = hi - lo
        if span <= 2**32:
            limit = 2**32 - (2**32 % span)
            while True:
                x = self.next_uint32()
                if x < limit:
                    return lo + x % span
        return lo + math.floor(self.uniform() * span)

    def fork(self, label: str) -> "Rng":
        s0, s1, s2, s3 = self.s
        mix = _SplitMix32(hash_string32(label) ^ fmix32(s0 ^ _rotl(s2, 13)))
        words = [(fmix32(w ^ mix()) ^ _imul(i + 1, 0x27D4EB2D)) & M32 for i, w in enumerate(self.s)]
        return Rng(words)

    def state(self) -> dict:
        has, hi, lo = 0, 0, 0
        if self.spare is not None:
            has = 1
            lo, hi = struct.unpack("<II", struct.pack("<d", self.spare))
        return {"algorithm": ALGORITHM, "words": [*self.s, has, hi, lo]}


def create_rng(seed: Union[int, float, str]) -> Rng:
    nxt = _SplitMix32(_seed_to_word(seed))
    return Rng([nxt(), nxt(), nxt(), nxt()])


def restore_rng(state: dict) -> Rng:
    if state.get("algorithm") != ALGORITHM:
        raise ValueError(
            f"cannot restore RNG state of algorithm '{state.get('algorithm')}' (this runtime uses '{ALGORITHM}')")
    w = state["words"]
    if len(w) != 7 or any((not isinstance(x, int)) or x < 0 or x > M32 for x in w):
        raise ValueError("malformed RNG state: expected 7 unsigned 32-bit words")
    spare = None
    if w[4] == 1:
        spare = struct.unpack("<d", struct.pack("<II", w[6], w[5]))[0]
    elif w[4] != 0:
        raise ValueError("malformed RNG state: spare flag must be 0 or 1")
    return Rng(w[:4], spare)


def permutation(rng: Rng, n: int) -> List[int]:
    """Fisher-Yates, last index first (runtime/rng.ts shuffle)."""
    items = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.int(0, i + 1)
        items[i], items[j] = items[j], items[i]
    return items


STREAMS = ("init", "data", "augment", "mask", "dropout", "modality_dropout")


def stage_root(run_seed: int, stage: dict) -> Rng:
    """runtime/train/common.ts stageRoot: the stage's own seed, else a fork of the run seed by name."""
    if stage.get("seed") is not None:
        return create_rng(stage["seed"])
    return create_rng(run_seed).fork(f"stage:{stage['name']}")


def fresh_streams(root: Rng) -> dict:
    return {name: root.fork(name) for name in STREAMS}
