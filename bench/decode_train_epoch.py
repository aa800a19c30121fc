"""Benchmark (CPU): train_model seconds per epoch with this checkout's decoder vs an older
checkout's (issue 17: the torch decoder of device_decode replaced genostore's numpy one).

    git archive dd85be7 workflow/liftgwas | tar -x -C /tmp/old
    for i in 1 2 3; do for r in /tmp/old/workflow workflow; do python bench/decode_train_epoch.py $r; done; done

One JSON line per run (2 torch threads, batch 128, a toy cohort of 2,000 x 6,000 written once
to bench/work/decode_train_epoch, 3 epochs, architectures 32x16 and 128x256) with the
1-minute load average; bench/results/decode_device_train_epoch.json holds such runs.
"""

import json
import os
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(sys.argv[1]).resolve()))  # the checkout's workflow/ to measure
sys.path.insert(0, str(ROOT / "tests"))

import torch  # noqa: E402

from toydata import write_toy_cohort  # noqa: E402
from liftgwas.data import load_training_data  # noqa: E402
from liftgwas.train import TrainSettings, train_model  # noqa: E402

torch.set_num_threads(2)
work = ROOT / "bench/work/decode_train_epoch"
if (work / "cohort.pkl").exists():
    cohort = pickle.loads((work / "cohort.pkl").read_bytes())
else:
    cohort = write_toy_cohort(work, n_samples=2000, n_snps=6000)
    (work / "cohort.pkl").write_bytes(pickle.dumps(cohort))
data = load_training_data(cohort["store"], cohort["fam"], cohort["traits"], cohort["covariates"], cohort["split"],
                          cohort["kind"], cohort["kind"], True)
out = {"root": sys.argv[1]}
for arch in ("32x16", "128x256"):
    settings = TrainSettings(arch=arch, l1=1.0, l1_scaling="sum_over_n_train", seed=1, batch_size=128,
                             learning_rate=1e-3, max_epochs=3, patience=3)
    t = time.perf_counter()
    _, metrics = train_model(data, settings, device=torch.device("cpu"))
    out[arch] = {"seconds_per_epoch": metrics["seconds_per_epoch"], "wall_s": time.perf_counter() - t}
out["load_average_1min"] = os.getloadavg()[0]
print(json.dumps(out))
