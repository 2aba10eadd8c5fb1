"""A real single-node SLURM cluster (with MariaDB accounting) as a test fixture.

``slurm_cluster`` (session) starts a fresh cluster with ``start_slurm.sh`` in a state
directory of its own under /tmp, on free ports, and always stops it at the end with
``stop_slurm.sh``, then checks that no process of it is left (pid files and a scan of
/proc). ``slurm_runs`` (session) submits a handful of training-like jobs at once into a
scratch tree laid out like users' (``SCRATCH/ck-out-<run>/``) and waits for all of them.

When the cluster cannot be had (not root, packages cannot be installed, a daemon does
not start) every test that needs it is skipped with the reason; with
``DESIGNLOG_SLURM_REQUIRED=1`` they fail instead.

Settings: ``DESIGNLOG_SLURM_DIR`` (state directory; default a new /tmp/dl-slurm-*),
``DESIGNLOG_SLURM_KEEP=1`` (keep the state directory and its logs after the run).

Polling scontrol/squeue here is test harness only; the project reads accounting.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import functools
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
START_SCRIPT = HERE / "start_slurm.sh"
STOP_SCRIPT = HERE / "stop_slurm.sh"
TRAIN_JOB = HERE / "train_job.py"
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd", "slurmstepd")
PID_FILES = {
    "munged": "munged",
    "mariadb": "mariadbd",
    "slurmdbd": "slurmdbd",
    "slurmctld": "slurmctld",
    "slurmd": "slurmd",
}
FINAL_STATES = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "OUT_OF_MEMORY",
        "NODE_FAIL",
        "BOOT_FAIL",
        "DEADLINE",
        "PREEMPTED",
    }
)
SACCT_ROW_FIELDS = ("JobID", "JobName", "State", "ExitCode", "Elapsed", "WorkDir")
POLL = 0.2

# clusters started and not yet stopped: the safety nets below stop them
_RUNNING: dict[str, SlurmCluster] = {}


# ------------------------------------------------------------------ processes


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def _alive(pid: int | str) -> bool:
    """The process exists and is not a zombie."""
    stat = _read(f"/proc/{pid}/stat")
    end = stat.rfind(b")")
    return bool(stat) and stat[end + 2 : end + 3] != b"Z"


def cluster_processes(state_dir: Path | str) -> list[tuple[int, str]]:
    """(pid, program) of every live process belonging to the cluster in ``state_dir``.

    Found by its pid files, and by scanning /proc for a SLURM/munge/MariaDB daemon or
    slurmstepd whose command line or environment names the state directory, or for a job
    process whose SLURM_CONF is this cluster's. Zombies are not counted.
    """
    base = str(state_dir).rstrip("/")
    base_b = (base + "/").encode()
    conf_b = f"SLURM_CONF={base}/etc/slurm.conf".encode()
    found: dict[int, str] = {}
    for pid_file, program in PID_FILES.items():
        text = _read(f"{base}/run/{pid_file}.pid").decode(errors="replace").strip()
        if text.isdigit() and _read(f"/proc/{text}/comm").decode().strip() == program:
            found[int(text)] = program
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        if not _alive(entry):
            continue
        comm = _read(f"/proc/{entry}/comm").decode(errors="replace").strip()
        environ = _read(f"/proc/{entry}/environ").split(b"\0")
        if comm in DAEMONS:
            if base_b in _read(f"/proc/{entry}/cmdline") or conf_b in environ:
                found[int(entry)] = comm
        elif conf_b in environ and any(v.startswith(b"SLURM_JOB_ID=") for v in environ):
            found[int(entry)] = comm
    return sorted((pid, prog) for pid, prog in found.items() if _alive(pid))


def _free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def _tail(text: str, lines: int = 15) -> str:
    kept = [ln for ln in text.splitlines() if ln.strip()][-lines:]
    return "\n".join(kept)


# ------------------------------------------------------------------ the cluster


@dataclass
class SlurmCluster:
    """A running test cluster. ``env`` is os.environ plus this cluster's SLURM_CONF."""

    state_dir: Path
    env: dict[str, str]
    start_seconds: float
    owns_state_dir: bool = True
    stop_seconds: float | None = None
    start_output: str = ""
    stop_output: str = ""
    stopped: bool = field(default=False, repr=False)
    _old_sigterm: object = field(default=None, repr=False)

    @property
    def conf(self) -> Path:
        return self.state_dir / "etc" / "slurm.conf"

    @property
    def runner(self):
        """``subprocess.run`` with this cluster's environment, for the probes' ``runner=``."""
        return functools.partial(subprocess.run, env=self.env)

    def run(
        self, *argv: str, cwd: Path | str | None = None, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            list(argv),
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{shlex.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}"
            )
        return proc

    # -- jobs
    def submit(self, script_path: Path | str, workdir: Path | str, *sbatch_args: str) -> str:
        """sbatch the script from ``workdir`` (so slurm-<id>.out lands there); the job id."""
        proc = self.run("sbatch", "--parsable", *sbatch_args, str(script_path), cwd=workdir)
        job_id = proc.stdout.strip().split(";")[0]
        assert job_id.isdigit(), f"sbatch printed {proc.stdout!r}"
        return job_id

    def job_states(self, job_id: str) -> list[str]:
        """JobState of each record scontrol has for the job (several for an array)."""
        proc = self.run("scontrol", "show", "job", "-o", job_id, check=False)
        if proc.returncode != 0:
            raise AssertionError(f"scontrol does not know job {job_id}: {proc.stderr.strip()}")
        states = []
        for line in proc.stdout.splitlines():
            for word in line.split():
                if word.startswith("JobState="):
                    states.append(word.split("=", 1)[1])
        return states

    def wait(self, job_id: str, timeout: float = 60.0) -> str:
        """Poll ``scontrol show job -o`` every 0.2 s until the job has ended; its state."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.job_states(job_id)
            if states and all(s in FINAL_STATES for s in states):
                return ",".join(sorted(set(states)))
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {states} after {timeout:g} s")
            time.sleep(POLL)

    def wait_started(self, job_id: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while {"PENDING", "CONFIGURING"} & set(self.job_states(job_id)):
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} did not start within {timeout:g} s")
            time.sleep(POLL)

    def cancel(self, job_id: str) -> None:
        self.run("scancel", job_id)

    def sacct_row(self, job_id: str, timeout: float = 15.0) -> dict[str, str]:
        """The job's allocation row from sacct, once accounting shows it as ended."""
        deadline = time.monotonic() + timeout
        argv = ["sacct", "-X", "-P", "-n", "-j", job_id]
        argv.append("--format=" + ",".join(SACCT_ROW_FIELDS))
        while True:
            proc = self.run(*argv, check=False)
            rows = [
                dict(zip(SACCT_ROW_FIELDS, ln.split("|", len(SACCT_ROW_FIELDS) - 1), strict=True))
                for ln in proc.stdout.splitlines()
                if ln.count("|") >= len(SACCT_ROW_FIELDS) - 1
            ]
            rows = [r for r in rows if r["JobID"] == job_id] or rows
            if len(rows) == 1 and rows[0]["State"].split()[0] in FINAL_STATES:
                return rows[0]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"sacct has no final row for job {job_id} after {timeout:g} s: "
                    f"{proc.stdout.strip()!r} {proc.stderr.strip()!r}"
                )
            time.sleep(POLL)

    # -- shutdown
    def leftovers(self) -> list[tuple[int, str]]:
        return cluster_processes(self.state_dir)

    def stop(self) -> None:
        """Stop everything (idempotent). Raises if a process of the cluster is left."""
        if self.stopped:
            return
        self.stopped = True
        _RUNNING.pop(str(self.state_dir), None)
        self._restore_sigterm()
        t0 = time.monotonic()
        env = dict(self.env, DL_SLURM_DIR=str(self.state_dir), DL_SLURM_WIPE="0")
        try:
            proc = subprocess.run(
                ["bash", str(STOP_SCRIPT)],
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
                stdin=subprocess.DEVNULL,
                check=False,
            )
            self.stop_output = proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as exc:
            self.stop_output = f"stop_slurm.sh timed out: {exc}"
        left = self.leftovers()
        for pid, _ in left:  # last resort, still strictly by pid
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if left:
            time.sleep(0.5)
        self.stop_seconds = time.monotonic() - t0
        still = self.leftovers()
        if not still and self.owns_state_dir and os.environ.get("DESIGNLOG_SLURM_KEEP") != "1":
            shutil.rmtree(self.state_dir, ignore_errors=True)
        if left:
            raise RuntimeError(
                f"processes of the test cluster were left after stop_slurm.sh: {left} "
                f"(killed by pid; still alive: {still})\n{self.stop_output}"
            )

    def _install_sigterm(self) -> None:
        # A SIGTERM to pytest would otherwise end it without any cleanup; as an
        # interrupt, pytest still runs pytest_sessionfinish, which stops the cluster.
        try:
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                self._old_sigterm = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
        except ValueError:  # not the main thread
            pass

    def _restore_sigterm(self) -> None:
        if self._old_sigterm is not None:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None


