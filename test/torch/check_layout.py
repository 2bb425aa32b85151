"""Loads a PyTorch state dict the TS side wrote (moduleToTorchState) into real torch layers with
strict=True, runs the same forward pass, and writes the model back in the tfjs layout (nvcc_layout)."""
import json
import sys

import torch
from torch import nn

import nvcc_layout
import nvcc_safetensors as st
from tiny_model import GRN


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.dwconv = nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.pwconv1 = nn.Linear(4, 6)
        self.grn = GRN(6)

    def forward(self, x):  # NCHW in, NHWC out (as the tfjs side returns)
        y = self.dwconv(self.conv(x)).permute(0, 2, 3, 1)
        return self.grn(self.pwconv1(y))


folder = sys.argv[1]
state, _ = st.load(f"{folder}/torch-state.safetensors")
io, _ = st.load(f"{folder}/io.safetensors")
net = Net()
net.load_state_dict(state, strict=True)
with torch.no_grad():
    out = net(io["x"].permute(0, 3, 1, 2))
ref = io["y"]
st.save(f"{folder}/from-torch.safetensors", nvcc_layout.state_to_tfjs(net))
print(json.dumps({
    "maxAbs": float((out - ref).abs().max()),
    "scale": float(ref.abs().max()),
    "kinds": nvcc_layout.layout_kinds(net),
}))
