"""The README stays true: its Python example runs, and every option it shows exists."""

import re
from pathlib import Path

import pytest

from lstm_multi.cli import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def subcommand_options() -> dict[str, set[str]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return {name: {s for a in p._actions for s in a.option_strings} for name, p in sub.choices.items()}


def test_every_option_the_readme_shows_exists():
    options = subcommand_options()
    shown = 0
    for block in re.findall(r"```\n(lstm-multi .*?)```", README, flags=re.S):
        command = None
        for line in block.splitlines():
            words = line.split()
            if words and words[0] == "lstm-multi" and len(words) > 1 and not words[1].startswith("-"):
                command = words[1]
            for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", line):
                if flag == "--version":
                    continue
                assert flag in options[command], f"README shows `lstm-multi {command} {flag}`, which does not exist"
                shown += 1
    assert shown > 40  # the block was found and read


def test_every_train_option_is_in_the_readme():
    hidden = {"-h", "--help"}
    for name in ("prepare", "train", "generate", "gates", "parity", "bench"):
        for flag in subcommand_options()[name] - hidden:
            assert flag in README, f"`lstm-multi {name} {flag}` is not documented in README.md"


def test_the_python_example_runs(bk, monkeypatch, tmp_path):
    code = re.search(r"```python\n(import lstm_multi as lm.*?)```", README, flags=re.S).group(1)
    # quick size: the example as written, with one epoch on a tenth of the windows
    code = code.replace("max_epochs=50", "max_epochs=1").replace(
        "TimeMachine(batch_size=1024, num_steps=32)",
        "TimeMachine(batch_size=1024, num_steps=32, num_train=1024, num_val=1024)",
    )
    assert "max_epochs=1" in code and "num_train=1024" in code
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LSTM_MULTI_BACKEND", bk.NAME)
    import lstm_multi

    lstm_multi.set_backend(None)
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "model.safetensors").stat().st_size > 0


@pytest.mark.parametrize("target", ["train", "generate", "test", "test-all", "docs"])
def test_the_make_targets_exist(target):
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    assert re.search(rf"^{target}:", makefile, flags=re.M)