def _sigterm_to_interrupt(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt("SIGTERM")


def _stop_all(reason: str) -> None:
    for cluster in list(_RUNNING.values()):
        try:
            cluster.stop()
        except Exception as exc:  # noqa: BLE001 - a safety net reports and goes on
            print(f"\n[slurm test cluster, {reason}] {exc}", file=sys.stderr)


atexit.register(_stop_all, "at exit")


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001
    _stop_all("end of session")


def pytest_collection_modifyitems(config, items):  # noqa: ARG001
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.slurm)


def _unavailable(reason: str):
    if os.environ.get("DESIGNLOG_SLURM_REQUIRED") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def start_cluster() -> SlurmCluster:
    """Start a fresh cluster, or skip (fail with DESIGNLOG_SLURM_REQUIRED=1) saying why."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        _unavailable("SLURM test cluster needs root (its daemons run as SlurmUser=root)")
    if shutil.which("bash") is None:
        _unavailable("SLURM test cluster needs bash")
    fixed = os.environ.get("DESIGNLOG_SLURM_DIR")
    if fixed:
        state_dir = Path(fixed)
        state_dir.mkdir(parents=True, exist_ok=True)
    else:
        # short: the munge and MariaDB sockets live below it (108-byte socket path limit)
        state_dir = Path(tempfile.mkdtemp(prefix="dl-slurm-", dir="/tmp"))
    ctld, slurmd, dbd, db = _free_ports(4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env["SLURM_CONF"] = str(state_dir / "etc" / "slurm.conf")
    script_env = dict(
        env,
        DL_SLURM_DIR=str(state_dir),
        DL_SLURM_FRESH="1",
        DL_SLURM_ACCOUNTING="dbd",
        DL_SLURM_OVERSUBSCRIBE="8",
        DL_SLURM_CTLD_PORT=str(ctld),
        DL_SLURM_SLURMD_PORT=str(slurmd),
        DL_SLURM_DBD_PORT=str(dbd),
        DL_SLURM_DB_PORT=str(db),
    )
    cluster = SlurmCluster(
        state_dir=state_dir, env=env, start_seconds=0.0, owns_state_dir=not fixed
    )
    _RUNNING[str(state_dir)] = cluster
    cluster._install_sigterm()
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            ["bash", str(START_SCRIPT)],
            env=script_env,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        output, code = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        output, code = f"{exc.stdout or ''}{exc.stderr or ''}\nstart_slurm.sh timed out", -1
    cluster.start_seconds = time.monotonic() - t0
    cluster.start_output = output if isinstance(output, str) else output.decode()
    if code != 0:
        problem = ""
        try:
            cluster.stop()
        except RuntimeError as exc:
            problem = f"\n(and stopping what had started: {exc})"
        failed = [
            ln.removeprefix("FAILED: ")
            for ln in cluster.start_output.splitlines()
            if ln.startswith("FAILED: ")
        ]
        why = failed[-1] if failed else f"start_slurm.sh exit {code}"
        errors = [
            ln.strip()
            for ln in cluster.start_output.splitlines()
            if re.search(r"error|fatal", ln, re.IGNORECASE) and not ln.startswith("FAILED: ")
        ]
        if errors:
            why += f" ({errors[-1]})"
        _unavailable(
            f"SLURM test cluster did not start: {why}\n{_tail(cluster.start_output)}{problem}"
        )
    return cluster


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """A fresh running cluster for the whole session; stopped (and checked) at the end."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def slurm_env(slurm_cluster, monkeypatch) -> SlurmCluster:
    """The cluster, with its SLURM_CONF in os.environ for code that calls sacct itself."""
    monkeypatch.setenv("SLURM_CONF", str(slurm_cluster.conf))
    return slurm_cluster


