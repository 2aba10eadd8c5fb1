"""The SLURM accounting probe without a cluster: parsing, commands, the unavailable path."""

from __future__ import annotations

import datetime as dt
import functools
import shlex
import subprocess
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from designlog_magics.probes import slurm
from designlog_magics.probes.slurm import (
    OutputNotFound,
    SacctJob,
    SacctParseError,
    SacctQuery,
    SlurmError,
    SlurmUnavailable,
    parse_elapsed,
    query_jobs,
    resolve_output,
    sacct_command,
    sacct_command_line,
    slurm_available,
)

FORMAT = "--format=JobID,JobName,State,ExitCode,Elapsed,WorkDir"
NOT_AVAILABLE = "SLURM accounting is not available on this machine: "


class FakeRunner:
    """Answers like subprocess.run, from canned (returncode, stdout, stderr) per program."""

    def __init__(self, **answers):
        self.answers = answers
        self.calls: list[list[str]] = []

    def __call__(self, argv, **kwargs):
        assert kwargs.get("capture_output") and kwargs.get("text")
        assert kwargs.get("timeout")
        self.calls.append(list(argv))
        answer = self.answers.get(argv[0])
        if answer is None:
            raise FileNotFoundError(2, "No such file or directory", argv[0])
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            answer = answer(argv)
        code, out, err = answer
        return subprocess.CompletedProcess(argv, code, out, err)


# ------------------------------------------------------------------ parse_elapsed


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:00", 0),
        ("05:12", 312),
        ("00:00:03", 3),
        ("01:02:03", 3723),
        ("1-02:03:04", 93784),
        ("12-00:00:00", 12 * 86400),
        ("05:12.345", 312),
        ("05:12.5", 313),
        ("01:02:03.999", 3724),
        ("36:00:00", 36 * 3600),
        (" 00:01:00\n", 60),
    ],
)
def test_parse_elapsed(text, seconds):
    assert parse_elapsed(text) == seconds


@pytest.mark.parametrize(
    "text",
    ["", "INVALID", "Unknown", "5", "1:2:3:4", "1-02:03", "00:60", "01:60:00", "1-24:00:00",
     "-01:00", "1h", "00:00:00.", "1.5:00"],
)  # fmt: skip
def test_parse_elapsed_rejects(text):
    with pytest.raises(SacctParseError) as info:
        parse_elapsed(text)
    assert repr(text) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_parse_elapsed_rejects_non_strings():
    with pytest.raises(SacctParseError, match="expected a string"):
        parse_elapsed(None)  # type: ignore[arg-type]


def _sacct_style(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{clock}" if days else clock


@given(st.integers(min_value=0, max_value=400 * 86400))
def test_parse_elapsed_round_trip(seconds):
    assert parse_elapsed(_sacct_style(seconds)) == seconds


# ------------------------------------------------------------------ the command


def test_sacct_command_defaults():
    assert sacct_command() == ["sacct", "-X", "-P", "-n", FORMAT, "--starttime", "now-30days"]


def test_sacct_command_line_for_the_log():
    assert sacct_command_line(name="train", since="2025-10-01") == (
        f"sacct -X -P -n {FORMAT} --starttime 2025-10-01 --name train"
    )
    assert sacct_command_line(name=["train", "eval"], since="7d", user="alice") == (
        f"sacct -X -P -n {FORMAT} --starttime now-7days --name train,eval --user alice"
    )
    assert "'my run'" in sacct_command_line(name="my run")


@pytest.mark.parametrize(
    ("since", "text"),
    [
        (dt.date(2025, 10, 1), "2025-10-01"),
        (dt.datetime(2025, 10, 1, 8, 30), "2025-10-01T08:30:00"),
        ("2025-10-01T08:30", "2025-10-01T08:30"),
        ("now-2weeks", "now-2weeks"),
        ("12h", "now-12hours"),
        ("2w", "now-2weeks"),
        ("midnight", "midnight"),
        ("10/01", "10/01"),
    ],
)
def test_sacct_command_since(since, text):
    argv = sacct_command(since=since)
    assert argv[argv.index("--starttime") + 1] == text


@pytest.mark.parametrize("since", ["last tuesday", "2025-13", "-1d", "now; rm -rf /", 42])
def test_sacct_command_rejects_unknown_times(since):
    with pytest.raises(SacctParseError, match="start time"):
        sacct_command(since=since)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"name": ""}, "job name"), ({"name": ["a", " "]}, "job name"), ({"user": "a b"}, "user")],
)
def test_sacct_command_rejects_bad_names(kwargs, match):
    with pytest.raises(SacctParseError, match=match):
        sacct_command(**kwargs)


