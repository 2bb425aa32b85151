"""Training entry point of an nvcc torch build: `python <pkg>/train.py --run DIR`,
`torchrun --nproc_per_node N <pkg>/train.py --run DIR`, or as a module of the package
(`python -m <pkg>.train`, `torchrun ... -m <pkg>.train`) (flags: `--help`).

In: the package folder this file sits in (model.py, nvcc_layers.py, train_spec.json, the trainer
modules, and by default the data shards in `data/`). Out: the run folder nvcc_train.py writes.
Holds afterwards: the package's own modules are imported from this folder, so a copied folder
runs wherever Python and PyTorch are, without Node or nvcc.
"""
import importlib
import os
import sys


def _main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    import nvcc_train

    model = importlib.import_module(f"{__package__}.model") if __package__ else importlib.import_module("model")
    sys.exit(nvcc_train.main(model, here))


if __name__ == "__main__":
    _main()
