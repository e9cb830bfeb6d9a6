"""Compatibility with other implementations (the official ELM code)."""

from .official import from_official, load_official_checkpoint, neuronio_eval_transform

__all__ = ["from_official", "load_official_checkpoint", "neuronio_eval_transform"]
