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
# # The authors' pre-trained Branch-ELM neurons
#
# Spieler et al. published Branch-ELM neurons trained on the real NeuronIO data (a detailed
# layer-5 pyramidal cell model: 1278 input synapses, soma voltage and output spikes). This
# notebook loads them with `elm_snn.compat.load_official_checkpoint`, looks at their memory
# timescales and synapse weights, runs them on NeuronIO-style input and places them on the
# authors' parameter-count / AUC curve.
#
# **Getting the checkpoints.** Clone or download the authors' repository
# [AaronSpieler/elmneuron](https://github.com/AaronSpieler/elmneuron) and point
# `MODELS_DIR` below at its `models/` folder (or set the environment variable
# `ELM_SNN_OFFICIAL_MODELS`). Each model is a folder with `model_config.json` and
# `neuronio_best_model_state.pt`; the optional `eval_results.csv` beside them lists the
# authors' results for their whole memory-size sweep. The state dicts are read with
# `torch.load(..., weights_only=True)`, so loading runs no code from the files.

# %%
import csv
import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from elm_snn.compat import load_official_checkpoint, neuronio_eval_transform

# %% tags=["parameters"]
MODELS_DIR = os.environ.get("ELM_SNN_OFFICIAL_MODELS", "elmneuron/models")
NEURONIO_FILE = None  # optional: a NeuronIO(-style) file to use instead of random input
BATCH = 2  # input sequences
T_STEPS = 300  # ms (1 ms per step)
SEED = 1

# %%
models_dir = Path(MODELS_DIR).expanduser()
folders = sorted(
    p
    for p in models_dir.glob("*")
    if (p / "model_config.json").is_file() and (p / "neuronio_best_model_state.pt").is_file()
)
if not folders:
    raise FileNotFoundError(
        f"MODELS_DIR={str(models_dir)!r} holds no official model folder (subfolders with "
        "model_config.json and neuronio_best_model_state.pt). Download the models/ folder "
        "of https://github.com/AaronSpieler/elmneuron and set MODELS_DIR to it."
    )
print("model folders:", [p.name for p in folders])

# %% [markdown]
# ## 1. Load them
#
# `load_official_checkpoint` reads the official constructor arguments and state dict and
# returns an `elm_snn.ELM` (with `batch_first=True`, like the official model) that
# reproduces the official outputs; the test suite checks this to float64 round-off against
# outputs computed with the authors' code.

# %%
models, stats = {}, {}
for folder in folders:
    model = load_official_checkpoint(folder).eval()
    models[folder.name] = model
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    stats_file = folder / "model_stats.json"
    reported = (
        json.loads(stats_file.read_text())["model_param_count"] if stats_file.is_file() else None
    )
    results_file = folder / "eval_results.json"
    test = json.loads(results_file.read_text())["test_results"] if results_file.is_file() else {}
    stats[folder.name] = dict(params=n_trainable, reported=reported, **test)
    print(
        f"{folder.name:18s} d_m={model.num_memory:3d}  branches={model.num_branches} x "
        f"{model.synapses_per_branch} synapses  MLP {model.mlp_activation:4s}  "
        f"params={n_trainable} (authors: {reported})  "
        f"test AUC={test.get('AUC', np.nan):.4f}  RMSE={test.get('soma_RMSE', np.nan):.3f} mV"
    )

# %% [markdown]
# ## 2. Timescales and synapse weights
#
# The memory timescales were not trained (`learn_memory_tau=False` in the official
# setting): they stay log-spaced between 1 and 150 ms. The synapse weights
# $w_s = \mathrm{relu}(w_{s,raw})$ were trained; a weight driven below zero silences its
# synapse. With the NeuronIO routing, synapse $j$ listens to input `synapse_index[j]`:
# indices below 639 are excitatory inputs, the rest inhibitory.

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
for name, model in models.items():
    tau = np.sort(model.tau_m.detach().numpy())
    axes[0].plot(np.arange(1, len(tau) + 1), tau, marker=".", label=name)
axes[0].set(xlabel="memory unit", ylabel=r"$\tau_m$ (ms)", yscale="log", title="memory timescales")
axes[0].legend(fontsize=8)