# ------------------------------------------------------------------ query_jobs

SACCT_OUT = """\
12|train|COMPLETED|0:0|00:05:12|{wd}/ck-out-a
13|train|COMPLETED|0:0|1-00:00:07|{wd}/ck-out-b
14|train|FAILED|1:0|00:00:03|{wd}/ck-out-c
15|train|TIMEOUT|0:0|04:00:00|{wd}/ck-out-d
16|train|CANCELLED by 1000|0:15|00:01:40|{wd}/ck-out-e
17|train|RUNNING|0:0|00:00:41|{wd}/dir|with|pipes
18_1|sweep|COMPLETED|0:0|00:00:09|{wd}/ck-out-f
18_[2-4]|sweep|PENDING|0:0|00:00:00|{wd}/ck-out-f
19|train|OUT_OF_MEMORY|0:125|00:00:55|
"""


def test_query_jobs_parses_and_sorts_runs(tmp_path):
    (tmp_path / "ck-out-a").mkdir()
    (tmp_path / "ck-out-a" / "slurm-12.out").write_text("bar")
    (tmp_path / "ck-out-f").mkdir()
    (tmp_path / "ck-out-f" / "slurm-18_1.out").write_text("bar")
    runner = FakeRunner(sacct=(0, SACCT_OUT.format(wd=tmp_path), ""))

    query = query_jobs(name="train", since="2025-10-01", runner=runner)

    assert runner.calls == [sacct_command(name="train", since="2025-10-01")]
    assert query.command == sacct_command_line(name="train", since="2025-10-01")
    assert [j.job_id for j in query.jobs] == [
        "12", "13", "14", "15", "16", "17", "18_1", "18_[2-4]", "19"
    ]  # fmt: skip
    first = query.jobs[0]
    assert first == SacctJob(
        job_id="12",
        name="train",
        state="COMPLETED",
        elapsed="00:05:12",
        elapsed_seconds=312,
        workdir=str(tmp_path / "ck-out-a"),
        output_path=str(tmp_path / "ck-out-a" / "slurm-12.out"),
        exit_code="0:0",
    )
    by_id = {j.job_id: j for j in query.jobs}
    assert by_id["13"].elapsed_seconds == 86407
    assert by_id["13"].output_path is None  # no such file
    assert by_id["16"].state == "CANCELLED"
    assert by_id["17"].workdir == f"{tmp_path}/dir|with|pipes"
    assert by_id["17"].active
    assert by_id["18_1"].output_path == str(tmp_path / "ck-out-f" / "slurm-18_1.out")
    assert by_id["18_[2-4]"].output_path is None
    assert by_id["19"].workdir == "" and by_id["19"].output_path is None

    assert [j.job_id for j in query.usable] == ["12", "13", "18_1"]
    assert [j.job_id for j in query.unusable] == ["14", "15", "16", "17", "18_[2-4]", "19"]
    assert [j.job_id for j in query.timed_out] == ["15"]
    assert query.summary() == (
        "Found 9 prior runs in accounting: 12 train (COMPLETED, 00:05:12), "
        "13 train (COMPLETED, 1-00:00:07), 18_1 sweep (COMPLETED, 00:00:09); "
        "not used for estimates: 14 train (FAILED, 00:00:03), "
        "15 train (TIMEOUT, 04:00:00; speed from its output only), "
        "16 train (CANCELLED, 00:01:40), 17 train (RUNNING, 00:00:41), "
        "18_[2-4] sweep (PENDING, 00:00:00), 19 train (OUT_OF_MEMORY, 00:00:55)"
    )


