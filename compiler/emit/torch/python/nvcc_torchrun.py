"""`torchrun` that also works on Debian's torch 1.13 under Python 3.11: `python <pkg>/nvcc_torchrun.py ARGS`.

In: torchrun's own arguments. Out: the same launch as `torchrun ARGS`. Holds afterwards: on
torch 1.13 under Python 3.11 the `--redirects` / `--tee` values 0 and 3 parse (that torch looks
the value up by iterating its Std flag, and Python 3.11 no longer yields the zero and combined
members, so the default "0" became None and the launch failed); elsewhere nothing changes.
"""
import re
import sys

from torch.distributed.elastic.multiprocessing import api


def _patch_std() -> None:
    original = api.Std.from_str

    def from_str(vm: str):
        parsed = original(vm)
        if parsed is None and re.fullmatch(r"[0123]", vm):
            return api.Std(int(vm))
        if isinstance(parsed, dict):
            given = dict(part.split(":") for part in vm.split(","))
            return {k: (v if v is not None else api.Std(int(given[str(k)]))) for k, v in parsed.items()}
        return parsed

    api.Std.from_str = staticmethod(from_str)


if __name__ == "__main__":
    _patch_std()
    from torch.distributed.run import main

    sys.exit(main())
