"""The supervisor: the exit-code rule (pure), and real commands under `seq-hooks run` for what it
guarantees."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seq_hooks.errors import KILLED, TIMEOUT
from seq_hooks.process import proctree
from seq_hooks.process.supervisor import DETACHED_GRACE, ECHO_WINDOW, exit_code
from testing.util import alive, fixture, reap, run, seq_hooks, wait_for_file


def start_run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def _status(code: int = 0, sig: int = 0) -> int:
    """A wait status as waitpid(2) returns it."""
    return sig if sig else code << 8


@pytest.mark.parametrize(
    ("reason", "status", "interrupted_by", "expected"),
    [
        ("", _status(0), 0, (0, "exit")),
        ("", _status(3), 0, (3, "exit")),
        ("", _status(sig=signal.SIGUSR1), 0, (128 + signal.SIGUSR1, "signal")),
        ("", None, 0, (0, "exit")),
        ("timeout", _status(sig=signal.SIGTERM), 0, (TIMEOUT, "timeout")),
        ("memory", _status(sig=signal.SIGKILL), 0, (KILLED, "memory")),
        ("procs", _status(0), 0, (KILLED, "procs")),
        ("interrupted", _status(sig=signal.SIGINT), signal.SIGINT, (130, "interrupted")),
        ("interrupted", _status(0), signal.SIGHUP, (129, "interrupted")),
    ],
)
def test_exit_code_rule(
    reason: str, status: int | None, interrupted_by: int, expected: tuple[int, str]
) -> None:
    assert exit_code(reason, status, interrupted_by) == expected


def _last_log() -> str:
    record = json.loads(run(seq_hooks("history", "--json", "-n", "1")).stdout)["runs"][0]
    return Path(record["log"]).read_text()


@pytest.mark.parametrize(
    ("flag", "sig"), [("INT", signal.SIGINT), ("SIGUSR2", signal.SIGUSR2), ("1", 1)]
)
def test_kill_signal_is_the_one_the_command_gets(isolated: Path, flag: str, sig: int) -> None:
    pidfile = isolated / "child.pid"
    p = run(
        seq_hooks(
            "run",
            "--timeout",
            "0.5",
            "--kill-signal",
            flag,
            "--",
            *fixture("record_signal.py", pidfile),
        )
    )
    assert p.returncode == 124
    assert Path(f"{pidfile}.sig").read_text() == str(sig)
    assert f"timeout: {signal.Signals(sig).name} (and SIGCONT)" in _last_log()


def test_a_daemon_is_gone_when_run_returns_on_the_portable_path(isolated: Path) -> None:
    """Without /proc sampling and without a subreaper, the run token finds the setsid daemon: it is
    dead (not just signalled) by the time `run` returns."""
    pidfile = isolated / "daemon.pid"
    env = {**os.environ, "SEQ_HOOKS_PORTABLE": "1", "SEQ_HOOKS_NO_SUBREAPER": "1"}
    p = run(seq_hooks("run", "--timeout", "1", "--kill-after", "1", "--", "sh", "-c",
                      f"{' '.join(fixture('daemon.py', pidfile, 60))}; sleep 60"), env=env)
    assert p.returncode == 124
    assert not alive(int(pidfile.read_text()))


def test_the_runner_becomes_a_child_subreaper() -> None:
    """prctl through _ctypes takes effect: a process orphaned by the command reparents to the
    runner, which can wait for it as its own child (only a parent can)."""
    code = (
        "import os, subprocess\n"
        "from seq_hooks.process import supervisor\n"
        "assert supervisor.become_subreaper()\n"
        "orphan = int(subprocess.run(['sh', '-c', 'sleep 0.3 & echo $!'], capture_output=True, "
        "check=True).stdout)\n"
        "print(os.waitpid(orphan, 0)[0] == orphan)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                       check=False)
    assert p.stdout == "True\n", p.stderr


@pytest.mark.parametrize("subreaper", [True, False], ids=["subreaper", "token-scan"])
def test_a_daemon_the_command_detached_is_ended_after_a_grace(isolated: Path,
                                                              subreaper: bool) -> None:
    """Issue 20 item 4: a command that starts a daemon (a session of its own, no terminal: `dmypy
    run`, `gpg-connect-agent /bye`) exits at once; the daemon does not hold the unit until the
    timeout. It gets DETACHED_GRACE, is ended, said in one line, and the run reports the command's
    own status. Without a subreaper the run token finds it."""
    pidfile = isolated / "daemon.pid"
    env = {**os.environ, **({} if subreaper else {"SEQ_HOOKS_NO_SUBREAPER": "1"})}
    start = time.monotonic()
    p = run(seq_hooks("run", "--timeout", "30", "--", *fixture("daemon.py", pidfile, 60)), env=env)
    elapsed = time.monotonic() - start
    assert p.returncode == 0, p.stderr
    assert elapsed < 15  # not the timeout: the grace, then TERM
    daemon = int(pidfile.read_text())
    assert not alive(daemon)
    said = [line for line in p.stderr.splitlines() if "detached" in line]
    assert len(said) == 1 and f"pid {daemon} " in said[0], p.stderr
    assert f"{DETACHED_GRACE:g}s after it exited" in said[0]


def test_background_work_in_the_commands_own_session_is_waited_for(isolated: Path) -> None:
    """What the command leaves running in its own session (`cmd &`, no setsid) is its work: waited
    for, as before, however long it runs after the command exited (within the timeout)."""
    done = isolated / "done"
    start = time.monotonic()
    p = run(seq_hooks("run", "--timeout", "30", "--", "sh", "-c",
                      f"(sleep {DETACHED_GRACE + 1:g}; echo ok > {done}) > /dev/null 2>&1 &"))
    assert p.returncode == 0, p.stderr
    assert time.monotonic() - start >= DETACHED_GRACE + 0.9
    assert done.read_text() == "ok\n"
    assert "detached" not in p.stderr


def test_a_nested_runner_gets_one_signal_and_its_command_its_grace(isolated: Path) -> None:
    """Issue 20 item 8: SIGTERM to the outer runner reaches each process once. The outer runner
    signals its command's group (the nested runner in it) and leaves the nested run's command to the
    nested runner; a second delivery would make the nested runner take it for "SIGKILL now" and cut
    its command's cleanup."""
    pidfile = isolated / "cmd.pid"
    command = fixture("sigwait.py", pidfile, 1.0)
    inner = seq_hooks("run", "--no-lock", "--kill-after", "20", "--", *command)
    outer = start_run(seq_hooks("run", "--no-lock", "--kill-after", "20", "--", *inner))
    try:
        wait_for_file(pidfile)
        time.sleep(0.3)  # the runners are in their loops
        outer.send_signal(signal.SIGTERM)
        assert outer.wait(30) == 128 + signal.SIGTERM
    finally:
        reap(outer)
    senders = Path(f"{pidfile}.sigs").read_text().split("\n")[:-1]
    assert len(senders) == 1, senders  # from the nested runner only
    assert Path(f"{pidfile}.done").exists()  # its cleanup (1 s) was not cut short by a SIGKILL


