"""Training-step throughput of nvcc's PyTorch target next to the same step written by hand.

In: a folder made by bench/torch-gpu.sh (this file plus packages built with `nvcc build --target
torch`), options --device, --steps, --warmup, --batch, --size, --no-compile, --no-bf16, --models.
Out: one table (per model: images/s, ms/step, peak memory, parameter count; for a ConvNeXt-V2
classifier also a plain-PyTorch twin of the same depths and widths and the ratio generated/twin)
and one line `RESULT {json}` with the same figures. Needs Python and torch only (no Node, no nvcc):
it runs on torch 1.13 (CPU) and on torch 2.x with CUDA, and detects torch.compile (2.0+), bf16
autocast (CUDA with bf16 support) and channels_last itself.

Each step: forward under autocast, cross entropy against random labels, backward, AdamW step.
Inputs are random: images [B, 3, S, S] (channels_last), lab vectors [B, --labs]. Warm-up steps
(which include compilation) are not timed; on CUDA the timer starts and stops after
torch.cuda.synchronize(). Peak memory is torch.cuda.max_memory_allocated per model on CUDA and
the process's peak RSS (ru_maxrss, so it only grows from model to model) on CPU.
"""
import argparse
import copy
import importlib
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
# package:model, as bench/torch-gpu.sh builds them (the fine-tune stage of MED-NVC, base variant).
DEFAULT_MODELS = 'convnextv2:convnextv2_base,mednvc:finetune'
DEFAULT_BATCH = {'convnextv2_base': 64, 'finetune': 24}


# ---------------------------------------------------------------------------------------------
# The hand-written twin: ConvNeXt-V2 in plain PyTorch, NCHW outside the blocks, NHWC inside.


def _norm_channels(x, norm):
    """LayerNorm over the channel axis of an NCHW tensor."""
    return norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class HandGRN(nn.Module):
    def __init__(self, width, eps=1e-6):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(width))
        self.beta = nn.Parameter(torch.zeros(width))
        self.eps = eps

    def forward(self, x):  # x: NHWC
        spatial = torch.sqrt((x * x).sum(dim=(1, 2), keepdim=True))
        scale = spatial / (spatial.mean(dim=-1, keepdim=True) + self.eps)
        return x + self.beta + self.gamma * (x * scale)


class HandBlock(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.dwconv = nn.Conv2d(width, width, 7, padding=3, groups=width)
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.pwconv1 = nn.Linear(width, 4 * width)
        self.grn = HandGRN(4 * width)
        self.pwconv2 = nn.Linear(4 * width, width)

    def forward(self, x):  # x: NCHW
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.grn(F.gelu(self.pwconv1(self.norm(y)))))
        return x + y.permute(0, 3, 1, 2)


class HandConvNeXtV2(nn.Module):
    def __init__(self, depths, dims, in_chans=3, num_classes=1000):
        super().__init__()
        self.stem = nn.Conv2d(in_chans, dims[0], 4, stride=4)
        self.stem_norm = nn.LayerNorm(dims[0], eps=1e-6)
        self.down_norms = nn.ModuleList(nn.LayerNorm(d, eps=1e-6) for d in dims[:-1])
        self.down_convs = nn.ModuleList(nn.Conv2d(a, b, 2, stride=2) for a, b in zip(dims[:-1], dims[1:]))
        self.stages = nn.ModuleList(nn.Sequential(*[HandBlock(d) for _ in range(n)]) for n, d in zip(depths, dims))
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Linear(dims[-1], num_classes)

    def forward(self, x):
        x = _norm_channels(self.stem(x), self.stem_norm)
        for i, stage in enumerate(self.stages):
            if i > 0:
                x = self.down_convs[i - 1](_norm_channels(x, self.down_norms[i - 1]))
            x = stage(x)
        return self.head(self.norm(x.mean(dim=(2, 3))))


