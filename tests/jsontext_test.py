"""jsontext writes and reads JSON as the json package does, without importing it."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from seq_hooks import jsontext

VALUES = [
    {"lock": None, "pid": 12, "argv": ["pytest", "-q", "caf\u00e9", "\U0001f600"], "cwd": "/tmp"},
    {"a": 1.5, "b": 1e300, "c": -0.0, "d": 2**64, "e": True, "f": [], "g": {}, "h": ""},
    {"nested": [[1, [2, [3]]], {"k": {"j": None}}], "quote": "\"\\\n\t\x00\x7f"},
    ["surrogate \udce9 escape"],
    "a bare string \u2028",
    3,
    [float("inf"), float("-inf")],
]


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("ensure_ascii", [True, False])
@pytest.mark.parametrize("separators", [(", ", ": "), (",", ":")])
def test_dumps_writes_what_json_dumps_writes(
    value: object, ensure_ascii: bool, separators: tuple[str, str]
) -> None:
    assert jsontext.dumps(value, ensure_ascii=ensure_ascii, separators=separators) == json.dumps(
        value, ensure_ascii=ensure_ascii, separators=separators
    )


@pytest.mark.parametrize("value", [object(), {1j: 1}, [b"bytes"]])
def test_dumps_refuses_what_json_refuses(value: object) -> None:
    with pytest.raises(TypeError):
        json.dumps(value)
    with pytest.raises(TypeError):
        jsontext.dumps(value)


def test_dumps_refuses_a_cycle() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match=r"[Cc]ircular"):
        jsontext.dumps(loop)


TEXTS = [
    *(json.dumps(v, ensure_ascii=a) for v in VALUES for a in (True, False)),
    ' \t\r\n{"a": [1, 2.5, "x"]}\n ',
    "NaN",
    '[Infinity, -Infinity, 1e400]',
    '"\\ud83d\\ude00 \\udce9"',
]


@pytest.mark.parametrize("text", TEXTS)
def test_loads_reads_what_json_loads_reads(text: str) -> None:
    want = json.loads(text)
    for data in (text, text.encode("utf-8", "surrogatepass")):
        got = jsontext.loads(data)
        assert repr(got) == repr(want)  # repr: NaN is not equal to itself


@pytest.mark.parametrize("data", [
    json.dumps({"a": "caf\u00e9"}).encode("utf-16"),  # a byte order mark: json reads it
    json.dumps({"a": 1}).encode("utf-32-le"),  # NULs in the first four bytes
    b"\xef\xbb\xbf" + b'{"a": 1}',  # UTF-8 with a byte order mark
])
def test_loads_reads_the_other_encodings_json_reads(data: bytes) -> None:
    assert jsontext.loads(data) == json.loads(data)


@pytest.mark.parametrize("text", [
    "", " ", "{", '{"a": 1} x', '{"a": 1}{}', "[1,]", '"\ufeff"x', "\ufeff{}", "'a'", '"\x01"',
    b'{"a": "\xff"}',
])
def test_loads_refuses_what_json_refuses_with_a_value_error(text: str | bytes) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        jsontext.loads(text)


def test_loads_with_parse_constant() -> None:
    def refuse(constant: str) -> float:
        raise ValueError(constant)

    assert math.isnan(jsontext.loads("NaN"))
    with pytest.raises(ValueError, match="NaN"):
        jsontext.loads(b'{"a": NaN}', parse_constant=refuse)
    assert jsontext.loads(b'{"a": 1.0}', parse_constant=refuse) == {"a": 1.0}


def _fresh(code: str) -> str:
    """What `code` prints in an interpreter that has not imported json (pytest has)."""
    return subprocess.run(
        [sys.executable, "-c", "import sys\nfrom seq_hooks import jsontext\n" + code],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout


def test_neither_imports_the_json_package() -> None:
    assert _fresh(
        "jsontext.loads(jsontext.dumps({'a': [1, 2.5, None, 'x']}).encode())\n"
        "print(sorted(m for m in sys.modules if m == 'json' or m.startswith('json.')))"
    ) == "[]\n"


@pytest.mark.parametrize("text", [b'{"pid": 12, "token": "ab', b"[1 2]", b'{"a" 1}', b"{} x"])
def test_a_text_that_is_not_json_is_a_value_error_before_json_is_imported(text: bytes) -> None:
    # before Python 3.12 the C scanner cannot raise its error until json.decoder is imported
    assert _fresh(
        f"try:\n    jsontext.loads({text!r})\nexcept ValueError as e:\n    print(type(e).__name__)"
    ) == "JSONDecodeError\n"
