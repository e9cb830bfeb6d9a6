# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # ELM basics
#
# This notebook builds an Expressive Leaky Memory (ELM) neuron, feeds it spikes, looks
# inside it (synaptic traces, memory units and their timescales, like Fig. S9 of
# Spieler et al. 2023), and then trains a small network that mixes ELM and snnTorch
# `Leaky` layers on a task that needs memory.
#
# Everything runs on a CPU in a minute or two with the default parameters below.

# %%
import matplotlib.pyplot as plt
import numpy as np
import snntorch as snn
import torch
from snntorch import surrogate
from torch import nn

import elm_snn
from elm_snn import viz
from elm_snn.functional import memory_gain

# %% tags=["parameters"]
N_EPOCHS = 5  # training epochs for each network in part 3
N_TRAIN = 256  # training sequences
N_TEST = 256  # test sequences
BATCH_SIZE = 32
NUM_MEMORY = 16  # ELM memory units (paper: d_m)
SEED = 0

# %% [markdown]
# ## 1. One ELM neuron, step by step
#
# `ELMCell` advances one time step: `y_t, state = cell(x_t, state)`. Its arguments use the
# paper's quantities with times in milliseconds: `num_memory` is $d_m$, `tau_m_min` /
# `tau_m_max` bound the memory timescales $\tau_m$, `tau_s` is the synaptic trace
# timescale, `lambda_value` is $\lambda$ and `dt` the time step.

# %%
torch.manual_seed(SEED)
NUM_INPUTS = 8
cell = elm_snn.ELMCell(
    NUM_INPUTS, num_memory=10, num_outputs=2, tau_m_min=1.0, tau_m_max=150.0, dt=1.0
)
print(cell)
print("tau_m (ms):", np.round(cell.tau_m.detach().numpy(), 1))
print("kappa_m   :", np.round(cell.kappa_m.detach().numpy(), 3))

# %% [markdown]
# The initial timescales are log-spaced between the bounds (the official code's choice).
# With $\kappa_m = e^{-\Delta t/\tau_m}$, a memory unit left alone decays like
# $e^{-t/\tau_m}$:

# %%
t = np.arange(300)
fig, ax = plt.subplots(figsize=(6, 3))
for tau in cell.tau_m.detach().numpy():
    ax.plot(t, np.exp(-t / tau), color=plt.cm.viridis(np.log(tau) / np.log(150)))
ax.set(xlabel="time (ms)", ylabel=r"$\kappa_m^{t/\Delta t}$", title="memory leak per unit")
plt.show()

# %% [markdown]
# Now a signed spike input like NeuronIO's: the first half of the channels excitatory
# (+1), the second half inhibitory (-1), Poisson spikes at 20 Hz with an excitatory
# burst in the middle. We run the cell step by step and keep every state.