def convnext_shape(model):
    """(depths, dims, in_chans, num_classes) of a generated ConvNeXt-V2 classifier, or None."""
    if not all(hasattr(model, n) for n in ('downsample_layers', 'stages', 'head')):
        return None
    depths = [len(stage) for stage in model.stages]
    dims = [stage[0].dwconv.weight.shape[0] for stage in model.stages]
    in_chans = model.downsample_layers[0][0].weight.shape[1]
    return depths, dims, in_chans, model.head.weight.shape[0]


def twin_state(generated_state):
    """The generated classifier's state dict under the twin's names (the layouts are the same)."""
    renamed = {}
    for key, value in generated_state.items():
        parts = key.split('.')
        if parts[0] == 'downsample_layers':
            stage, part, rest = int(parts[1]), int(parts[2]), '.'.join(parts[3:])
            if stage == 0:
                key = ('stem.' if part == 0 else 'stem_norm.') + rest
            else:
                key = f"{'down_norms' if part == 0 else 'down_convs'}.{stage - 1}.{rest}"
        renamed[key] = value
    return renamed


def twin_difference(generated, twin, inputs):
    """Largest absolute output difference and largest output (float32, eval mode) of copies of the two models given the
    same random weights (random also where the initialisation is zero, e.g. GRN, so every layer counts)."""
    generated, twin = copy.deepcopy(generated), copy.deepcopy(twin)
    generator = torch.Generator().manual_seed(1)
    state = {k: 0.05 * torch.randn(v.shape, generator=generator) for k, v in generated.state_dict().items()}
    generated.load_state_dict(state, strict=True)
    twin.load_state_dict(twin_state(state), strict=True)
    device = inputs[0].device
    generated.to(device).eval()
    twin.to(device).eval()
    with torch.no_grad():
        expected = generated(*inputs).float()
        return float((expected - twin(*inputs).float()).abs().max()), float(expected.abs().max())


# ---------------------------------------------------------------------------------------------
# One measured training loop.


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def make_inputs(names, args, device):
    """Random forward inputs in declared order: rank-4 images for image inputs, lab vectors else."""
    tensors = []
    for name in names:
        if name in ('labs', 'lab', 'tabular'):
            tensors.append(torch.randn(args.batch_for, args.labs, device=device))
        else:
            image = torch.randn(args.batch_for, 3, args.size, args.size, device=device)
            tensors.append(image.contiguous(memory_format=torch.channels_last) if args.channels_last else image)
    return tensors


def measure(model, inputs, args, device):
    model = model.to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, weight_decay=0.05)
    step_model = torch.compile(model) if args.compile else model
    with torch.no_grad():
        classes = model_output(step_model, inputs, args, device).shape[-1]
    labels = torch.randint(0, classes, (inputs[0].shape[0],), device=device)
    cuda = device.type == 'cuda'
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast(args, device):
            out = step_model(*inputs)
            if isinstance(out, (tuple, list)):
                out = out[0]
            loss = F.cross_entropy(out.float(), labels)
        loss.backward()
        optimizer.step()
        return loss

    for _ in range(args.warmup):
        step()
    if cuda:
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    if cuda:
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    if cuda:
        peak = torch.cuda.max_memory_allocated(device)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    return {
        'images_per_s': args.steps * inputs[0].shape[0] / seconds if seconds > 0 else math.inf,
        'ms_per_step': 1000 * seconds / args.steps,
        'peak_bytes': int(peak),
        'parameters': parameter_count(model),
        'last_loss': float(loss.detach().float().cpu()),
    }


def model_output(model, inputs, args, device):
    with autocast(args, device):
        out = model(*inputs)
    return out[0] if isinstance(out, (tuple, list)) else out


def autocast(args, device):
    if not args.bf16:
        return _Null()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ---------------------------------------------------------------------------------------------


