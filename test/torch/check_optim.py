"""Applies nvcc_optim's Lion and AdamW to the params/grads the test wrote and compares with tfjs's results."""
import json
import sys

import torch

import nvcc_optim
import nvcc_safetensors as st

base = sys.argv[1]
cfg = json.load(open(base + ".json"))
t, _ = st.load(base + ".safetensors")
out = {}
for case in cfg["cases"]:
    name = case["name"]
    params = []
    for p in cfg["params"]:
        param = torch.nn.Parameter(t[f"init.{p['path']}"].clone(), requires_grad=p["trainable"])
        params.append((p["path"], param, p["noDecay"]))
    o = case["optimizer"]
    if o["kind"] == "lion":
        opt = nvcc_optim.Lion(params, o["beta1"], o["beta2"], o["weightDecay"], o.get("clip"))
    else:
        opt = nvcc_optim.AdamW(params, o["beta1"], o["beta2"], o["eps"], o["weightDecay"], o.get("clip"))
    signs = {"checked": 0, "agree": 0}
    for s, lr in enumerate(case["lrs"]):
        before = {path: p.detach().clone() for path, p, _ in params}
        moments = {k: v.clone() for k, v in opt.slots.items()}
        for path, p, _ in params:
            p.grad = t[f"grad{s}.{path}"].clone() if p.requires_grad else None
        # Lion's update input c = beta1 m + (1 - beta1) g (with the clipped gradient).
        if o["kind"] == "lion":
            active = [(path, p) for path, p, _ in params if p.requires_grad]
            scale = 1.0
            if o.get("clip") is not None:
                norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for _, p in active))
                scale = float(torch.clamp(o["clip"] / (norm + 1e-6), max=1.0))
            c = {path: moments.get(f"{path}#m", torch.zeros_like(p)) * o["beta1"] + p.grad * scale * (1 - o["beta1"])
                 for path, p in active}
        opt.step(lr)
        if o["kind"] == "lion":
            for path, p, nd in params:
                if not p.requires_grad:
                    continue
                wd = 0.0 if nd else o["weightDecay"]
                ts_after = t[f"{name}.step{s}.{path}"]
                u_ts = torch.round((before[path] - ts_after) / lr - wd * before[path])
                big = c[path].abs() > 1e-6
                signs["checked"] += int(big.sum())
                signs["agree"] += int((u_ts[big] == torch.sign(c[path][big])).sum())
    worst = 0.0
    for path, p, _ in params:
        ref = t[f"{name}.final.{path}"]
        err = float(torch.linalg.norm(p.detach() - ref) / max(float(torch.linalg.norm(ref)), 1e-12))
        worst = max(worst, err)
    out[name] = {"normwise": worst, "signs": signs, "groups": opt.groups()}
print(json.dumps(out))