# ------------------------------------------------------------------ the training runs


@dataclass(frozen=True)
class PlannedRun:
    run: str
    it_per_s: float
    steps: int
    warmup_steps: int = 2
    epochs: int = 1
    val_steps: int = 0
    expected_state: str = "COMPLETED"
    fail_before_training: bool = False
    job_name: str = "train"
    sbatch_args: tuple[str, ...] = ()
    array_tasks: tuple[int, ...] = ()
    cancel_after_step: int | None = None
    warmup_slowdown: float = 2.0

    @property
    def train_seconds(self) -> float:
        """Time the training loop sleeps (startup not included)."""
        period = 1.0 / self.it_per_s
        total = self.steps * self.epochs
        warm = min(self.warmup_steps, total)
        seconds = warm * period * self.warmup_slowdown + (total - warm) * period
        return seconds + self.epochs * self.val_steps * period / 4

    def train_args(self) -> list[str]:
        args = [
            f"--it-per-s={self.it_per_s:g}",
            f"--steps={self.steps}",
            f"--warmup-steps={self.warmup_steps}",
            f"--warmup-slowdown={self.warmup_slowdown:g}",
            f"--epochs={self.epochs}",
            f"--val-steps={self.val_steps}",
        ]
        if self.fail_before_training:
            args.append("--fail-before-training")
        return args