def load_package(name):
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    try:
        return importlib.import_module(name)
    except ImportError as error:
        sys.exit(f'torch_gpu.py: no built package {name!r} next to {__file__} ({error}); run bench/torch-gpu.sh')


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', choices=['cuda', 'cpu'], default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--steps', type=int, default=20)
    p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--batch', type=int, default=None,
                   help='one batch for every model (default: 64 ConvNeXt-V2-B, 24 MED-NVC)')
    p.add_argument('--size', type=int, default=224)
    p.add_argument('--labs', type=int, default=14, help='width of lab-vector inputs')
    p.add_argument('--no-compile', action='store_true')
    p.add_argument('--no-bf16', action='store_true')
    p.add_argument('--no-channels-last', action='store_true')
    p.add_argument('--check-twin', action='store_true',
                   help='before timing, load the generated weights into the twin and report the output difference')
    p.add_argument('--models', default=DEFAULT_MODELS, help=f'package:model,... (default {DEFAULT_MODELS})')
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        p.error('--steps must be at least 1 and --warmup at least 0')
    if args.device == 'cuda' and not torch.cuda.is_available():
        p.error('--device cuda: torch sees no CUDA device (torch %s)' % torch.__version__)
    return args


def main(argv):
    args = parse_args(argv)
    device = torch.device(args.device)
    args.compile = hasattr(torch, 'compile') and not args.no_compile
    # bf16 autocast only where it is fast: CUDA with bf16 support (CPU autocast works but is slow).
    args.bf16 = not args.no_bf16 and device.type == 'cuda' and torch.cuda.is_bf16_supported()
    args.channels_last = not args.no_channels_last
    rows = []
    for entry in args.models.split(','):
        package_name, _, model_name = entry.partition(':')
        package = load_package(package_name)
        args.batch_for = args.batch or DEFAULT_BATCH.get(model_name, 32)
        torch.manual_seed(0)
        generated = package.build_model(model_name)
        inputs = make_inputs(package.MODEL_INPUTS[model_name], args, device)
        shape = convnext_shape(generated)
        twin = None
        if shape is not None:
            depths, dims, in_chans, classes = shape
            torch.manual_seed(0)
            twin = HandConvNeXtV2(depths, dims, in_chans, classes)
            if args.check_twin:
                check_difference = twin_difference(generated, twin, inputs)
        row = {'model': entry, 'batch': args.batch_for, 'generated': measure(generated, inputs, args, device)}
        del generated
        if twin is not None:
            if args.check_twin:
                row['twin_max_abs_difference'], row['twin_check_output_max'] = check_difference
            row['handwritten'] = measure(twin, inputs, args, device)
            row['ratio'] = row['generated']['images_per_s'] / row['handwritten']['images_per_s']
            del twin
        rows.append(row)
    settings = {
        'torch': torch.__version__,
        'device': torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu',
        'compile': args.compile,
        'bf16': args.bf16,
        'channels_last': args.channels_last,
        'size': args.size,
        'steps': args.steps,
        'warmup': args.warmup,
    }
    print_table(rows, settings)
    print('RESULT ' + json.dumps({'settings': settings, 'models': rows}))


def print_table(rows, settings):
    print(', '.join(f'{k} {v}' for k, v in settings.items()))
    header = f"{'model':<28} {'which':<12} {'batch':>5} {'images/s':>10} {'ms/step':>9} {'peak MiB':>9} {'params':>12}"
    print(header)
    print('-' * len(header))
    for row in rows:
        for which in ('generated', 'handwritten'):
            if which not in row:
                continue
            m = row[which]
            print(
                f"{row['model']:<28} {which:<12} {row['batch']:>5} {m['images_per_s']:>10.2f} "
                f"{m['ms_per_step']:>9.1f} {m['peak_bytes'] / 2**20:>9.0f} {m['parameters']:>12,}"
            )
        if 'ratio' in row:
            ratio = f"{row['ratio']:>9.3f}x"
            print(f"{row['model']:<28} {'ratio':<12} {'':>5} {ratio}  (generated / hand-written, target >= 0.9x)")


if __name__ == '__main__':
    main(sys.argv[1:])
