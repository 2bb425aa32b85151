"""A small hand-written model in the shape of an nvcc torch build's model.py, for the trainer tests:
a masked autoencoder stage and a classifier taking its encoder plus lab values. It uses the layer
kinds whose layouts differ between the engines (Linear, Conv2d, depthwise Conv2d, GRN, LayerNorm)
and sees the mask through a mask context, as generated code does through nvcc_layers; GRN gamma/beta
are [C] and the noDecay paths are listed in MODEL_NO_DECAY, as the torch build writes them."""
import contextlib

import torch
from torch import nn

_MASK = []


@contextlib.contextmanager
def mask_context(mask):
    _MASK.append(mask)
    try:
        yield
    finally:
        _MASK.pop()


class GRN(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(dim))
        self.beta = nn.Parameter(torch.zeros(dim))

    def forward(self, x):  # NHWC
        gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class Encoder(nn.Module):
    def __init__(self, dim=6, patch=4):
        super().__init__()
        self.stem = nn.Conv2d(1, dim, patch, stride=patch)
        self.dwconv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 2 * dim)
        self.grn = GRN(2 * dim)
        self.pwconv2 = nn.Linear(2 * dim, dim)

    def forward(self, x):
        x = self.stem(x)
        if _MASK:
            x = x * (1 - _MASK[-1][:, None])  # the mask comes as [N, gh, gw], as nvcc_layers takes it
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.grn(torch.nn.functional.gelu(self.pwconv1(self.norm(y)))))
        return x + y.permute(0, 3, 1, 2)


class TinyMAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.pred = nn.Conv2d(6, 16, 1)

    def forward(self, xray):
        return self.pred(self.encoder(xray))


class TinyClassifier(nn.Module):
    def __init__(self, labs):
        super().__init__()
        self.enc = Encoder()
        self.lab = nn.Linear(labs, 6)
        self.head = nn.Linear(12, 2)

    def forward(self, xray, labs):
        f = self.enc(xray).mean(dim=(2, 3))
        return self.head(torch.cat([f, torch.tanh(self.lab(labs))], 1))


MODEL_INPUTS = {"pretrain": ["xray"], "finetune": ["xray", "labs"]}
MODEL_OUTPUTS = {"pretrain": ["pred"], "finetune": ["logits"]}
_FLAGGED = ["stem.bias", "dwconv.bias", "norm.weight", "norm.bias", "pwconv1.bias", "grn.gamma", "grn.beta",
            "pwconv2.bias"]
MODEL_NO_DECAY = {"pretrain": [f"encoder.{p}" for p in _FLAGGED] + ["pred.bias"],
                  "finetune": [f"enc.{p}" for p in _FLAGGED] + ["lab.bias", "head.bias"]}
LABS = 14


def build_model(name):
    return TinyMAE() if name == "pretrain" else TinyClassifier(LABS)
