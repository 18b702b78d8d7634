"""How a hook's words split into our options, the tool's options and file names (pure: no process
runs)."""
from __future__ import annotations

from pathlib import Path

import pytest

from seq_hooks.errors import UsageError
from seq_hooks.hooks import generic, ruff
from seq_hooks.hooks import pytest as pytest_hook
from seq_hooks.hooks.atomic import syntax
from seq_hooks.hooks.words import split_words, texts
from seq_hooks.options import HelpRequested


def write(repo: Path, name: str, text: str = "x = 1\n") -> Path:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_words_tool_options_values_and_files(isolated: Path) -> None:
    write(isolated, "a.py")
    write(isolated, "-dash.py")
    words = split_words(
        syntax(ruff.SPEC),
        [
            "--batch",
            "3",
            "--fix",
            "--select",
            "E501",
            "--line-length=90",
            "a.py",
            "-dash.py",
            "gone.py",
        ],
    )
    assert words.values["batch"] == 3
    assert words.tool_args == ["--fix", "--select", "E501", "--line-length=90"]
    assert words.files == ["a.py", "-dash.py", "gone.py"]


def test_words_after_double_dash_are_files(isolated: Path) -> None:
    words = split_words(syntax(ruff.SPEC), ["--verbose", "--fix", "--", "--batch", "-x.py"])
    assert words.values["verbose"] is True
    assert words.values["batch"] is None
    assert words.tool_args == ["--fix"]
    assert words.files == ["--batch", "-x.py"]


def test_words_generic_tool_and_terminator(isolated: Path) -> None:
    write(isolated, "script.py")
    write(isolated, "a.py")
    plain = split_words(syntax(generic.SPEC), ["--batch=2", "--", "python", "-W", "error", "a.py"])
    assert (plain.tool_cmd, plain.tool_args, plain.files) == (["python"], ["-W", "error"], ["a.py"])
    # a tool argument that names an existing file needs the terminator
    ended = split_words(syntax(generic.SPEC), ["--", "python", "script.py", "--", "a.py"])
    assert (ended.tool_cmd, ended.tool_args, ended.files) == (["python"], ["script.py"], ["a.py"])


@pytest.mark.parametrize(
    ("argv", "tool_args", "files"),
    [
        # args: [--, ruff, format]
        (["--", "ruff", "format", "a.py", "b.py"], ["format"], ["a.py", "b.py"]),
        (["--", "ruff", "check", "--fix", "a.py"], ["check", "--fix"], ["a.py"]),
        (["--", "uv", "run", "ruff", "check", "--select", "E501", "a.py", "gone.py"],
         ["run", "ruff", "check", "--select", "E501"], ["a.py", "gone.py"]),
    ],
)
def test_words_generic_tool_words_end_at_the_first_existing_file(
        isolated: Path, argv: list[str], tool_args: list[str], files: list[str]) -> None:
    write(isolated, "a.py")
    write(isolated, "b.py")
    words = split_words(syntax(generic.SPEC), argv)
    assert (words.tool_cmd, words.tool_args, words.files) == ([argv[1]], tool_args, files)


@pytest.mark.parametrize("argv", [[], ["--"], ["a.py"], ["--batch"], ["--batch", "x", "--", "t"]])
def test_words_generic_usage_errors(isolated: Path, argv: list[str]) -> None:
    with pytest.raises(UsageError):
        split_words(syntax(generic.SPEC), argv)




def test_help_names_the_hook_its_options_and_the_tools_options() -> None:
    with pytest.raises(HelpRequested) as e:
        split_words(syntax(pytest_hook.SPEC), ["-q", "--help"])
    assert e.value.text.startswith("usage: atomic-pytest [OPTIONS] [PYTEST OPTIONS] [FILES...]\n")
    assert "--batch N" in e.value.text and "--all" in e.value.text


def test_our_options_anywhere_before_the_terminator(isolated: Path) -> None:
    write(isolated, "a.py")
    words = split_words(
        syntax(pytest_hook.SPEC),
        ["-x", "--type", "python", "a.py", "--all", "--type=pyi", "--fail-fast"],
    )
    assert texts(words, "types") == ["python", "pyi"]
    assert words.values["all"] is True and words.values["fail_fast"] is True
    assert (words.tool_args, words.files) == (["-x"], ["a.py"])


@pytest.mark.parametrize(("argv", "message"), [
    (["--fail-fast=1"], "--fail-fast takes no value"),
    (["--batch"], "--batch needs a value"),
    (["--batch", "-1"], "--batch must be zero or more, got -1"),
    (["--batch=two"], "--batch takes a whole number, not 'two'"),
])
def test_our_options_bad_values_name_the_flag(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as e:
        split_words(syntax(ruff.SPEC), argv)
    assert str(e.value) == message


def test_a_plain_word_after_files_is_a_file_not_a_value(isolated: Path) -> None:
    write(isolated, "a.py")
    words = split_words(syntax(ruff.SPEC), ["a.py", "--select", "gone.py"])
    # after the first file, `--select`'s next word is taken for a (vanished) file, as pre-commit
    # appends files last
    assert (words.tool_args, words.files) == (["--select"], ["a.py", "gone.py"])


@pytest.mark.parametrize(
    "name", ["--help", "-h", "--fail-fast", "--type=x.py", "--batch=0", "--verbose", "--all"]
)
def test_an_existing_file_named_like_our_option_is_a_file(isolated: Path, name: str) -> None:
    write(isolated, name)
    words = split_words(syntax(pytest_hook.SPEC), ["-q", name])
    assert (words.tool_args, words.files) == (["-q"], [name])
    assert (
        words.values["fail_fast"] is None
        and words.values["batch"] is None
        and words.values["all"] is None
    )