def test_summary_of_nothing_and_of_many():
    assert SacctQuery("sacct", ()).summary() == "Found no prior runs in accounting."
    one_failed = SacctQuery(
        "sacct", (SacctJob("3", "t", "FAILED", "00:00:01", 1, "/w", None, "1:0"),)
    )
    assert one_failed.summary() == (
        "Found 1 prior run in accounting: none COMPLETED; "
        "not used for estimates: 3 t (FAILED, 00:00:01)"
    )
    many = SacctQuery(
        "sacct",
        tuple(
            SacctJob(str(i), "t", "COMPLETED", "00:00:01", 1, "/w", None, "0:0") for i in range(25)
        ),
    )
    text = many.summary()
    assert text.startswith("Found 25 prior runs in accounting: 0 t (COMPLETED, 00:00:01), ")
    assert text.endswith("9 t (COMPLETED, 00:00:01) and 15 more")


def test_query_jobs_with_no_runs():
    query = query_jobs(runner=FakeRunner(sacct=(0, "\n", "")))
    assert query.jobs == () and query.usable == () and query.unusable == ()


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("12|train|COMPLETED|0:0|00:05:12", r"line 2: .*expected 6 fields"),
        ("abc|train|COMPLETED|0:0|00:05:12|/w", "line 2: bad JobID 'abc'"),
        ("12|train|COMPLETED|0:0|five minutes|/w", "line 2: not a SLURM elapsed time"),
        ("12|train||0:0|00:05:12|/w", "line 2: empty State"),
    ],
)
def test_query_jobs_unreadable_output(line, match):
    runner = FakeRunner(sacct=(0, f"11|train|COMPLETED|0:0|00:00:01|/w\n{line}\n", ""))
    with pytest.raises(SacctParseError, match=match):
        query_jobs(runner=runner)


@pytest.mark.parametrize(
    ("stderr", "reason"),
    [
        ("Slurm accounting storage is disabled\n", "accounting storage is disabled"),
        (
            "sacct: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host\n"
            "sacct: error: fetch_config: DNS SRV lookup failed\n"
            "sacct: fatal: Could not establish a configuration source\n",
            "no SLURM configuration found",
        ),
        (
            "sacct: error: slurm_persist_conn_open_without_init: failed to open persistent "
            "connection to host:localhost:6819: Connection refused\n"
            "sacct: error: Problem talking to the database: Connection refused\n",
            "sacct cannot reach the accounting daemon",
        ),
    ],
)
def test_query_jobs_unavailable_is_one_line(stderr, reason):
    runner = FakeRunner(sacct=(1, "", stderr))
    with pytest.raises(SlurmUnavailable) as info:
        query_jobs(runner=runner)
    message = str(info.value)
    assert message.startswith(NOT_AVAILABLE + reason)
    assert "\n" not in message
    assert not slurm_available(runner=runner)


def test_query_jobs_refused_is_a_slurm_error_not_unavailability():
    runner = FakeRunner(sacct=(1, "", "sacct: error: Invalid user id: nosuchuser\n"))
    with pytest.raises(SlurmError) as info:
        query_jobs(user="nosuchuser", runner=runner)
    assert not isinstance(info.value, SlurmUnavailable)
    assert str(info.value) == "sacct failed (exit 1): sacct: error: Invalid user id: nosuchuser"
    # for availability, any failure of the tiny query counts as "not available"
    with pytest.raises(SlurmUnavailable, match="^" + NOT_AVAILABLE + "sacct failed"):
        slurm.ensure_slurm(runner=runner)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (FileNotFoundError(2, "No such file"), NOT_AVAILABLE + "sacct not found"),
        (PermissionError(13, "Permission denied"), NOT_AVAILABLE + "sacct cannot be run"),
        (subprocess.TimeoutExpired(["sacct"], 60), NOT_AVAILABLE + "sacct did not answer"),
    ],
)
def test_query_jobs_when_sacct_cannot_run(error, message):
    runner = FakeRunner(sacct=error)
    with pytest.raises(SlurmUnavailable) as info:
        query_jobs(runner=runner)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_slurm_available_with_answering_sacct():
    runner = FakeRunner(sacct=(0, "", ""))
    assert slurm_available(runner=runner)
    assert runner.calls[0][0] == "sacct"


