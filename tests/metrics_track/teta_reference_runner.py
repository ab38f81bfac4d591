"""Run SysCV/tet's ``teta`` toolkit on a TAO ground-truth file and a results file.

Usage: ``python teta_reference_runner.py <path to tet/teta> <gt.json> <results.json>``; prints the
"average" TETA summary (percent) as JSON at full precision. Used by the optional parity test.
"""
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, sys.argv[1])
from teta.config import get_default_dataset_config, get_default_eval_config  # noqa: E402
from teta.datasets import TAO  # noqa: E402
from teta.eval import Evaluator  # noqa: E402
from teta.metrics import TETA  # noqa: E402

FIELDS = ["TETA", "LocA", "AssocA", "ClsA", "LocRe", "LocPr", "AssocRe", "AssocPr", "ClsRe", "ClsPr"]
# the toolkit formats the summary with 5 significant digits; keep full precision instead
TETA._summary_row = lambda self, res: [100 * float(np.mean(res[h])) for h in self.summary_fields]

with tempfile.TemporaryDirectory() as tmp:
    data = os.path.join(tmp, "trackers", "ref", "data")
    os.makedirs(data)
    with open(sys.argv[3]) as f, open(os.path.join(data, "results.json"), "w") as g:
        g.write(f.read())
    eval_cfg = get_default_eval_config()
    eval_cfg.update(USE_PARALLEL=False, PRINT_CONFIG=False, TIME_PROGRESS=False, PRINT_RESULTS=False,
                    OUTPUT_SUMMARY=True, OUTPUT_TEM_RAW_DATA=False, LOG_ON_ERROR=None)
    ds_cfg = get_default_dataset_config()
    ds_cfg.update(GT_FOLDER=sys.argv[2], TRACKERS_FOLDER=os.path.join(tmp, "trackers"), TRACKERS_TO_EVAL=["ref"],
                  OUTPUT_FOLDER=os.path.join(tmp, "out"), PRINT_CONFIG=False)
    stdout = sys.stdout
    sys.stdout = open(os.devnull, "w")
    res, _ = Evaluator(eval_cfg).evaluate([TAO(ds_cfg)], [TETA(exhaustive=False)])
    sys.stdout = stdout
    print(json.dumps(dict(zip(FIELDS, res["TAO"]["TETA"]))))
