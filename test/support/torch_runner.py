"""Runs models of torch builds for the differential tests (test/emit/torch-differential.test.ts).

In: argv[1], a JSON list of jobs: {package, model, weights, out, grads, mask, dropout_seed?}. `package` is a
folder written by `nvcc build --target torch`; `weights` a safetensors file holding the model's
state in PyTorch layout (keys = state_dict keys), the inputs `input:<name>` (rank-4 ones NCHW),
optionally `mask` ([N, gh, gw, 1], 1 = removed) and, for gradients, `upstream:<output>`.
Out: per job a safetensors file at `out` with `output:<name>` (as forward returns them) and,
with `grads`, `grad:<path>` for every parameter of sum(output * upstream) over the outputs.
Holds afterwards: the state is loaded with strict=True (the build's state_dict keys and shapes
must equal the given ones exactly); the model runs in eval mode, float32, on the CPU.
"""
import importlib.util
import json
import struct
import sys

import torch


def read_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        if info['dtype'] != 'F32':
            raise ValueError(f'{path}: {name} is {info["dtype"]}, expected F32')
        a, b = info['data_offsets']
        t = torch.frombuffer(bytearray(body[a:b]), dtype=torch.float32).clone()
        out[name] = t.reshape(info['shape'])
    return out


def write_safetensors(path, tensors):
    header = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        raw = t.numpy().tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


def load_package(folder, name):
    spec = importlib.util.spec_from_file_location(name, f'{folder}/__init__.py', submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run(job, index):
    pkg = load_package(job['package'], f'nvcc_build_{index}')
    layers = sys.modules[f'nvcc_build_{index}.nvcc_layers']
    model = pkg.build_model(job['model']).eval()
    tensors = read_safetensors(job['weights'])
    state = {k: v for k, v in tensors.items() if ':' not in k and k != 'mask'}
    model.load_state_dict(state, strict=True)
    inputs = [tensors[f'input:{n}'] for n in pkg.MODEL_INPUTS[job['model']]]
    mask = tensors.get('mask') if job.get('mask') else None
    source = None
    if job.get('dropout_seed') is not None:
        # Training mode, drop path and dropout drawn from nvcc's RNG as the tfjs engine draws them.
        rng = importlib.import_module(f'nvcc_build_{index}.nvcc_rng')
        model.train()
        source = layers.RandomSource(rng.create_rng(job['dropout_seed']))
    with layers.mask_context(mask), layers.random_source(source):
        out = model(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    names = pkg.MODEL_OUTPUTS[job['model']]
    result = {f'output:{n}': o for n, o in zip(names, outs)}
    if job.get('grads'):
        loss = sum((o * tensors[f'upstream:{n}']).sum() for n, o in zip(names, outs))
        loss.backward()
        for path, p in model.named_parameters():
            result[f'grad:{path}'] = p.grad if p.grad is not None else torch.zeros_like(p)
    write_safetensors(job['out'], result)


def main():
    torch.set_num_threads(1)
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    for i, job in enumerate(jobs):
        run(job, i)
    print(f'ran {len(jobs)} jobs with torch {torch.__version__}')


if __name__ == '__main__':
    main()