def test_no_sacct_on_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert slurm_available() is False
    with pytest.raises(SlurmUnavailable) as info:
        query_jobs()
    assert str(info.value) == NOT_AVAILABLE + "sacct not found"
    runner = functools.partial(subprocess.run, env={"PATH": str(tmp_path)})
    with pytest.raises(SlurmUnavailable, match="^" + NOT_AVAILABLE + "sacct not found$"):
        query_jobs(runner=runner)
    with pytest.raises(SlurmUnavailable) as info:
        resolve_output("12")
    assert str(info.value) == NOT_AVAILABLE + "sacct not found"


def _fake_program(directory, name, script):
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def test_a_missing_slurm_conf_is_reported_at_once(monkeypatch, tmp_path):
    # real SLURM clients retry a missing SLURM_CONF for 60 s
    _fake_program(tmp_path, "sacct", "sleep 30\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("SLURM_CONF", str(tmp_path / "nope.conf"))
    started = time.monotonic()
    with pytest.raises(SlurmUnavailable) as info:
        query_jobs()
    assert time.monotonic() - started < 5
    assert str(info.value) == (
        NOT_AVAILABLE + f"SLURM_CONF names {tmp_path / 'nope.conf'}, which does not exist"
    )


def test_query_jobs_runs_sacct_from_path(monkeypatch, tmp_path):
    log = tmp_path / "argv"
    _fake_program(
        tmp_path,
        "sacct",
        f'printf "%s\\n" "$@" > {log}\nprintf "5|train|COMPLETED|0:0|00:00:09|/nowhere\\n"\n',
    )
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.delenv("SLURM_CONF", raising=False)
    query = query_jobs(name="train", since="2025-10-01")
    assert [(j.job_id, j.elapsed_seconds, j.output_path) for j in query.jobs] == [("5", 9, None)]
    assert log.read_text().split("\n")[:-1] == sacct_command(name="train", since="2025-10-01")[1:]
    assert slurm_available()


# ------------------------------------------------------------------ resolve_output

FORGOTTEN = (1, "", "slurm_load_jobs error: Invalid job id specified\n")
RESOLVE_FORMAT = "--format=JobID,JobIDRaw,JobName,User,WorkDir,SubmitLine"


def _scontrol_line(job_id, stdout, workdir="/w", array=None):
    extra = f"ArrayJobId={array[0]} ArrayTaskId={array[1]} " if array else ""
    return (
        f"JobId={job_id} {extra}JobName=train UserId=root(0) JobState=COMPLETED Reason=None "
        f"Command=/w/job.sh WorkDir={workdir} StdErr={stdout} StdIn=/dev/null "
        f"StdOut={stdout} Power= \n"
    )


def test_resolve_output_from_scontrol(tmp_path):
    out = tmp_path / "logs dir" / "train-12.out"
    out.parent.mkdir()
    out.write_text("x")
    runner = FakeRunner(scontrol=(0, _scontrol_line("12", out), ""))
    assert resolve_output(12, runner=runner) == str(out)
    assert runner.calls == [["scontrol", "show", "job", "-o", "12"]]


def test_resolve_output_from_accounting_default_name(tmp_path):
    (tmp_path / "slurm-12.out").write_text("x")
    runner = FakeRunner(
        scontrol=FORGOTTEN, sacct=(0, f"12|12|train|root|{tmp_path}|sbatch job.sh\n", "")
    )
    assert resolve_output("12", runner=runner) == str(tmp_path / "slurm-12.out")
    assert runner.calls[1] == ["sacct", "-X", "-P", "-n", "-j", "12", RESOLVE_FORMAT]


def test_resolve_output_of_an_array_task(tmp_path):
    (tmp_path / "slurm-18_2.out").write_text("x")
    runner = FakeRunner(
        scontrol=FORGOTTEN,
        sacct=(0, f"18_2|20|sweep|root|{tmp_path}|sbatch --array=1-2 job.sh\n", ""),
    )
    assert resolve_output("18_2", runner=runner) == str(tmp_path / "slurm-18_2.out")


@pytest.mark.parametrize(
    ("job", "submit_line", "relative"),
    [
        ("21", "sbatch -o logs/%x-%j.out job.sh", "logs/train-21.out"),
        ("20_3", "sbatch --output=out/%A_%a.log --array=3 job.sh", "out/20_3.log"),
        ("20_3", "sbatch --array=3 --output out/%u/%3a.txt job.sh", "out/alice/003.txt"),
        ("20_3", "sbatch --array=3 --output out/%j.txt job.sh", "out/21.txt"),
        ("21", "sbatch -oall%%.out job.sh", "all%.out"),
    ],
)
def test_resolve_output_from_the_submit_line(tmp_path, job, submit_line, relative):
    target = tmp_path / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("x")
    runner = FakeRunner(
        scontrol=FORGOTTEN, sacct=(0, f"{job}|21|train|alice|{tmp_path}|{submit_line}\n", "")
    )
    assert resolve_output(job, runner=runner) == str(target)


def test_resolve_output_absolute_output_option(tmp_path):
    target = tmp_path / "elsewhere.out"
    target.write_text("x")
    runner = FakeRunner(
        scontrol=FORGOTTEN, sacct=(0, f"21|21|train|root|/w|sbatch -o {target} j.sh\n", "")
    )
    assert resolve_output("21", runner=runner) == str(target)


def test_resolve_output_on_older_slurm_without_submitline(tmp_path):
    (tmp_path / "slurm-12.out").write_text("x")

    def sacct(argv):
        if "SubmitLine" in argv[-1]:
            return 1, "", 'sacct: error: Invalid field requested: "SubmitLine"\n'
        return 0, f"12|12|train|root|{tmp_path}\n", ""

    runner = FakeRunner(scontrol=FORGOTTEN, sacct=sacct)
    assert resolve_output("12", runner=runner) == str(tmp_path / "slurm-12.out")


def test_resolve_output_not_found_says_what_was_tried(tmp_path):
    runner = FakeRunner(
        scontrol=FORGOTTEN, sacct=(0, f"12|12|train|root|{tmp_path}|sbatch j\n", "")
    )
    with pytest.raises(OutputNotFound) as info:
        resolve_output("12", runner=runner)
    message = str(info.value)
    assert message.startswith("cannot find the output of job 12: scontrol no longer knows")
    assert (
        f"{tmp_path}/slurm-12.out (SLURM's default name in the job's WorkDir) does not exist"
        in (message)
    )
    assert message.endswith("give the file's path")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("sacct_out", "match"),
    [
        ("", "sacct does not know the job"),
        ("12|12|train|root||sbatch j\n", "no usable WorkDir"),
        ("12|12|train|root|/w|sbatch -o %N-%j.out j\n", "cannot be filled in"),
        ("12|12|train|root|/nowhere|sbatch -o x.out j\n", r"/nowhere/x.out \(--output"),
    ],
)
def test_resolve_output_failures(sacct_out, match):
    runner = FakeRunner(scontrol=FORGOTTEN, sacct=(0, sacct_out, ""))
    with pytest.raises(OutputNotFound, match=match):
        resolve_output("12", runner=runner)