#: The jobs ``slurm_runs`` submits together (all run at once: the node is oversubscribed).
#: Each training job runs long enough after its warmup (15+ updates) for tqdm's smoothed rate
#: to settle on the speed the job was given, as in real runs of hundreds of steps.
RUN_PLAN: tuple[PlannedRun, ...] = (
    PlannedRun("fast", it_per_s=10.0, steps=60, warmup_steps=3, epochs=2, val_steps=4),
    PlannedRun("medium", it_per_s=4.0, steps=30, warmup_steps=2, epochs=2),
    # slow enough that tqdm shows s/it
    PlannedRun("slow", it_per_s=0.8, steps=18, warmup_steps=1, epochs=1),
    PlannedRun(
        "broken", it_per_s=5.0, steps=10, fail_before_training=True, expected_state="FAILED"
    ),
    PlannedRun(
        "cancelled", it_per_s=5.0, steps=200, cancel_after_step=5, expected_state="CANCELLED"
    ),
    # output not at SLURM's default place: sbatch -o on the command line
    PlannedRun("logs", it_per_s=6.0, steps=40, sbatch_args=("-o", "logs/%x-%j.out")),
    PlannedRun("sweep", it_per_s=8.0, steps=40, job_name="sweep", array_tasks=(1, 2)),
)


@dataclass(frozen=True)
class SubmittedRun:
    """One job (one array task) of ``slurm_runs``, as submitted and as it ended."""

    run: str  # e.g. "fast", or "sweep_1" for an array task
    job_id: str  # as sacct prints it: "3", or "7_1" for an array task
    job_name: str
    workdir: Path  # SCRATCH/ck-out-<run>/: the job's working directory
    output: Path  # where its stdout+stderr went
    it_per_s: float  # the steady speed it was given
    steps: int  # per epoch
    warmup_steps: int
    epochs: int
    val_steps: int
    expected_state: str
    final_state: str
    train_seconds: float  # time spent in the training loop (sleeps), for elapsed checks
    script: Path


