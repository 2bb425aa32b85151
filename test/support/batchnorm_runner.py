"""Runs a torch build's model in training and evaluation mode (test/emit/batchnorm-engines.test.ts).

In: argv[1] a torch build folder, argv[2] the model key, argv[3] a safetensors file with the
state in PyTorch layout (keys = state_dict keys; num_batches_tracked as an integer), `input`
(NCHW) and `upstream`; argv[4] the output file. Out: `eval`, the output of model.eval(); `train`,
the output of model.train() on the same batch; `grad:<path>` of sum(train * upstream) for every
parameter; `state:<key>` the state_dict after the training pass (running statistics moved,
num_batches_tracked counted). Holds: the state is loaded with strict=True.
"""
import importlib.util
import sys

import torch


def load_package(folder, name):
    spec = importlib.util.spec_from_file_location(name, f'{folder}/__init__.py', submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main():
    torch.set_num_threads(1)
    folder, key, state_file, out_file = sys.argv[1:5]
    pkg = load_package(folder, 'nvcc_bn_build')
    st = importlib.import_module('nvcc_bn_build.nvcc_safetensors')
    tensors, _ = st.load(state_file)
    model = pkg.build_model(key)
    state = {k: v for k, v in tensors.items() if k not in ('input', 'upstream')}
    model.load_state_dict(state, strict=True)
    x = tensors['input']
    result = {}
    with torch.no_grad():
        result['eval'] = model.eval()(x)
    out = model.train()(x)
    (out * tensors['upstream']).sum().backward()
    result['train'] = out.detach()
    for path, p in model.named_parameters():
        result[f'grad:{path}'] = p.grad
    for k, v in model.state_dict().items():
        result[f'state:{k}'] = v.to(torch.int32) if not v.is_floating_point() else v
    st.save(out_file, result)
    print('ok')


if __name__ == '__main__':
    main()
