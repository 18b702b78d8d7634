from __future__ import annotations

import pytest

from seq_hooks.errors import UsageError
from seq_hooks.options import HelpRequested, Option, Parsed, number_problem, parse

OPTS = (
    Option(("--timeout",), "timeout", "float", "seconds", "S"),
    Option(("-n",), "count", "int"),
    Option(("-v", "--verbose"), "verbose"),
    Option(("--arg",), "args", "append"),
)


def go(*argv: str, positional_ok: bool = False) -> Parsed:
    return parse(
        list(argv), OPTS, prog="p", usage="[OPTIONS]", summary="s", positional_ok=positional_ok
    )


def test_values_rest_and_positionals() -> None:
    p = go(
        "--timeout=1.5",
        "-n",
        "3",
        "-v",
        "--arg",
        "a",
        "--arg",
        "b",
        "x",
        "--",
        "cmd",
        "--timeout",
        positional_ok=True,
    )
    assert p.number("timeout") == 1.5 and p.integer("count") == 3 and p.flag("verbose")
    assert p.texts("args") == ["a", "b"]
    assert p.positional == ["x"] and p.rest == ["cmd", "--timeout"]


def test_command_starts_at_the_first_word_that_is_not_ours() -> None:
    p = parse(
        ["-v", "--timeout", "2", "cmd", "-q", "--timeout", "5", "--", "x"],
        OPTS,
        prog="p",
        usage="",
        summary="s",
        command=True,
    )
    assert p.flag("verbose") and p.number("timeout") == 2
    assert p.positional == [] and p.rest == ["cmd", "-q", "--timeout", "5", "--", "x"]


def test_no_dashdash_means_no_rest() -> None:
    assert go().rest is None


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--timeout", "x"], "--timeout takes a number, not 'x'"),
        (["-n", "1.5"], "-n takes a whole number"),
        (["-n", "-2"], "-n must be zero or more"),
        (["--verbose=1"], "--verbose takes no value"),
        (["--nope"], "unknown option --nope"),
        (["stray"], "unexpected argument 'stray'"),
        (["--arg"], "--arg needs a value"),
    ],
)
def test_errors_name_the_flag(argv: list[str], needle: str) -> None:
    with pytest.raises(UsageError) as e:
        go(*argv)
    assert needle in e.value.message


def test_help_lists_every_option() -> None:
    with pytest.raises(HelpRequested) as e:
        go("--help")
    for name in ("--timeout S", "-n INT", "-v, --verbose", "--arg", "-h, --help"):
        assert name in e.value.text



@pytest.mark.parametrize(("value", "whole", "problem"), [
    (float("nan"), False, "a finite number"),
    (float("inf"), False, "a finite number"),
    (float("-inf"), False, "a finite number"),
    (-0.5, False, "zero or more"),
    (1e10, False, "at most 1000000000"),
    (2**31, True, "at most 2147483647"),
    (10**30, True, "at most 2147483647"),
    (0, True, None),
    (0.0, False, None),
    (1e9, False, None),
    (2**31 - 1, True, None),
])
def test_admission_of_numbers(value: float, whole: bool, problem: str | None) -> None:
    assert number_problem(value, whole) == problem


@pytest.mark.parametrize(("argv", "needle"), [
    (["--timeout", "nan"], "--timeout must be a finite number, got nan"),
    (["--timeout=inf"], "--timeout must be a finite number, got inf"),
    (["--timeout", "1e300"], "--timeout must be at most 1000000000, got 1e300"),
    (["-n", "99999999999999999999"], "-n must be at most 2147483647"),
])
def test_flags_refuse_what_is_not_a_finite_number_in_range(argv: list[str], needle: str) -> None:
    with pytest.raises(UsageError) as e:
        go(*argv)
    assert needle in e.value.message