name = max(models, key=lambda k: models[k].num_memory)
model = models[name]
w_s = model.w_s.detach().numpy()
valid = model.synapse_mask.numpy() > 0
excitatory = model.synapse_index.numpy() < model.num_inputs // 2
bins = np.linspace(0, w_s[valid].max(), 40)
axes[1].hist(w_s[valid & excitatory], bins=bins, alpha=0.6, color="tab:red", label="excitatory")
axes[1].hist(w_s[valid & ~excitatory], bins=bins, alpha=0.6, color="tab:blue", label="inhibitory")
axes[1].set(xlabel="$w_s$", ylabel="synapses", title=f"synapse weights ({name})")
axes[1].legend(fontsize=8)

per_branch = (w_s * valid).reshape(model.num_branches, model.synapses_per_branch)
exc_branch = (per_branch * excitatory.reshape(per_branch.shape)).sum(1)
inh_branch = (per_branch * ~excitatory.reshape(per_branch.shape)).sum(1)
axes[2].bar(np.arange(model.num_branches), exc_branch, color="tab:red", label="excitatory")
axes[2].bar(np.arange(model.num_branches), -inh_branch, color="tab:blue", label="inhibitory")
axes[2].set(xlabel="branch", ylabel=r"$\sum w_s$ (inh. negative)", title="weight per branch")
fig.tight_layout()
plt.show()
print(
    f"{name}: {int(valid.sum())} valid synapses, {int((w_s[valid] == 0).sum())} silenced "
    f"(w_s = 0), mean w_s excitatory {w_s[valid & excitatory].mean():.3f}, "
    f"inhibitory {w_s[valid & ~excitatory].mean():.3f}"
)

# %% [markdown]
# ## 3. Run them on NeuronIO-style input
#
# The official loader feeds the model a binary spike raster times the synapse type:
# excitatory inputs (channels 0-638) are +1, inhibitory ones (639-1277) are -1. Without a
# NeuronIO file we draw Poisson input at 15 Hz per excitatory and 5 Hz per inhibitory
# synapse (enough to drive the trained neurons to fire, like the fixtures' `X_active`).
# With `NEURONIO_FILE` set (a real NeuronIO file, or one generated with
# `elm-snn data neuronio-sim`), its first simulations are used and the targets are shown too.

# %%
num_inputs = model.num_inputs
half = num_inputs // 2
sign = torch.cat([torch.ones(half), -torch.ones(num_inputs - half)])
target = None
if NEURONIO_FILE is None:
    gen = torch.Generator().manual_seed(SEED)
    p = torch.cat([torch.full((half,), 0.015), torch.full((num_inputs - half,), 0.005)])
    raster = (torch.rand(BATCH, T_STEPS, num_inputs, generator=gen) < p).float()
else:
    from elm_snn.data.neuronio import read_neuronio_file

    data = read_neuronio_file(NEURONIO_FILE)
    if data.num_inputs != num_inputs:
        raise ValueError(f"NEURONIO_FILE has {data.num_inputs} inputs, the models {num_inputs}")
    n_sims = min(BATCH, data.num_simulations)
    stop = min(T_STEPS, data.duration_ms)
    rasters = [data.input_raster(s, 0, stop).T.astype(np.float32) for s in range(n_sims)]
    raster = torch.from_numpy(np.stack(rasters))
    target = {
        "spikes": np.stack([data.output_raster(s, 0, stop) for s in range(n_sims)]),
        "soma_mv": np.stack([data.soma_voltage_mv[s, :stop] for s in range(n_sims)]),
    }
X = raster * sign  # (B, T, 1278), signed as the official loader does
print("input", tuple(X.shape), f"{int(raster.sum())} spikes")

# %% [markdown]
# `neuronio_eval_transform` applies the official evaluation transform: channel 0 becomes a
# spike probability (sigmoid of the logit), channel 1 the soma voltage in mV relative to
# the -67.7 mV training bias. `return_states=True` also records the memory and the branch
# inputs at every step.

# %%
runs = {}
with torch.no_grad():
    for key, m in models.items():
        y, _, record = m(X, return_states=True)
        runs[key] = (neuronio_eval_transform(y), record)
        out = runs[key][0]
        print(
            f"{key:18s} max spike probability {out[..., 0].max():.3f}, soma "
            f"{out[..., 1].min():+.1f} .. {out[..., 1].max():+.1f} mV (relative to -67.7 mV)"
        )

# %% [markdown]
# The neuron's dynamics on the first sequence, in the style of Fig. S9 of the paper:
# (a) input spikes, (b) predicted spike probability and soma voltage (with the target when
# a NeuronIO file was given), (c) the summed synaptic input of 20 branches, (d) the memory
# units coloured by timescale.