def test_resolve_output_stale_stdout_in_scontrol_falls_back(tmp_path):
    (tmp_path / "slurm-12.out").write_text("x")
    runner = FakeRunner(
        scontrol=(0, _scontrol_line("12", "/gone/slurm-12.out"), ""),
        sacct=(0, f"12|12|train|root|{tmp_path}|sbatch j\n", ""),
    )
    assert resolve_output("12", runner=runner) == str(tmp_path / "slurm-12.out")


def test_resolve_output_of_a_whole_array():
    lines = _scontrol_line("21", "/w/slurm-20_2.out", array=(20, 2)) + _scontrol_line(
        "20", "/w/slurm-20_1.out", array=(20, 1)
    )
    runner = FakeRunner(scontrol=(0, lines, ""))
    with pytest.raises(OutputNotFound, match=r"job 20 is a job array with tasks 20_1, 20_2"):
        resolve_output("20", runner=runner)
    runner = FakeRunner(
        scontrol=FORGOTTEN, sacct=(0, "20_1|20|s|root|/w|sbatch\n20_2|21|s|root|/w|sbatch\n", "")
    )
    with pytest.raises(OutputNotFound, match=r"give one task, e.g. 20_1"):
        resolve_output("20", runner=runner)


@pytest.mark.parametrize("job_id", ["abc", "", "12_[1-3]", "12 13", "-1", "12;rm"])
def test_resolve_output_rejects_bad_ids(job_id):
    with pytest.raises(SacctParseError, match="not a SLURM job id"):
        resolve_output(job_id, runner=FakeRunner())


