"""Compatibility with other implementations (the official ELM code)."""

from .official import (
    evaluate_official_checkpoint,
    from_official,
    load_official_checkpoint,
    neuronio_eval_transform,
)

__all__ = [
    "evaluate_official_checkpoint",
    "from_official",
    "load_official_checkpoint",
    "neuronio_eval_transform",
]
