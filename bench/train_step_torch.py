"""One ConvNeXt-V2-atto training step in PyTorch, the baseline for bench/train-step.ts.

In: --size, --batch, --warmup, --steps and --threads (default: every core, os.cpu_count()).
Out: one line `RESULT {json}` with per-step wall and CPU milliseconds, peak RSS, the tensor
bytes alive when the backward pass starts (parameters, Lion state, and every distinct storage
autograd saved for backward, counted through saved_tensors_hooks in one extra step) and the
last loss, in the fields the TypeScript bench reads. The model is written here from the official definitions (no timm):
NCHW convolutions, channels-first LayerNorm for stem/downsampling, channels-last block with
Linear layers, exact-erf GELU, GRN; a 1000-class head; Lion with decoupled weight decay.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DEPTHS = (2, 2, 6, 2)
DIMS = (40, 80, 160, 320)
NUM_CLASSES = 1000


class ChannelsFirstLayerNorm(nn.Module):
    def __init__(self, c, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.eps = eps

    def forward(self, x):
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class GlobalResponseNorm(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gamma = nn.Parameter(torch.randn(1, 1, 1, c) * 0.02)
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, c))

    def forward(self, x):  # x: N, H, W, C
        gx = torch.sqrt(x.pow(2).sum(dim=(1, 2), keepdim=True) + 1e-12)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dwconv = nn.Conv2d(c, c, kernel_size=7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.pwconv1 = nn.Linear(c, 4 * c)
        self.act = nn.GELU()
        self.grn = GlobalResponseNorm(4 * c)
        self.pwconv2 = nn.Linear(4 * c, c)

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.grn(self.act(self.pwconv1(self.norm(y)))))
        return x + y.permute(0, 3, 1, 2)


class Atto(nn.Module):
    def __init__(self):
        super().__init__()
        self.downsample_layers = nn.ModuleList()
        self.downsample_layers.append(nn.Sequential(nn.Conv2d(3, DIMS[0], 4, 4), ChannelsFirstLayerNorm(DIMS[0])))
        for i in range(1, 4):
            self.downsample_layers.append(
                nn.Sequential(ChannelsFirstLayerNorm(DIMS[i - 1]), nn.Conv2d(DIMS[i - 1], DIMS[i], 2, 2))
            )
        self.stages = nn.ModuleList(nn.Sequential(*[Block(DIMS[i]) for _ in range(DEPTHS[i])]) for i in range(4))
        self.norm = nn.LayerNorm(DIMS[-1], eps=1e-6)
        self.head = nn.Linear(DIMS[-1], NUM_CLASSES)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        for i in range(4):
            x = self.stages[i](self.downsample_layers[i](x))
        return self.head(self.norm(x.mean([-2, -1])))


class Lion:
    """c = b1*m + (1-b1)*g; p -= lr*(sign(c) + wd*p); m = b2*m + (1-b2)*g."""

    def __init__(self, params, lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.05):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.beta1, self.beta2, self.wd = lr, beta1, beta2, weight_decay
        self.m = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self):
        for p, m in zip(self.params, self.m):
            if p.grad is None:
                continue
            g = p.grad
            wd = 0.0 if p.ndim <= 1 else self.wd
            c = m.mul(self.beta1).add_(g, alpha=1 - self.beta1)
            p.mul_(1 - self.lr * wd).add_(torch.sign(c), alpha=-self.lr)
            m.mul_(self.beta2).add_(g, alpha=1 - self.beta2)

    def zero_grad(self):
        for p in self.params:
            p.grad = None


def storage_of(t):
    s = t.storage()
    return s.data_ptr(), s.nbytes()


def saved_bytes_at_backward(model, opt, images, labels):
    """Bytes of distinct tensor storages alive when backward starts: weights, Lion's moments,
    and whatever autograd saved for backward (the step's activations), each storage once."""
    seen = {}
    for t in list(model.parameters()) + opt.m:
        ptr, n = storage_of(t)
        seen[ptr] = n

    def pack(t):
        ptr, n = storage_of(t)
        seen[ptr] = n
        return t

    opt.zero_grad()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = F.cross_entropy(model(images), labels)
    total = sum(seen.values())
    loss.backward()
    opt.zero_grad()
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = every core)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads if args.threads > 0 else (os.cpu_count() or 1))
    torch.manual_seed(0)
    model = Atto()
    params = sum(p.numel() for p in model.parameters())
    opt = Lion(model.parameters())
    images = torch.randn(args.batch, 3, args.size, args.size)
    labels = torch.tensor([(i * 37) % NUM_CLASSES for i in range(args.batch)])
    times = []
    cpu_times = []
    loss_value = math.nan
    for i in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        c0 = time.process_time()
        opt.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        opt.step()
        loss_value = float(loss.detach())
        dt = (time.perf_counter() - t0) * 1000
        dc = (time.process_time() - c0) * 1000
        if i >= args.warmup:
            times.append(dt)
            cpu_times.append(dc)
    peak_tensor_bytes = saved_bytes_at_backward(model, opt, images, labels)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print("RESULT " + json.dumps({
        "backend": f"torch {torch.__version__} ({torch.get_num_threads()} threads)",
        "size": args.size, "batch": args.batch, "warmup": args.warmup, "steps": args.steps,
        "msPerStep": times, "cpuMsPerStep": cpu_times, "peakRss": peak_rss, "peakTfBytes": peak_tensor_bytes,
        "loss": loss_value, "params": params,
    }))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
