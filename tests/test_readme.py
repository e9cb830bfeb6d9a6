"""The README's code examples run as written, its command lines parse, and it names every
task family, task, model and package folder."""

import re
import shlex

import pytest

from tests.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
#: a ``<!-- docs-test: skip (why) -->`` line right before a block leaves it out (it needs
#: data or files the tests do not have), as on the docs pages
SKIP_MARK = "<!-- docs-test: skip"


def _python_blocks(include_skipped: bool = True) -> list[str]:
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"(?:^|\n)([^\n]*)\n```python\n(.*?)```", text, flags=re.S):
        if include_skipped or not match.group(1).strip().startswith(SKIP_MARK):
            blocks.append(match.group(2))
    return blocks


def test_every_python_block_runs_in_order(capsys):
    namespace: dict = {"__name__": "__readme__"}
    blocks = _python_blocks(include_skipped=False)
    assert len(blocks) >= 2
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert "loss" in capsys.readouterr().out


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


def _cli_lines() -> list[str]:
    text = README.read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        lines += [line.split("  #")[0].strip() for line in block.splitlines()]
    return [line for line in lines if line.startswith("elm-snn ")]


@pytest.mark.parametrize("command", _cli_lines())
def test_cli_examples_parse(command: str):
    from elm_snn.cli import build_parser

    argv = shlex.split(command)[1:]
    if "--help" in argv:
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args(argv)
        assert exc.value.code == 0, command
        return
    build_parser().parse_args(argv)


def test_readme_shows_the_six_commands():
    commands = {line.split()[1] for line in _cli_lines()}
    assert commands == {"train", "eval", "compare", "reproduce", "demo", "data"}


def test_readme_mentions_every_task_family_and_model_of_the_cli():
    from elm_snn.cli.options import TASK_CHOICES
    from elm_snn.tasks import TASK_NAMES
    from elm_snn.tasks.registry import NEURONIO_MODELS, SHD_MODELS

    text = README.read_text(encoding="utf-8")
    assert set(TASK_CHOICES) == set(TASK_NAMES)
    for name in (*TASK_NAMES, *SHD_MODELS, *NEURONIO_MODELS):
        assert f"`{name}`" in text, name
    for family in ("SHD", "SHD-Adding", "NeuronIO", "Long Range Arena"):
        assert family in text, family
    for folder in ("tasks/", "train/", "lra/", "compat/", "cli/"):
        assert f"`elm_snn/{folder}`" in text, folder


def test_readme_is_short():
    lines = [line for line in README.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) <= 150, len(lines)
