"""scripts/system-packages, as scripts/test runs it without a terminal (CI): it says what it
installs and why before apt-get runs, and names what is still missing so that those tests skip
instead of failing; testing.util.needs skips them only when so named (a tool missing by accident
fails CI)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from seq_hooks.records import NamedTuple
from testing.util import WITHOUT, needs

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "system-packages"


def _stub_path(where: Path, uid: int, apt_works: bool | None, have: tuple[str, ...] = ()) -> str:
    """A PATH of stubs only: `id -u` says `uid`; apt-get (absent when `apt_works` is None) notes in
    `calls` its arguments and what the script had said on stderr by then, and when it works installs
    stub programs; `have` are installed already."""
    where.mkdir()
    for tool in ("bash", "mktemp", "tail", "rm", "chmod", "cat"):
        found = shutil.which(tool)
        assert found is not None
        (where / tool).symlink_to(found)
    (where / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    if apt_works is not None:
        install = (
            f'for p in chromium tmux; do echo "#!/bin/sh" > {where}/$p; chmod +x {where}/$p; done'
            if apt_works
            else 'echo "E: Unable to locate package chromium"; exit 100'
        )
        calls, said = where.parent / "calls", where.parent / "stderr"
        (where / "apt-get").write_text(
            f'#!/bin/sh\necho "APT-GET $* after: $(cat {said})" >> {calls}\n'
            f'[ "$1" = update ] && exit 0\n{install}\n'
        )
    for name in have:
        (where / name).write_text("#!/bin/sh\n")
    for stub in where.iterdir():
        if not stub.is_symlink():
            stub.chmod(0o755)
    return str(where)


class Ran(NamedTuple):
    returncode: int
    stdout: str
    stderr: str
    calls: str  # what apt-get was called with, and what the script had said when it was


def _run(path: str) -> Ran:
    """The script as scripts/test runs it in CI: no terminal on stdin, its stdout read."""
    bash = shutil.which("bash")
    assert bash is not None
    tmp = Path(path).parent
    with (tmp / "stderr").open("w") as err:
        out = subprocess.run(
            [bash, str(SCRIPT)],
            env={"PATH": path},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            timeout=60,
            check=False,
        )
    calls = (tmp / "calls").read_text() if (tmp / "calls").exists() else ""
    return Ran(out.returncode, out.stdout, (tmp / "stderr").read_text(), calls)


def test_says_what_and_why_before_apt_get_runs_and_leaves_nothing_missing(tmp_path: Path) -> None:
    out = _run(_stub_path(tmp_path / "bin", 0, apt_works=True))
    assert out.returncode == 0 and out.stdout.strip() == "", out
    said = "installing the system packages chromium tmux with apt-get (chromium renders the HTML"
    assert said in out.stderr
    update, install = out.calls.split("APT-GET ")[1:]
    assert update.startswith("update -qq after: ") and said in update, out.calls
    assert install.startswith("install -y -qq chromium tmux after: ") and said in install


def test_what_apt_get_cannot_install_is_named_for_the_tests_to_skip(tmp_path: Path) -> None:
    out = _run(_stub_path(tmp_path / "bin", 0, apt_works=False))
    assert out.returncode == 0 and out.stdout.split() == ["chromium", "tmux"], out
    assert (
        "could not install chromium tmux (E: Unable to locate package chromium): their tests skip"
        in out.stderr
    )


@pytest.mark.parametrize(("uid", "apt"), [(1000, True), (0, None)], ids=["not-root", "no-apt-get"])
def test_without_root_or_apt_get_nothing_is_installed(
    tmp_path: Path, uid: int, apt: bool | None
) -> None:
    out = _run(_stub_path(tmp_path / "bin", uid, apt_works=apt, have=("tmux",)))
    assert out.returncode == 0 and out.stdout.split() == ["chromium"], out
    assert out.calls == "" and "needs root and apt-get: their tests skip" in out.stderr


def test_nothing_to_do_when_both_are_there(tmp_path: Path) -> None:
    out = _run(_stub_path(tmp_path / "bin", 0, apt_works=True, have=("chromium", "tmux")))
    assert out == (0, "", "", "")


@pytest.mark.parametrize(
    ("ci", "without", "skips"),
    [("", "", True), ("true", "", False), ("true", "tmux no-such-program", True)],
)
def test_a_missing_program_skips_on_ci_only_when_scripts_test_named_it(
    monkeypatch: pytest.MonkeyPatch, ci: str, without: str, skips: bool
) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv(WITHOUT, without)
    mark = needs("no-such-program")
    assert mark.args[0] is skips
    if skips and without:
        assert "could not install it" in mark.kwargs["reason"]


def test_scripts_test_hands_the_missing_programs_to_pytest() -> None:
    text = (ROOT / "scripts" / "test").read_text()
    assert f"{WITHOUT}=$(bash scripts/system-packages)" in text and f"export {WITHOUT}" in text
    assert os.access(SCRIPT, os.X_OK)


def _ci_checkout(tmp: Path, pytest_exit: int, ruff_exit: int = 0) -> Path:
    """A copy of .ci/run and scripts/test whose tools are stubs: .venv's python passes pip, the
    import check and compileall and exits `pytest_exit` for pytest; ruff exits `ruff_exit`."""
    tree = tmp / "checkout"
    for name in (".ci/run", "scripts/test"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tree / name)
    (tree / "scripts" / "system-packages").write_text("#!/bin/sh\n")
    stubs = {
        "python": f'#!/bin/sh\n[ "$1 $2" = "-m pytest" ] && exit {pytest_exit}\nexit 0\n',
        "ruff": f"#!/bin/sh\nexit {ruff_exit}\n",
        "mypy": "#!/bin/sh\nexit 0\n",
    }
    (tree / ".venv" / "bin").mkdir(parents=True)
    for name, text in stubs.items():
        (tree / ".venv" / "bin" / name).write_text(text)
        (tree / ".venv" / "bin" / name).chmod(0o755)
    return tree


@pytest.mark.parametrize(
    ("pytest_exit", "ruff_exit", "expected"),
    [(0, 0, 0), (5, 0, 5), (1, 0, 1), (0, 1, 1)],
    ids=["passed", "no-test-collected", "a-test-failed", "ruff-failed"],
)
def test_ci_fails_when_pytest_collects_nothing(
    tmp_path: Path, pytest_exit: int, ruff_exit: int, expected: int
) -> None:
    """.ci/run as CI runs it (CI=true, no standard input): pytest's exit 5 (no test collected)
    fails the run like a failed test, and so does a linter."""
    tree = _ci_checkout(tmp_path, pytest_exit, ruff_exit)
    done = subprocess.run(
        ["bash", str(tree / ".ci" / "run")],
        env={**os.environ, "CI": "true"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == expected, done.stdout + done.stderr