# %%
T = 300
gen = torch.Generator().manual_seed(SEED)
rates = torch.full((T, NUM_INPUTS), 0.02)
rates[120:160, : NUM_INPUTS // 2] = 0.3  # an excitatory burst
spikes = (torch.rand(T, 1, NUM_INPUTS, generator=gen) < rates[:, None, :]).float()
sign = torch.tensor([1.0] * (NUM_INPUTS // 2) + [-1.0] * (NUM_INPUTS // 2))
x = spikes * sign  # (T, B=1, inputs)

state = None
outputs, memories, traces = [], [], []
with torch.no_grad():
    for x_t in x:
        y_t, state = cell(x_t, state)
        outputs.append(y_t)
        memories.append(state.memory)
        traces.append(state.trace)
y_steps = torch.stack(outputs)  # (T, 1, 2)
memory = torch.stack(memories)  # (T, 1, num_memory)
trace = torch.stack(traces)  # (T, 1, num_synapses)
print(y_steps.shape, memory.shape, trace.shape)

# %% [markdown]
# The sequence layer `ELM` runs the same equations over a whole `(T, B, F)` tensor (through
# a fused kernel when it can), and `return_states=True` records the per-step memory and
# traces. A cell and its sequence layer share parameter names, so the cell's weights load
# directly:

# %%
seq = elm_snn.ELM(NUM_INPUTS, num_memory=10, num_outputs=2, tau_m_max=150.0)
seq.load_state_dict(cell.state_dict())
with torch.no_grad():
    y_seq, final, record = seq(x, return_states=True)
print("same outputs :", torch.allclose(y_seq, y_steps, atol=1e-5))
print("same memory  :", torch.allclose(record.memory, memory, atol=1e-5))

# %% [markdown]
# A picture of the neuron's dynamics in the style of Fig. S9: (a) input spikes, excitatory
# in red and inhibitory in blue (`viz.plot_spike_raster`); (b) the synaptic traces $s_t$
# (inhibitory ones go negative); (c) the memory units $m_t$, coloured by their timescale
# (`viz.plot_memory_traces`: fast units follow the input, slow ones integrate it); (d) the
# two readout channels.

# %%
tau_m = cell.tau_m.detach().numpy()
fig, axes = plt.subplots(4, 1, figsize=(8, 8), sharex=True)
channel_colors = np.where(sign.numpy() > 0, "tab:red", "tab:blue")
viz.plot_spike_raster(spikes, colors=channel_colors, ax=axes[0], title="(a) input spikes")
for j in range(trace.shape[-1]):
    axes[1].plot(trace[:, 0, j].numpy(), color="tab:red" if sign[j] > 0 else "tab:blue", lw=0.8)
axes[1].set(ylabel="$s_t$", title="(b) synaptic traces")
viz.plot_memory_traces(memory, cell.tau_m, ax=axes[2], title="(c) memory units")
axes[3].plot(y_steps[:, 0].numpy())
axes[3].set(xlabel="time (ms)", ylabel="$y_t$", title="(d) readout")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. "paper" and "stable" memory updates
#
# The paper's update is $m_t = \kappa_m m_{t-1} + \lambda(1-\kappa_m)\Delta m_t$; the
# authors' improved ("stable", official v2) update uses the gain
# $1 - e^{-\Delta t\,\lambda/\tau_m}$, which never exceeds 1. For $\Delta t \ll \tau_m$ the
# two agree; with coarse bins and short timescales the paper's gain approaches $\lambda$.
# Same weights, same input, bin size 10 ms:

# %%
for dt in (1.0, 10.0):
    for update in ("paper", "stable"):
        gain = memory_gain(cell.tau_m, dt, cell.lambda_value, update).detach().numpy()
        print(f"dt = {dt:4.1f} ms, {update:6s} gain per unit: {np.round(gain, 2)}")

# %% [markdown]
# Both variants on the same input at $\Delta t = 10$ ms, for the three fastest memory
# units: with the paper's gain (close to $\lambda = 5$ here) they make much larger
# excursions than with the stable gain (at most 1).

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3), sharey=True)
for ax, update in zip(axes, ("paper", "stable"), strict=True):
    layer = elm_snn.ELM(
        NUM_INPUTS, num_memory=10, num_outputs=2, tau_m_max=150.0, dt=10.0, memory_update=update
    )
    layer.load_state_dict(cell.state_dict())
    with torch.no_grad():
        _, _, rec = layer(x[:60], return_states=True)
    viz.plot_memory_traces(  # the three fastest units
        rec.memory, layer.tau_m, dt=10.0, units=range(3), ax=ax, colorbar=False,
        title=f'memory_update="{update}"',
    )
axes[1].set_ylabel("")
axes[0].legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 3. ELM and snnTorch layers in one network
#
# `ELMCell` follows snnTorch's conventions: with `init_hidden=True` it keeps its state
# inside and returns only its output, so it sits in an `nn.Sequential` next to
# `snn.Leaky`. `elm_snn.reset(net)` resets every stateful layer of the network, ours and
# snnTorch's; call it before every new batch of sequences.
#
# The task needs memory: two bursts on two groups of channels, one early (5-30 ms) and one
# late (55-80 ms), in random order, over background noise; the label says which group
# fired first, and the network must answer at the **last** time step (100 ms). A `Leaky`
# neuron with $\beta = 0.9$ forgets its input within a few tens of ms; the ELM's memory
# units have timescales up to 200 ms.

# %%
T_TASK, CHANNELS = 100, 20


def make_order_task(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` sequences ``(T, n, CHANNELS)`` of 0/1 spikes and labels ``(n,)`` in {0, 1}."""
    x = (torch.rand(T_TASK, n, CHANNELS, generator=gen) < 0.02).float()
    first = torch.randint(0, 2, (n,), generator=gen)
    t1 = torch.randint(5, 25, (n,), generator=gen)
    t2 = torch.randint(55, 75, (n,), generator=gen)
    half = CHANNELS // 2
    for i in range(n):
        a, b = (0, half) if first[i] == 0 else (half, 0)
        x[t1[i] : t1[i] + 5, i, a : a + half] = (torch.rand(5, half, generator=gen) < 0.5).float()
        x[t2[i] : t2[i] + 5, i, b : b + half] = (torch.rand(5, half, generator=gen) < 0.5).float()
    return x, first


gen = torch.Generator().manual_seed(SEED)
x_train, y_train = make_order_task(N_TRAIN, gen)
x_test, y_test = make_order_task(N_TEST, gen)

fig, axes = plt.subplots(1, 2, figsize=(9, 2.5), sharey=True)
for ax, i in zip(axes, (0, 1), strict=True):
    viz.plot_spike_raster(x_train, sample=i, ax=ax, title=f"label {y_train[i].item()}")
plt.show()

# %% [markdown]
# Two networks with the same front end: snnTorch only (a second `Leaky` layer whose
# membrane potential at the last step gives the logits), and snnTorch + ELM (the ELM's
# readout at the last step gives the logits).


# %%
def snntorch_only() -> nn.Module:
    return nn.Sequential(
        nn.Linear(CHANNELS, 32),
        snn.Leaky(beta=0.9, init_hidden=True, spike_grad=surrogate.atan()),
        nn.Linear(32, 2),
        snn.Leaky(beta=0.9, init_hidden=True, output=True, reset_mechanism="none"),
    )


def snntorch_with_elm() -> nn.Module:
    return nn.Sequential(
        nn.Linear(CHANNELS, 32),
        snn.Leaky(beta=0.9, init_hidden=True, spike_grad=surrogate.atan()),
        elm_snn.ELMCell(
            32, num_memory=NUM_MEMORY, num_outputs=2, init_hidden=True, tau_m_max=200.0
        ),
    )


def last_step_logits(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run ``x`` ``(T, B, CHANNELS)`` step by step from a fresh state; logits ``(B, 2)``."""
    elm_snn.reset(net)
    for x_t in x:
        out = net(x_t)
    return out[1] if isinstance(out, tuple) else out  # Leaky(output=True) gives (spk, mem)


def train(net: nn.Module) -> list[float]:
    """Adam on cross-entropy of the last-step logits; test accuracy after every epoch."""
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    accuracy = []
    for _ in range(N_EPOCHS):
        order = torch.randperm(N_TRAIN, generator=gen)
        for start in range(0, N_TRAIN, BATCH_SIZE):
            idx = order[start : start + BATCH_SIZE]
            loss = nn.functional.cross_entropy(last_step_logits(net, x_train[:, idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            pred = last_step_logits(net, x_test).argmax(1)
        accuracy.append((pred == y_test).float().mean().item())
    return accuracy


torch.manual_seed(SEED)
nets, results = {}, {}
for name, make in (("snnTorch only", snntorch_only), ("snnTorch + ELM", snntorch_with_elm)):
    nets[name] = make()
    results[name] = train(nets[name])
for name, acc in results.items():
    print(f"{name:15s} test accuracy per epoch: {np.round(acc, 3)}")

# %%
fig, ax = plt.subplots(figsize=(5, 3))
for name, acc in results.items():
    ax.plot(range(1, len(acc) + 1), acc, marker="o", label=name)
ax.axhline(0.5, color="grey", ls="--", lw=1, label="chance")
ax.set(xlabel="epoch", ylabel="test accuracy", ylim=(0, 1.05))
ax.legend()
plt.show()

# %% [markdown]
# Inside the trained snnTorch + ELM network, on one test sequence: the input and the
# spikes of the `Leaky` layer that feeds the ELM (`viz.plot_spike_rasters`), the ELM's
# memory units with their timescales, and the confusion matrix of its test predictions
# (`viz.plot_confusion`).

# %%
elm_net = nets["snnTorch + ELM"]
elm_snn.reset(elm_net)
hidden_spikes, memories = [], []
with torch.no_grad():
    for x_t in x_test[:, :1]:
        h_t = elm_net[1](elm_net[0](x_t))  # the Leaky layer's spikes
        elm_net[2](h_t)
        hidden_spikes.append(h_t)
        memories.append(elm_net[2].hidden.memory)
    test_pred = last_step_logits(elm_net, x_test).argmax(1)
viz.plot_spike_rasters(
    x_test[:, :1], torch.stack(hidden_spikes), titles=("input spikes", "Leaky layer spikes")
)
plt.show()
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), gridspec_kw={"width_ratios": [2, 1]})
viz.plot_memory_traces(torch.stack(memories), elm_net[2].tau_m, ax=axes[0], title="ELM memory")
viz.plot_confusion(y_test, test_pred, class_names=["A first", "B first"], ax=axes[1])
plt.show()

# %% [markdown]
# ## 4. Hidden state and `reset`
#
# After a forward pass every stateful layer holds its state; `elm_snn.reset` clears all
# of them (our layers forget their state, snnTorch's membrane buffers are zeroed), and
# `detach_hidden()` cuts the autograd graph for truncated backpropagation through time.

# %%
net = snntorch_with_elm()
with torch.no_grad():
    for x_t in x_test[:10, :4]:
        net(x_t)
elm_cell, leaky = net[2], net[1]
print("ELM memory before reset :", elm_cell.hidden.memory.abs().sum().item() > 0)
print("Leaky membrane nonzero  :", leaky.mem.abs().sum().item() > 0)
elm_snn.reset(net)
print("ELM state after reset   :", elm_cell.hidden)
print("Leaky membrane after    :", leaky.mem.abs().sum().item())

# %% [markdown]
# Next: `02_shd_adding` trains ELM, LSTM and a spiking network on SHD-Adding at several bin
# sizes; `03_neuronio` fits neuron models to NeuronIO-style data; `04_official_checkpoints`
# loads the authors' pre-trained Branch-ELM neurons.
