"""JSON text as `json.dumps` and `json.loads` make and read it, by the same C code (`_json`, the
C half of the json package) without importing the json package: its regexes and classes are 5.3M
instructions, 7% of a plain run, where the journal's line and a ticket need only the C encoder and
scanner the package itself would call (docs/design.md, "The hot path"). Where `_json` is missing (a
Python without it), the json package does the work. tests/jsontext_test.py checks the text and the
values against the json package's.
"""
from __future__ import annotations

from seq_hooks.records import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

from types import SimpleNamespace

try:
    from _json import encode_basestring, encode_basestring_ascii, make_encoder, make_scanner

    _C = True
except ImportError:  # no C half: the json package's pure-Python one
    _C = False

_INF = float("inf")
# what json's decoder turns the non-standard constants into (JSONDecoder's parse_constant)
_CONSTANTS = {"-Infinity": -_INF, "Infinity": _INF, "NaN": float("nan")}
_WHITESPACE = " \t\n\r"  # JSON's (json.decoder.WHITESPACE)
# the starts of the texts json.detect_encoding does not read as UTF-8: a byte order mark, or a NUL
# in the first four bytes (UTF-16, UTF-32)
_NOT_UTF8 = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def _not_json(o: object) -> object:
    # JSONEncoder.default's error
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def dumps(obj: object, *, ensure_ascii: bool = True,
          separators: tuple[str, str] = (", ", ": ")) -> str:
    """json.dumps(obj, ensure_ascii=..., separators=...)."""
    if not _C:
        import json  # only where there is no _json

        return json.dumps(obj, ensure_ascii=ensure_ascii, separators=separators)
    quote = encode_basestring_ascii if ensure_ascii else encode_basestring
    if isinstance(obj, str):
        return str(quote(obj))
    # JSONEncoder.iterencode's one-shot encoder: circular check, no indent, keys unsorted, NaN
    # allowed
    encode = make_encoder({}, _not_json, quote, None, separators[1], separators[0], False, False,
                          True)
    return "".join(encode(obj, 0))


def loads(data: bytes | str, parse_constant: Callable[[str], Any] = _CONSTANTS.__getitem__) -> Any:
    """json.loads(data, parse_constant=...), and json's errors: a text that is not JSON is read
    again by the json package, which says why (before Python 3.12 the C scanner can raise its
    JSONDecodeError only once json.decoder is loaded; without it, a SystemError)."""
    if not _C or (
        isinstance(data, bytes) and (0 in data[:4] or data.startswith(_NOT_UTF8))
    ):
        return _by_json(data, parse_constant)  # a text that is not UTF-8: never ours
    text = data.decode("utf-8", "surrogatepass") if isinstance(data, bytes) else data
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scanner(parse_constant)(text, start)
    except (StopIteration, SystemError):
        return _by_json(data, parse_constant)
    if text[end:].strip(_WHITESPACE):
        return _by_json(data, parse_constant)  # more after the value
    return value


_SCANNERS: dict[object, Callable[[str, int], tuple[Any, int]]] = {}


def _scanner(parse_constant: Callable[[str], Any]) -> Callable[[str, int], tuple[Any, int]]:
    """The C scanner for these options, made once per process (a ticket's read parses each line)."""
    found = _SCANNERS.get(parse_constant)
    if found is None:
        # what the C scanner reads of a JSONDecoder: json.loads' options (a namespace: no class)
        options: Any = SimpleNamespace(
            strict=True, object_hook=None, object_pairs_hook=None, parse_float=float,
            parse_int=int, parse_constant=parse_constant)
        found = _SCANNERS[parse_constant] = make_scanner(options)
    return found


def _by_json(data: bytes | str, parse_constant: Callable[[str], Any]) -> Any:
    import json  # only for a text that is not JSON or not UTF-8, or without _json: never ours

    return json.loads(data, parse_constant=parse_constant)