@dataclass(frozen=True)
class SlurmRuns:
    scratch: Path
    since: dt.datetime  # a little before the first submission
    runs: dict[str, SubmittedRun]

    def __getitem__(self, run: str) -> SubmittedRun:
        return self.runs[run]

    @property
    def job_ids(self) -> dict[str, str]:
        return {name: r.job_id for name, r in self.runs.items()}

    @property
    def speeds(self) -> dict[str, float]:
        return {name: r.it_per_s for name, r in self.runs.items()}


def write_batch_script(path: Path, plan: PlannedRun) -> Path:
    """A batch script that runs train_job.py with this interpreter, unbuffered."""
    python = os.path.abspath(sys.executable)
    command = shlex.join([python, str(TRAIN_JOB), *plan.train_args()])
    path.write_text(
        "#!/bin/bash\n"
        f"#SBATCH --job-name={plan.job_name}\n"
        "#SBATCH --time=00:05:00\n"
        "#SBATCH --ntasks=1\n"
        "export PYTHONUNBUFFERED=1\n"
        f"exec {command} --seed=${{SLURM_ARRAY_TASK_ID:-0}}\n"
    )
    path.chmod(0o755)
    return path


def _wait_for_text(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and text in path.read_text(errors="replace"):
            return
        time.sleep(POLL)
    raise AssertionError(f"{text!r} did not appear in {path} within {timeout:g} s")


@pytest.fixture(scope="session")
def slurm_runs(slurm_cluster, tmp_path_factory) -> SlurmRuns:
    """Submit RUN_PLAN at once into SCRATCH/ck-out-<run>/, wait until all have ended and
    accounting shows them. Every job is submitted once per session."""
    scratch = tmp_path_factory.mktemp("scratch")
    scripts = scratch / "jobs"
    scripts.mkdir()
    since = dt.datetime.now().replace(microsecond=0) - dt.timedelta(minutes=1)
    submitted: list[tuple[PlannedRun, Path, Path, str]] = []
    for plan in RUN_PLAN:
        workdir = scratch / f"ck-out-{plan.run}"
        (workdir / "logs").mkdir(parents=True)
        script = write_batch_script(scripts / f"{plan.run}.sbatch", plan)
        args = list(plan.sbatch_args)
        if plan.array_tasks:
            args.append("--array=" + ",".join(str(t) for t in plan.array_tasks))
        job_id = slurm_cluster.submit(script, workdir, *args)
        submitted.append((plan, workdir, script, job_id))

    for plan, workdir, _, job_id in submitted:
        if plan.cancel_after_step is not None:
            slurm_cluster.wait_started(job_id)
            marker = f"|{plan.cancel_after_step}|Loss: "
            _wait_for_text(workdir / f"slurm-{job_id}.out", marker, timeout=30)
            slurm_cluster.cancel(job_id)

    runs: dict[str, SubmittedRun] = {}
    for plan, workdir, script, job_id in submitted:
        slurm_cluster.wait(job_id, timeout=60)
        tasks = [(f"{plan.run}_{t}", f"{job_id}_{t}") for t in plan.array_tasks] or [
            (plan.run, job_id)
        ]
        for run, task_id in tasks:
            row = slurm_cluster.sacct_row(task_id)
            if plan.array_tasks:
                output = workdir / f"slurm-{task_id}.out"
            elif plan.sbatch_args:
                output = workdir / "logs" / f"{plan.job_name}-{job_id}.out"
            else:
                output = workdir / f"slurm-{job_id}.out"
            runs[run] = SubmittedRun(
                run=run,
                job_id=task_id,
                job_name=plan.job_name,
                workdir=workdir,
                output=output,
                it_per_s=plan.it_per_s,
                steps=plan.steps,
                warmup_steps=plan.warmup_steps,
                epochs=plan.epochs,
                val_steps=plan.val_steps,
                expected_state=plan.expected_state,
                final_state=row["State"].split()[0],
                train_seconds=plan.train_seconds,
                script=script,
            )
    return SlurmRuns(scratch=scratch, since=since, runs=runs)
