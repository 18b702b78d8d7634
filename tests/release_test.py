"""A release as users get it: the samples name a rev that exists, the README's four steps work as
copied in a new repository, and `python -m build` makes an sdist and a wheel that install in a
fresh virtualenv and run."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from testing.util import git

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
SAMPLES = sorted(
    [
        ROOT / "README.md",
        *(ROOT / "docs").glob("*.md"),
        *(p for p in (ROOT / "examples").rglob("*") if p.is_file()),
    ]
)
LONG = 900  # seconds: installing a hook environment or a package from the index


def _tags() -> list[str]:
    return git(ROOT, "tag", "--list").stdout.split()


def _revs(text: str) -> list[str]:
    """Every release a sample names: `rev: vX` in a pre-commit config, `seq-hooks==X` or `@vX` in a
    pip line."""
    revs = re.findall(r"^\s*rev:\s*(\S+)", text, re.M)
    revs += [f"v{v}" for v in re.findall(r"seq-hooks==([0-9][^\s'\"]*)", text)]
    return revs + re.findall(r"git\+[^\s'\"]*@(v[0-9][^\s'\"]*)", text)


def test_every_sample_names_a_release_that_exists() -> None:
    """With tags in the clone, a sample's rev is one of them; without (a CI clone may carry none),
    it is this version's tag-to-be: "v" + the package's version, with its section in
    CHANGELOG.md."""
    tags = _tags()
    changelog = (ROOT / "CHANGELOG.md").read_text()
    named = {path: _revs(path.read_text(errors="replace")) for path in SAMPLES}
    assert named[ROOT / "README.md"], "README.md names no rev (the rev finder is broken?)"
    for path, revs in named.items():
        for rev in revs:
            where = f"{path.relative_to(ROOT)} names {rev}"
            if tags:
                assert rev in tags, (
                    f"{where}, which is not a tag of this repository ({', '.join(tags)})"
                )
            else:
                assert rev == f"v{VERSION}", f"{where}; the package's version is {VERSION}"
    assert f"\n## {VERSION}\n" in changelog, f"CHANGELOG.md has no section for {VERSION}"


def test_the_rev_finder_sees_each_form() -> None:
    text = ("    rev: v9.9.9   # x\n"
            "pip install 'seq-hooks==1.2.3' 'seq-hooks @ git+https://h/s@v4.5.6'\n")
    assert _revs(text) == ["v9.9.9", "v1.2.3", "v4.5.6"]


@pytest.fixture
def caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every tool's cache in the test's temp dir ($HOME stays empty): pip, virtualenv, rustup and
    cargo (which pip's user agent probes with `rustc --version`), XDG."""
    names = {
        "PIP_CACHE_DIR": "pip",
        "VIRTUALENV_OVERRIDE_APP_DATA": "virtualenv",
        "XDG_CACHE_HOME": "xdg",
        "RUSTUP_HOME": "rustup",
        "CARGO_HOME": "cargo",
    }
    for name, sub in names.items():
        monkeypatch.setenv(name, str(tmp_path / "caches" / sub))
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")


def _readme_block(after: str, language: str) -> str:
    readme = (ROOT / "README.md").read_text()
    part = readme.split(after, 1)[1]
    return part.split(f"```{language}\n", 1)[1].split("```", 1)[0]


FALLBACK = "`git rev-parse HEAD`"  # the README's rev for a clone without the release tag


def _hook_repository(tmp: Path, rev: str) -> tuple[Path, str]:
    """A clone of this repository, as a user makes one, and the rev the README has them write: the
    release tag, or in a clone without it (a tag is made when the release is; a clone of main may
    have none) the commit `git rev-parse HEAD` prints there."""
    clone = tmp / "seq-hooks"
    git(tmp, "clone", "-q", str(ROOT), str(clone))
    if rev in git(clone, "tag", "--list").stdout.split():
        return clone, rev
    step = (
        (ROOT / "README.md").read_text().split("**1. Add the hooks**", 1)[1].split("```yaml", 1)[0]
    )
    assert FALLBACK in step, f"the clone has no tag {rev} and step 1 says no other rev to write"
    return clone, git(clone, "rev-parse", "HEAD").stdout.strip()