def test_resolve_output_when_controller_is_down(tmp_path):
    (tmp_path / "slurm-12.out").write_text("x")
    runner = FakeRunner(
        scontrol=(1, "", "slurm_load_jobs error: Unable to contact slurm controller\n"),
        sacct=(0, f"12|12|train|root|{tmp_path}|sbatch j\n", ""),
    )
    assert resolve_output("12", runner=runner) == str(tmp_path / "slurm-12.out")
    runner.answers["sacct"] = (0, "", "")
    with pytest.raises(OutputNotFound, match="scontrol failed: .*Unable to contact"):
        resolve_output("12", runner=runner)


# ------------------------------------------------------------------ name patterns

# What `sacct -X -P -n --format=JobID,JobName,State,ExitCode,Elapsed,WorkDir` prints, as
# SLURM's src/common/print_fields.c writes it for --parsable2 (PRINT_FIELDS_PARSABLE_NO_ENDING:
# "value|" for every field but the last, no trailing "|", one "\n" per row, no header with
# -n); State "CANCELLED by UID" and ExitCode "%d:%d" as src/sacct/print.c formats them.
PATTERN_ROWS = """\
21|ck-out-a|COMPLETED|0:0|00:01:05|/scratch/ck-out-a
22|ck-out-b|FAILED|1:0|00:00:04|/scratch/ck-out-b
23|other|COMPLETED|0:0|00:00:30|/scratch/other
24|ck-out-|CANCELLED by 0|0:15|00:00:02|/scratch/x
25|CK-OUT-c|COMPLETED|0:0|00:00:09|/scratch/y
26_1|ck-out-sweep|COMPLETED|0:0|00:00:12|/scratch/sweep
27|xck-out-a|COMPLETED|0:0|00:00:12|/scratch/z
"""

# A stand-in for sacct on PATH: it records its arguments and, like sacct (src/sacct/options.c
# puts each --name into job_cond->jobname_list, compared whole), keeps only rows whose name
# is exactly one of a comma-separated --name.
FAKE_SACCT = r"""
printf '%s\n' "$@" > "$HERE/argv"
names=""
while [ $# -gt 0 ]; do
  case "$1" in
    --name) names="$2"; shift 2;;
    --name=*) names="${1#--name=}"; shift;;
    *) shift;;
  esac
done
awk -F'|' -v names="$names" '
  BEGIN { n = split(names, want, ","); for (i = 1; i <= n; i++) keep[want[i]] = 1 }
  names == "" || ($2 in keep)
' "$HERE/rows"
"""


@pytest.fixture
def fake_sacct(monkeypatch, tmp_path):
    (tmp_path / "rows").write_text(PATTERN_ROWS)
    _fake_program(tmp_path, "sacct", f"HERE={tmp_path}\n" + FAKE_SACCT)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.delenv("SLURM_CONF", raising=False)
    return tmp_path


