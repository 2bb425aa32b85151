"""Reads shards with nvcc_data and compares batches with the tfjs pipeline's (written by the test)."""
import json
import sys

import numpy as np

import nvcc_data
import nvcc_rng
import nvcc_safetensors as st

folder, expected_path = sys.argv[1], sys.argv[2]
with open(expected_path + ".json") as f:
    cases = json.load(f)
tensors, _ = st.load(expected_path + ".safetensors")
data = nvcc_data.ShardData(folder)
out = {"sizes": {s: data.size(s) for s in nvcc_data.SPLITS}, "cases": []}
for i, case in enumerate(cases):
    rng = nvcc_rng.create_rng(case["seed"])
    batch = data.load(case["split"], case["indices"], case.get("augment"), rng)
    result = {"patients": batch.patient_ids, "labels": None if batch.labels is None else batch.labels.tolist()}
    for name, t in batch.inputs.items():
        ref = tensors[f"{i}.{name}"].numpy()
        mine = t.numpy()
        if mine.ndim == 4:  # NCHW here, NHWC in tfjs
            mine = mine.transpose(0, 2, 3, 1)
        result[name] = {"shape": list(mine.shape), "maxAbs": float(np.max(np.abs(mine - ref))) if ref.size else 0.0,
                        "equal": bool(np.array_equal(mine, ref))}
    result["rngAfter"] = rng.state()
    out["cases"].append(result)
print(json.dumps(out))
