"""The README's code examples run as written."""

import re

from tests.conftest import REPO_ROOT


def _python_blocks() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_snntorch_mixing_example_trains_one_step(capsys):
    block = next(b for b in _python_blocks() if "snn.Leaky" in b)
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert "loss" in capsys.readouterr().out
    assert namespace["loss"].item() > 0
    first_linear_grad = namespace["net"][0].weight.grad
    assert first_linear_grad is not None and first_linear_grad.abs().sum() > 0
    elm_grad = namespace["net"][2].readout.weight.grad
    assert elm_grad is not None and elm_grad.abs().sum() > 0


def test_sequence_example_shapes():
    block = next(b for b in _python_blocks() if "elm_snn.ELM(" in b)
    namespace: dict = {"torch": __import__("torch"), "elm_snn": __import__("elm_snn")}
    exec(compile(block.replace("1000, 8", "20, 2"), "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["y"].shape == (20, 2, 19)


def test_readme_mentions_every_task_family_and_model_of_the_cli():
    from elm_snn.cli.options import TASK_CHOICES
    from elm_snn.tasks import TASK_NAMES
    from elm_snn.tasks.registry import NEURONIO_MODELS, SHD_MODELS

    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert set(TASK_CHOICES) == set(TASK_NAMES)
    for name in (*TASK_NAMES, *SHD_MODELS, *NEURONIO_MODELS):
        assert f"`{name}`" in text, name
    for folder in ("tasks/", "train/", "lra/", "compat/"):
        assert f"`elm_snn/{folder}`" in text, folder