def _argv(fake_sacct):
    return (fake_sacct / "argv").read_text().split("\n")[:-1]


def test_the_fake_sacct_matches_names_exactly_as_sacct_does(fake_sacct):
    # the fault being fixed: a pattern given to sacct as --name finds nothing
    out = subprocess.run(
        ["sacct", "-X", "-P", "-n", "--name", "ck-out-*"], capture_output=True, text=True
    )
    assert out.stdout == ""
    out = subprocess.run(["sacct", "--name", "other,ck-out-b"], capture_output=True, text=True)
    assert [ln.split("|")[0] for ln in out.stdout.splitlines()] == ["22", "23"]


def test_a_glob_name_is_matched_here_not_by_sacct(fake_sacct):
    query = query_jobs(name="ck-out-*", since="2025-10-01")
    # fnmatchcase: case-sensitive, whole name; "ck-out-" matches "ck-out-*" too
    assert [j.job_id for j in query.jobs] == ["21", "22", "24", "26_1"]
    assert [j.name for j in query.jobs] == ["ck-out-a", "ck-out-b", "ck-out-", "ck-out-sweep"]
    assert "--name" not in _argv(fake_sacct)
    # the logged command is the one that ran, and running it prints all 7 rows
    assert query.command == sacct_command_line(name="ck-out-*", since="2025-10-01")
    assert query.command == (f"sacct -X -P -n {FORMAT} --starttime 2025-10-01")
    assert _argv(fake_sacct) == shlex.split(query.command)[1:]
    assert query.name_filter == ("ck-out-*",) and query.listed == 7
    assert [j.job_id for j in query.usable] == ["21", "26_1"]
    summary = query.summary()
    assert summary.startswith(
        "Found 4 prior runs in accounting whose job name matches ck-out-* "
        "(names filtered by the pattern from the 7 runs sacct listed): 21 ck-out-a (COMPLETED, "
    )
    assert "not used for estimates: 22 ck-out-b (FAILED, 00:00:04), 24 ck-out- (CANCELLED" in (
        summary
    )
    assert "other" not in summary and "CK-OUT" not in summary and "xck" not in summary


@pytest.mark.parametrize(
    ("name", "ids"),
    [
        ("ck-out-?", ["21", "22"]),
        ("ck-out-[ab]", ["21", "22"]),
        ("ck-out-[!a]", ["22"]),
        ("*out-a", ["21", "27"]),
        (["other", "ck-out-[a]"], ["21", "23"]),  # an exact name beside a pattern still counts
        ("no-such-*", []),
    ],
)
def test_glob_forms(fake_sacct, name, ids):
    query = query_jobs(name=name)
    assert [j.job_id for j in query.jobs] == ids
    assert "--name" not in _argv(fake_sacct)


def test_exact_names_still_go_to_sacct(fake_sacct):
    query = query_jobs(name=["other", "ck-out-b"], since="2025-10-01")
    assert _argv(fake_sacct)[-2:] == ["--name", "other,ck-out-b"]
    assert [j.job_id for j in query.jobs] == ["22", "23"]
    assert query.name_filter == () and query.listed is None
    assert query.command.endswith("--starttime 2025-10-01 --name other,ck-out-b")
    assert query.summary().startswith("Found 2 prior runs in accounting: 23 other (COMPLETED")


def test_a_pattern_matching_nothing_says_what_was_filtered(fake_sacct):
    query = query_jobs(name="ck-out-z*")
    assert query.jobs == () and query.listed == 7
    assert query.summary() == (
        "Found no prior runs in accounting whose job name matches ck-out-z* "
        "(names filtered by the pattern from the 7 runs sacct listed)."
    )


@pytest.mark.parametrize(
    ("name", "patterns"),
    [
        (None, ()),
        ("train", ()),
        (["a", "b"], ()),
        ("ck-*", ("ck-*",)),
        (" ck-? ", ("ck-?",)),
        (["a", "[bc]"], ("a", "[bc]")),
    ],
)
def test_name_patterns(name, patterns):
    assert slurm.name_patterns(name) == patterns