# %%
out, record = runs[name]
t = np.arange(X.shape[1])
tau = model.tau_m.detach().numpy()
fig, axes = plt.subplots(5, 1, figsize=(9, 10), sharex=True)
ts, ch = np.nonzero(raster[0].numpy())
axes[0].scatter(ts, ch, s=0.5, c=np.where(ch < half, "tab:red", "tab:blue"))
axes[0].set(ylabel="input", title=f"(a) input spikes ({name})")
axes[1].plot(t, out[0, :, 1].numpy(), color="k", label="predicted")
if target is not None:
    soma_rel = np.minimum(target["soma_mv"][0], -55.0) + 67.7
    axes[1].plot(t, soma_rel, color="tab:orange", alpha=0.8, label="target (capped)")
    axes[1].legend(fontsize=8)
axes[1].set(ylabel="soma (mV, rel.)", title="(b) soma voltage")
axes[2].plot(t, out[0, :, 0].numpy(), color="k")
if target is not None:
    for spike_time in np.nonzero(target["spikes"][0])[0]:
        axes[2].axvline(spike_time, color="tab:orange", lw=1)
axes[2].set(ylabel="P(spike)", title="    spike probability")
rng = np.random.default_rng(SEED)
for k in rng.choice(model.num_branches, size=min(20, model.num_branches), replace=False):
    axes[3].plot(t, record.branch_input[0, :, k].numpy(), lw=0.7)
axes[3].set(ylabel="branch input", title="(c) 20 branches")
for j in range(model.num_memory):
    axes[4].plot(
        t,
        record.memory[0, :, j].numpy(),
        lw=0.7,
        color=plt.cm.viridis(np.log(tau[j]) / np.log(tau.max())),
    )
axes[4].set(xlabel="time (ms)", ylabel="$m_t$", title=r"(d) memory (colour: $\log\,\tau_m$)")
fig.tight_layout()
plt.show()

# %% [markdown]
# With a NeuronIO file, the paper's metrics (spike AUC, soma RMSE in mV) on these few
# sequences. On data generated by our own NEURON model rather than the authors' L5PC they
# measure how far that cell is from the one the checkpoints were trained on, not the
# checkpoints' quality.

# %%
if target is not None:
    from elm_snn.metrics import spike_and_soma_metrics

    soma_true = np.minimum(target["soma_mv"], -55.0) + 67.7
    for key, (out, _) in runs.items():
        metrics = spike_and_soma_metrics(
            target["spikes"], out[..., 0].numpy(), soma_true, out[..., 1].numpy()
        )
        print(f"{key:18s} AUC {metrics['AUC']:.4f}  soma RMSE {metrics['soma_RMSE']:.3f} mV")
else:
    print("no NEURONIO_FILE given: no targets to compare with")

# %% [markdown]
# ## 4. Parameters against accuracy
#
# The authors' sweep over the number of memory units ($d_m$ = 1 to 100), evaluated on the
# real NeuronIO test set (`eval_results.csv`), with the checkpoints loaded above marked by
# their own `eval_results.json`. Few memory units already give a good spike AUC; the
# benefit flattens beyond ~20 units (about 8K parameters).

# %%
csv_path = models_dir / "eval_results.csv"
if csv_path.is_file():
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    params = np.array([float(r["model_stats.model_param_count"]) for r in rows])
    auc = np.array([float(r["test_results.AUC"]) for r in rows])
    rmse = np.array([float(r["test_results.soma_RMSE"]) for r in rows])
    d_m = np.array([int(r["model_config.num_memory"]) for r in rows])
    order = np.argsort(params)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    axes[0].plot(params[order], auc[order], marker="o", color="grey", label="authors' sweep")
    axes[1].plot(params[order], rmse[order], marker="o", color="grey", label="authors' sweep")
    for i in order[:: max(1, len(order) // 7)]:
        axes[0].annotate(f"d_m={d_m[i]}", (params[i], auc[i]), fontsize=7)
    for key, s in stats.items():
        if "AUC" in s:
            axes[0].scatter(s["params"], s["AUC"], s=60, zorder=3, label=key)
            axes[1].scatter(s["params"], s["soma_RMSE"], s=60, zorder=3, label=key)
    axes[0].set(xscale="log", xlabel="trainable parameters", ylabel="test spike AUC")
    axes[1].set(xscale="log", xlabel="trainable parameters", ylabel="test soma RMSE (mV)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    plt.show()
else:
    print(f"{csv_path} not found: skipping the sweep plot")