def test_limits_hold_while_nobody_reads_our_stdout(isolated: Path) -> None:
    """A reader that never reads (a pager nobody scrolls) must not suspend the timeout or the memory
    checks."""
    import subprocess

    from testing.util import reap

    for args, code in (
        (["--timeout", "1", "--", "yes"], 124),
        (["--memory-limit", "100", "--", "sh", "-c",
          f"yes & {' '.join(fixture('eat_memory.py', 400, 500, 30))} >/dev/null"], 137),
    ):
        start = time.monotonic()
        proc = subprocess.Popen(
            seq_hooks("run", *args), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        try:
            assert proc.wait(20) == code  # never read: our pipe is full after 64 KiB
            assert time.monotonic() - start < 15
        finally:
            reap(proc)


def test_a_real_time_kill_signal_works(isolated: Path) -> None:
    pidfile = isolated / "child.pid"
    rt = signal.SIGRTMIN + 6
    p = run(
        seq_hooks(
            "run",
            "--timeout",
            "0.5",
            "--kill-signal",
            str(rt),
            "--",
            *fixture("record_signal.py", pidfile),
        )
    )
    assert p.returncode == 124 and "Traceback" not in p.stderr
    assert Path(f"{pidfile}.sig").read_text() == str(rt)
    assert "timeout: SIGRTMIN+6 (and SIGCONT)" in _last_log()


@pytest.mark.parametrize("number", ["0", "32", "33", "65"])
def test_a_signal_the_flag_cannot_deliver_is_refused(number: str) -> None:
    """glibc keeps 32 and 33 for itself (a C program never dies of them): refused, not a silent 5 s
    grace."""
    p = run(seq_hooks("run", "--kill-signal", number, "--", "true"))
    assert (
        p.returncode == 2
        and f"unknown signal '{number}'" in p.stderr
        and "Traceback" not in p.stderr
    )


def test_the_command_gets_the_broken_pipe_when_our_reader_goes(isolated: Path) -> None:
    cmd = " ".join(seq_hooks("run", "--", "yes"))
    start = time.monotonic()
    p = run(["sh", "-c", f"{cmd} | head -1; echo done"], timeout=30)
    assert p.stdout == "y\ndone\n"
    assert time.monotonic() - start < 10
    record = json.loads(run(seq_hooks("history", "--json", "-n", "1")).stdout)["runs"][0]
    assert record["exit"] == 128 + signal.SIGPIPE and record["reason"] == "signal"


def test_the_log_keeps_head_and_tail_of_a_flood(isolated: Path) -> None:
    from seq_hooks.process import pump

    size = pump.LOG_HEAD + pump.LOG_TAIL + (20 << 20)
    p = run(
        seq_hooks(
            "run",
            "--",
            "sh",
            "-c",
            f"echo FIRST; head -c {size} /dev/zero | tr '\\0' a; echo; echo LAST",
        ),
        timeout=120,
    )
    assert p.returncode == 0 and len(p.stdout) > size  # the reader got everything
    log = Path(json.loads(run(seq_hooks("history", "--json", "-n", "1")).stdout)["runs"][0]["log"])
    assert log.stat().st_size < pump.LOG_HEAD + pump.LOG_TAIL + 4096
    text = log.read_bytes()
    assert b"FIRST" in text[:200] and b"LAST" in text[-4096:]
    assert b"bytes of output cut here" in text


def test_json_output_is_bounded_and_keeps_bytes(isolated: Path) -> None:
    import base64

    from seq_hooks.process import pump

    size = pump.CAPTURE_HEAD + pump.CAPTURE_TAIL + (4 << 20)
    script = f"head -c {size} /dev/zero | tr '\\0' a; printf 'caf\\351' >&2"
    p = run(seq_hooks("run", "--json", "--", "sh", "-c", script), timeout=120)
    record = json.loads(p.stdout)
    assert record["stdout_cut"] == 4 << 20 and record["stderr_cut"] == 0
    assert "bytes cut here" in record["stdout"] and len(record["stdout"]) < size
    assert record["stdout_base64"] is None
    assert base64.b64decode(record["stderr_base64"]) == b"caf\xe9"


def test_max_procs_is_enforced_before_the_tree_runs_away(isolated: Path) -> None:
    started = isolated / "started"
    loop = (
        f"i=0; while [ $i -lt 1500 ]; do (echo x >> {started}; exec sleep 30) & i=$((i+1)); done; "
        "wait"
    )
    p = run(seq_hooks("run", "--max-procs", "50", "--", "sh", "-c", loop), timeout=60)
    assert p.returncode == 137 and "process limit 50 exceeded" in p.stderr
    count = len(started.read_text().splitlines())
    # counted in the run's cgroup every few ms where it has one, else at each sample (main took
    # 130-590)
    assert count < 150, f"{count} processes started under --max-procs 50"


def test_shared_copy_on_write_pages_are_counted_once(isolated: Path) -> None:
    """A 150 MB parent with 12 forks holds ~150 MB, not 13 x 150 (RSS counts shared pages once per
    process)."""
    code = (
        "import os, time\nb = bytearray(os.urandom(1)) * (150 << 20)\npids = []\n"
        "for _ in range(12):\n    pid = os.fork()\n    if pid == 0:\n        time.sleep(1.5)\n     "
        "   os._exit(0)\n"
        "    pids.append(pid)\nfor pid in pids:\n    os.waitpid(pid, 0)\n"
    )
    p = run(
        seq_hooks("run", "--json", "--memory-limit", "1000", "--", sys.executable, "-c", code),
        timeout=60,
    )
    record = json.loads(p.stdout)
    assert p.returncode == 0, record["message"]
    assert "PSS" in _last_log()


def test_scripts_without_a_shebang_and_missing_interpreters(isolated: Path) -> None:
    plain = isolated / "plain"
    plain.write_text("echo plain ran\n")
    plain.chmod(0o755)
    p = run(seq_hooks("run", "--", str(plain)))
    assert p.returncode == 0 and p.stdout == "plain ran\n"
    tool = isolated / "tool"
    tool.write_text("#!/nonexistent\n")
    tool.chmod(0o755)
    p = run(seq_hooks("run", "--", str(tool)))
    assert p.returncode == 127 and "bad interpreter: /nonexistent was not found" in p.stderr


def test_nothing_wakes_the_loop_on_a_fixed_clock(isolated: Path) -> None:
    """Without a subreaper the loop looks again at each sample (check_interval, 0.25 s), not every
    50 ms: a 3 s sleep costs a dozen wake-ups, not sixty (counted as voluntary context switches of
    the runner and its child)."""
    env = {**os.environ, "SEQ_HOOKS_NO_SUBREAPER": "1"}
    exe = seq_hooks("run", "--no-lock", "--", "sleep", "3")
    pid = os.posix_spawn(exe[0], exe, env)
    _, status, usage = os.wait4(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert usage.ru_nvcsw < 40, f"{usage.ru_nvcsw} wake-ups"


def test_threads_are_not_processes_under_max_procs(isolated: Path) -> None:
    code = (
        "import threading, time\nts = [threading.Thread(target=time.sleep, args=(0.3,)) for _ in "
        "range(30)]\n"
        "[t.start() for t in ts]\n[t.join() for t in ts]\nprint('30 threads')\n"
    )
    p = run(seq_hooks("run", "--max-procs", "2", "--", sys.executable, "-c", code))
    assert p.returncode == 0 and p.stdout == "30 threads\n", p.stderr


def test_a_nested_runner_takes_the_echo_of_a_signal_to_all_for_one(isolated: Path) -> None:
    """Issue 20 item 8: a signal sent to every runner at once (systemd stopping a unit, a kill of
    the session) reaches the nested runner twice: directly, and forwarded by the outer runner
    moments later. That echo is not a second request: the nested command keeps its grace."""
    pidfile = isolated / "cmd.pid"
    command = fixture("sigwait.py", pidfile, 1.5)
    inner = seq_hooks("run", "--no-lock", "--kill-after", "20", "--", *command)
    outer = start_run(seq_hooks("run", "--no-lock", "--kill-after", "20", "--", *inner))
    try:
        info = proctree.info(int(wait_for_file(pidfile)))
        assert info is not None
        time.sleep(0.3)  # the runners are in their loops
        for runner in (outer.pid, info.ppid):
            os.kill(runner, signal.SIGTERM)
        assert outer.wait(30) == 128 + signal.SIGTERM
    finally:
        reap(outer)
    assert Path(f"{pidfile}.done").exists()  # its cleanup (1.5 s) was not cut short by a SIGKILL


def test_a_nested_runner_escalates_on_a_second_request(isolated: Path) -> None:
    """A second signal after ECHO_WINDOW is a request: SIGKILL now, not after kill_after."""
    pidfile = isolated / "cmd.pid"
    command = fixture("sigwait.py", pidfile, 30)
    inner = start_run([*seq_hooks("run", "--no-lock", "--kill-after", "20", "--", *command)],
                      env={**os.environ, "SEQ_HOOKS_RUN": "0" * 16})  # as if under another run
    try:
        wait_for_file(pidfile)
        time.sleep(0.3)
        inner.send_signal(signal.SIGTERM)
        time.sleep(ECHO_WINDOW + 0.3)
        start = time.monotonic()
        inner.send_signal(signal.SIGTERM)
        assert inner.wait(30) == 128 + signal.SIGTERM
        assert time.monotonic() - start < 10  # not the 20 s of kill_after, nor the command's 30 s
    finally:
        reap(inner)
    assert not Path(f"{pidfile}.done").exists()
