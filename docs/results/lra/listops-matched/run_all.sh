#!/bin/bash
# ListOps matched-size grid (issue 24 item 4): lr sweep on seed 0, selection on validation, seeds 0-2.
set -u
cd /work/wt-24
PY="env PYTHONPATH=/work/wt-24 OMP_NUM_THREADS=1 /work/main/.venv/bin/python"
ROOT=/work/runs/listops-matched
COMMON="--task listops --num-memory 147 --preset quick --synthetic --workers 2 --quiet"
echo "start $(date -u +%FT%TZ) commit $(git rev-parse HEAD)"
for lr in 3e-3 1e-3 1e-2; do
  echo "sweep lr=$lr $(date -u +%T)"
  /usr/bin/time -f "TIME lr$lr user=%U sys=%S wall=%e" $PY -m elm_snn.train.cli compare $COMMON --models elm chrono-lstm --lr $lr --seeds 0 --out $ROOT/lr$lr
done
echo "select $(date -u +%T)"
$PY - > $ROOT/driver/selection.txt <<'PY'
import json, pathlib
root = pathlib.Path("/work/runs/listops-matched")
lrs = ["1e-3", "3e-3", "1e-2"]  # ties -> the smaller lr
for model in ["elm", "chrono-lstm"]:
    best = None
    for lr in lrs:
        m = json.loads((root / f"lr{lr}" / f"{model}-bin1ms-seed0" / "metrics.json").read_text())
        v = m["best_val_accuracy"]
        if best is None or v > best[1]:
            best = (lr, v)
    print(model, best[0], best[1])
PY
cat $ROOT/driver/selection.txt
ELM_LR=$(awk '$1=="elm"{print $2}' $ROOT/driver/selection.txt)
LSTM_LR=$(awk '$1=="chrono-lstm"{print $2}' $ROOT/driver/selection.txt)
if [ "$ELM_LR" = "$LSTM_LR" ]; then
  /usr/bin/time -f "TIME seeds-both user=%U sys=%S wall=%e" $PY -m elm_snn.train.cli compare $COMMON --models elm chrono-lstm --lr $ELM_LR --seeds 0 1 2 --out $ROOT/lr$ELM_LR
else
  /usr/bin/time -f "TIME seeds-elm user=%U sys=%S wall=%e" $PY -m elm_snn.train.cli compare $COMMON --models elm --lr $ELM_LR --seeds 0 1 2 --out $ROOT/lr$ELM_LR
  /usr/bin/time -f "TIME seeds-lstm user=%U sys=%S wall=%e" $PY -m elm_snn.train.cli compare $COMMON --models chrono-lstm --lr $LSTM_LR --seeds 0 1 2 --out $ROOT/lr$LSTM_LR
fi
echo "done $(date -u +%FT%TZ)"