@pytest.mark.usefixtures("caches")
def test_readme_four_steps_work_as_copied(isolated: Path, tmp_path: Path) -> None:
    """Step 1's config (with the clone's path for /path/to/seq-hooks), then steps 2 to 4 word for
    word, in a new repository with a .venv (here: this checkout's, which has mypy and pytest)."""
    sample = _readme_block("**1. Add the hooks**", "yaml")
    rev = re.search(r"rev:\s*(\S+)", sample)
    assert rev is not None and "/path/to/seq-hooks" in sample
    clone, written = _hook_repository(tmp_path, rev.group(1))
    repo = isolated
    config = sample.replace("/path/to/seq-hooks", str(clone)).replace(
        rev.group(0), f"rev: {written}"
    )
    (repo / ".pre-commit-config.yaml").write_text(config)
    (repo / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    (repo / ".gitignore").write_text(".venv\n")
    (repo / "app.py").write_text("def double(x: int) -> int:\n    return x * 2\n")
    (repo / "test_app.py").write_text(
        "from app import double\n\n\ndef test_double() -> None:\n    assert double(2) == 4\n"
    )
    git(repo, "add", "-A")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    steps = [_readme_block(f"**{n}.", "sh") for n in (2, 3, 4)]
    commands = [
        line.split(" #")[0].strip() for step in steps for line in step.splitlines() if line.strip()
    ]
    assert commands == [
        "pre-commit install",
        "seq-hooks install-git-hook",
        "pre-commit run --all-files",
        "seq-hooks doctor",
    ]
    for command in commands:
        done = subprocess.run(
            command.split(),
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=LONG,
            check=False,
        )
        assert done.returncode == 0, (
            f"{command}: exit {done.returncode}\n{done.stdout}{done.stderr}"
        )
    commit = subprocess.run(
        ["git", "commit", "-q", "-m", "first"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=LONG,
        check=False,
    )
    assert commit.returncode == 0, commit.stdout + commit.stderr
    history = subprocess.run(
        ["seq-hooks", "history", "-n", "0"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    for tool in ("ruff check", "ruff format", "mypy", "pytest"):
        assert tool in history, f"{tool} did not run through the queue:\n{history}"


@pytest.mark.usefixtures("caches")
def test_build_makes_an_sdist_and_a_wheel_that_install_and_run(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=LONG,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    assert sdist.name == f"seq_hooks-{VERSION}.tar.gz" and wheel.name.startswith(
        f"seq_hooks-{VERSION}-"
    )
    for artifact in (wheel, sdist):
        where = tmp_path / f"venv-{artifact.suffix.strip('.')}"
        venv.create(where, with_pip=True)
        pip = [str(where / "bin" / "python"), "-m", "pip", "install", "-q", str(artifact)]
        installed = subprocess.run(pip, capture_output=True, text=True, timeout=LONG, check=False)
        assert installed.returncode == 0, installed.stdout + installed.stderr
        for script in ("seq-hooks", "atomic-ruff", "git-safe"):
            assert (where / "bin" / script).exists(), f"{artifact.name}: no {script} console script"
        version = subprocess.run(
            [str(where / "bin" / "seq-hooks"), "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert (version.returncode, version.stdout) == (0, f"seq-hooks {VERSION}\n"), (
            artifact.name,
            version,
        )


@pytest.mark.parametrize("name", ["CHANGELOG.md", ".pre-commit-hooks.yaml"])
def test_the_sdist_carries_what_a_release_needs(name: str) -> None:
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
        "targets"
    ]["sdist"]
    assert name in include["include"]
