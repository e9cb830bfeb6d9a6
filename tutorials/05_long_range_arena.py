# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Long Range Arena on a CPU: offline ListOps and Pathfinder
#
# The Long Range Arena (LRA, Tay et al. 2021) is the paper's third experiment family: six
# classification tasks whose inputs are sequences of 1,000 to 16,000 tokens (Table 1 of
# Spieler et al. 2023). This notebook
#
# 1. generates ListOps expressions and Pathfinder images offline, in the LRA release's
#    layouts, and reads them back as integer token sequences;
# 2. trains an ELM neuron and a Chrono-LSTM on short generated ListOps and plots their
#    validation curves;
# 3. shows what the same commands look like on the real data.
#
# With the default parameters it runs in a few minutes on one CPU core.

# %%
import csv
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from elm_snn.lra.listops import ListOpsConfig, generate_listops
from elm_snn.lra.pathfinder import PathfinderConfig, generate_pathfinder
from elm_snn.lra.readers import ListOpsDataset, PathfinderDataset, collate_tokens
from elm_snn.tasks import resolve_config
from elm_snn.train.engine import train

# %% tags=["parameters"]
LISTOPS_TRAIN = 10000  # generated training expressions (the quick preset's size)
MAX_EPOCHS = 20  # training epochs per model (the quick preset's)
MODELS = ["elm", "chrono-lstm"]
PF_IMAGES = 16  # Pathfinder images to draw and show
EVAL_SAMPLES = 500  # validation / test expressions used
SEED = 0

# %% [markdown]
# ## 1. ListOps: expressions, labels, tokens
#
# A ListOps expression nests the operators `[MAX`, `[MIN`, `[MED` (median, rounded down)
# and `[SM` (sum modulo 10) over digits; the label is its value. `generate_listops` follows
# LRA's rules (operator probability 0.25 per node, 2 to `max_args` arguments, trees redrawn
# until their length is in range) and writes LRA's TSV files. Here the expressions are
# short (tree length 15 to 60) so that a CPU can learn something in minutes; LRA's are
# 500 to 2,000 tokens long.

# %%
work = Path(tempfile.mkdtemp(prefix="elm-snn-lra-"))
n_eval = max(200, LISTOPS_TRAIN // 10)
listops_cfg = ListOpsConfig(
    num_train=LISTOPS_TRAIN,
    num_val=n_eval,
    num_test=n_eval,
    min_length=15,
    max_length=60,
    max_depth=4,
    max_args=5,
    seed=SEED,
)
manifest = generate_listops(work / "listops", listops_cfg)
print((work / "listops" / "basic_train.tsv").read_text().splitlines()[1])
print("label counts (train):", manifest["splits"]["train"]["label_counts"])

# %% [markdown]
# The reader turns every expression into integer tokens (LRA's parentheses are dropped:
# the brackets already delimit the arguments). Batches stay integer `(T, B)` tensors; the
# one-hot encoding happens inside the model, right before the ELM.

# %%
ds = ListOpsDataset(work / "listops", "train")
tokens, label = ds[0]
print("tokens:", tokens[:20], "... label", label)
x, y = collate_tokens([ds[i] for i in range(4)])
print("batch:", tuple(x.shape), x.dtype, "(padded at the start, so every sequence ends last)")

# %% [markdown]
# ## 2. Pathfinder: are the two dots connected?
#
# `generate_pathfinder` draws two dashed target contours, shorter distractors and two
# markers: on the two ends of one contour (label 1) or on two different contours (label
# 0). Images go to LRA's `pathfinder32/curv_baseline/imgs/...` layout with metadata files.
# A model reads the image row by row as 1,024 grey levels (16 levels).

# %%
pf = PathfinderConfig(resolution=32, difficulty="easy", num_images=PF_IMAGES, seed=SEED)
generate_pathfinder(work / "pf", pf)
images = PathfinderDataset(work / "pf", "train", resolution=32, difficulty="easy")
n_show = min(8, len(images))
fig, axes = plt.subplots(1, n_show, figsize=(2 * n_show, 2.3))
for ax, i in zip(np.atleast_1d(axes), range(n_show), strict=False):
    seq, lab = images[i]
    ax.imshow(seq.reshape(32, 32), cmap="gray", vmin=0, vmax=15)
    ax.set_title("connected" if lab else "not connected", fontsize=9)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. ELM vs Chrono-LSTM on the generated ListOps
#
# `resolve_config(task, model, "quick")` gives the CPU preset (ELM with `d_m = 32`,
# Chrono-LSTM with 64 hidden units, Adam, lr 3e-3, batch 32); the `paper` preset has the
# appendix's values (ELM `d_m = 150`, lr 2e-4; Chrono-LSTM 150 units, lr 1e-3).

# %%
results = {}
for model in MODELS:
    cfg = resolve_config(
        "listops",
        model,
        "quick",
        data_root=str(work / "listops"),
        max_epochs=MAX_EPOCHS,
        val_samples=EVAL_SAMPLES,
        test_samples=EVAL_SAMPLES,
        seed=SEED,
        progress_bar=False,
        accelerator="cpu",
    )
    run_dir = work / f"run-{model}"
    results[model] = (train(cfg, run_dir), run_dir)
    print(
        f"{model}: test accuracy {results[model][0]['test_accuracy']:.3f}, "
        f"{results[model][0]['num_parameters']} parameters"
    )


# %%
def val_curve(run_dir: Path) -> list[float]:
    with open(run_dir / "logs" / "metrics.csv") as f:
        return [float(r["val_accuracy"]) for r in csv.DictReader(f) if r.get("val_accuracy")]


labels = ListOpsDataset(work / "listops", "test").labels[:EVAL_SAMPLES]
majority = np.bincount(labels, minlength=10).max() / len(labels)
for model, (_, run_dir) in results.items():
    curve = val_curve(run_dir)
    plt.plot(range(1, len(curve) + 1), curve, marker="o", label=model)
plt.axhline(majority, color="gray", ls="--", label="majority class")
plt.axhline(0.1, color="gray", ls=":", label="chance (1/10)")
plt.xlabel("epoch")
plt.ylabel("validation accuracy")
plt.legend()
plt.show()

# %% [markdown]
# ## 4. The same on the real data
#
# The tasks read the LRA release and the two public datasets in their usual layouts;
# nothing is downloaded (a missing folder error lists where it looked and how to get the
# data):
#
# ```bash
# elm-snn train --task listops      --model elm --data-root ~/data/lra_release
# elm-snn train --task retrieval    --model elm --data-root ~/data/lra_release
# elm-snn train --task pathfinder   --model elm --data-root ~/data/lra_release
# elm-snn train --task pathfinder-x --model elm --data-root ~/data/lra_release
# elm-snn train --task text         --model elm --data-root ~/data        # aclImdb/
# elm-snn train --task image        --model elm --data-root ~/data        # cifar-10-batches-py/
# ```
#
# and offline, `elm-snn train --task listops --model elm --preset quick --synthetic`
# generates the data above by itself.
