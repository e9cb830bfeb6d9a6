"""Model wrappers of the LRA tasks: one-hot tokens inside the model, and Retrieval's two towers.

Datasets and batches hold integer tokens ``(T, B)``; :class:`OneHotInput` turns them into
one-hot frames ``(T, B, V)`` right before the wrapped sequence model (the paper's "one-hot
token encoding"), so the data path never stores a one-hot tensor.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["OneHotInput", "TwoTower"]


class OneHotInput(nn.Module):
    """``tokens (T, B) int64 -> backbone(one_hot(tokens, V))``.

    Args:
        backbone: a sequence model mapping ``(T, B, V)`` to ``((T, B, O), state)``.
        vocab_size: ``V``; tokens must lie in ``0..V - 1``.

    Attributes ``readout`` and the backbone's others are reachable as ``.backbone.*``.
    """

    def __init__(self, backbone: nn.Module, vocab_size: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.vocab_size = int(vocab_size)

    def forward(self, tokens: Tensor):
        if tokens.dtype not in (torch.int64, torch.int32, torch.uint8):
            raise TypeError(f"tokens: expected an integer tensor (T, B), got {tokens.dtype}")
        if tokens.ndim != 2:
            raise ValueError(f"tokens: expected shape (T, B), got {tuple(tokens.shape)}")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab_size):
            raise ValueError(
                f"tokens: expected ids in 0..{self.vocab_size - 1}, got "
                f"{int(tokens.min())}..{int(tokens.max())}"
            )
        dtype = next(self.backbone.parameters()).dtype
        x = nn.functional.one_hot(tokens.long(), self.vocab_size).to(dtype)
        return self.backbone(x)


class TwoTower(nn.Module):
    """Retrieval's two-tower model: one shared encoder reads both documents; the two
    latents ``u``, ``v`` (the encoder's last output, size ``latent``) go through
    ``Linear(4 latent, latent) - ReLU - Linear(latent, classes)`` on ``[u, v, u * v, u - v]``.

    Call: ``forward(x)`` with ``x`` ``(T, B, 2)`` int64 tokens returns ``(logits (1, B, C),
    None)``, so "the last output step" of the model is the pair's logits.
    """

    def __init__(self, encoder: nn.Module, latent: int, num_classes: int = 2) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Sequential(
            nn.Linear(4 * latent, latent), nn.ReLU(), nn.Linear(latent, num_classes)
        )

    def forward(self, x: Tensor):
        if x.ndim != 3 or x.shape[-1] != 2:
            raise ValueError(f"x: expected token pairs of shape (T, B, 2), got {tuple(x.shape)}")
        b = x.shape[1]
        both = torch.cat([x[..., 0], x[..., 1]], dim=1)  # (T, 2B): one pass for both towers
        y, _ = self.encoder(both)
        u, v = y[-1, :b], y[-1, b:]
        logits = self.head(torch.cat([u, v, u * v, u - v], dim=-1))
        return logits.unsqueeze(0), None
