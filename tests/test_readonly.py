"""The read-only gatekeeper: hostile lines are refused, allowed ones run without side effects and
give what bash gives."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from designlog_magics.probes.commands import run_command
from designlog_magics.readonly import (
    OUTSIDE,
    PIPE_PROGRAMS,
    READ_PROGRAMS,
    ReadCommand,
    Refusal,
    confine,
    judge_command,
    read_verbs,
    run_pipeline,
    split_command_lines,
    substitute_paths,
    verb_argv,
)
from tests.budget import at_most

EVIL = "x; touch CANARY"
# A tqdm progress line (tqdm/std.py, format_meter's default r_bar:
# '| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]').
TQDM_LINES = [
    "1|10|Loss: 2.31:   4%|▍         | 10/250 [00:02<00:55,  4.34it/s]",
    "1|20|Loss: 2.05:   8%|▊         | 20/250 [00:04<00:52,  4.41it/s]",
    "1|30|Loss: 1.90:  12%|█▏        | 30/250 [00:06<00:50,  4.38it/s]",
]


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, str]:
    """A scratch tree like a log's: the paths a log binds, files that must survive."""
    repo, scratch, models = tmp_path / "repo", tmp_path / "scratch", tmp_path / "models"
    (repo / "data").mkdir(parents=True)
    (repo / "data" / "words.json").write_text('["apple", "berry"]\n' * 400)
    run = scratch / "ck-out-x"
    run.mkdir(parents=True)
    (run / "slurm-1.out").write_text("starting\n" + "\n".join(TQDM_LINES) + "\ndone\n")
    (scratch / "a.out").write_text("x1\ny\nx2\nx3\n")
    (scratch / "a;b").write_text("semicolon in a name\n")
    llama = models / "Llama"
    llama.mkdir(parents=True)
    (llama / "config.json").write_text("{}\n")
    (llama / "model.safetensors").write_bytes(b"\0" * 5000)
    (tmp_path / "keep.txt").write_text("must survive\n")
    (tmp_path / "x").mkdir()  # the first word of the EVIL binding, as a directory
    return {
        "root": str(tmp_path),
        "repo_dir": str(repo),
        "scratch_dir": str(scratch),
        "models_dir": str(models),
        "evil": str(tmp_path / EVIL),
    }


def snapshot(root: str) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and mtime (nanoseconds)."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            found[os.path.relpath(path, root)] = (info.st_size, info.st_mtime_ns)
    return found


def substituted(line: str, paths: dict[str, str]) -> str:
    """The line as a shell would get it if the placeholders were pasted in as text."""
    return re.sub(r"\{(\w+)\}", lambda m: paths[m.group(1)], line)


# (line, expected argv of each stage with placeholders as {name}, same output as bash?)
ALLOWED = [
    ("ls -lh {repo_dir}/data/words.json", [["ls", "-lh", "{repo_dir}/data/words.json"]], True),
    ("ls {models_dir}/Llama", [["ls", "{models_dir}/Llama"]], True),
    (
        'find {scratch_dir} -name "slurm-*.out" -path "*/ck-out-*" -size +0k | head -5',
        [
            ["find", "{scratch_dir}", "-name", "slurm-*.out", "-path", "*/ck-out-*"]
            + ["-size", "+0k"],
            ["head", "-5"],
        ],
        True,
    ),
    ("find {scratch_dir} -name '*.out'", [["find", "{scratch_dir}", "-name", "*.out"]], True),
    # unquoted, but nothing in the cwd matches, so bash passes it on as written too
    ("find {scratch_dir} -name *.out", [["find", "{scratch_dir}", "-name", "*.out"]], True),
    ("find {scratch_dir} -type f -newermt 2000-01-01 -print", None, True),
    ("find {scratch_dir} \\( -name a.out -o -name 'slurm-*' \\) -print0", None, True),
    (
        'grep -E "[0-9.]+it/s" {scratch_dir}/ck-out-x/slurm-1.out | tail -20',
        [["grep", "-E", "[0-9.]+it/s", "{scratch_dir}/ck-out-x/slurm-1.out"], ["tail", "-20"]],
        True,
    ),
    ("grep -oE [0-9.]+it/s {scratch_dir}/ck-out-x/slurm-1.out | tail -n 1", None, True),
    ("grep -c x {scratch_dir}/a.out | tail -1", None, True),
    ("grep -e 'x[0-9]' -- {scratch_dir}/a.out | head -n1", None, True),
    ("grep -r --include='*.out' it/s {scratch_dir}", None, True),
    ("df -h {scratch_dir}", None, True),
    ("du -sh {models_dir}/Llama", None, True),
    ("stat -c %s {models_dir}/Llama/model.safetensors", None, True),
    ("wc -l {scratch_dir}/a.out", None, True),
    ("head -n 2 {repo_dir}/data/words.json", None, True),
    ("ls 'a;b'", [["ls", "a;b"]], True),
    ("ls {scratch_dir}/'a;b'", [["ls", "{scratch_dir}/a;b"]], True),
    ("ls '$(touch CANARY)'", [["ls", "$(touch CANARY)"]], True),
    ("ls '`touch CANARY`'", [["ls", "`touch CANARY`"]], True),
    ("ls a\\;touch CANARY", [["ls", "a;touch", "CANARY"]], True),
    ("ls 'a|b' \"c&d\" e\\>f", [["ls", "a|b", "c&d", "e>f"]], True),
    ("ls \"{scratch_dir}/a;b\" ''", [["ls", "{scratch_dir}/a;b", ""]], True),
    ("ls ~/nonexistent-dir-xyz", [["ls", os.path.expanduser("~") + "/nonexistent-dir-xyz"]], True),
    ("ls '~' \\~ a~", [["ls", "~", "~", "a~"]], True),
    ("ls ~'' ''~ ~''/x ~\"/\"x", [["ls", "~", "~", "~/x", "~/x"]], True),
    ("ls {scratch_dir}/a\\*", [["ls", "{scratch_dir}/a*"]], True),
    ("ls   {scratch_dir} \\\n  {models_dir}", [["ls", "{scratch_dir}", "{models_dir}"]], True),
    # a bound value is one literal argument, whatever it holds
    ("ls {evil}", [["ls", "{evil}"]], False),
    ("du -s {evil}/../x | head -1", [["du", "-s", "{evil}/../x"], ["head", "-1"]], False),
]


@pytest.mark.parametrize("line, stages, same_as_bash", ALLOWED)
def test_allowed_lines_run_read_only_and_match_bash(tree, line, stages, same_as_bash):
    root = tree["root"]
    judged = judge_command(line, tree, cwd=root)
    assert isinstance(judged, ReadCommand), judged
    if stages is not None:
        expected = tuple(tuple(substituted(word, tree) for word in stage) for stage in stages)
        assert judged.stages == expected
    before = snapshot(root)
    outcome = run_pipeline(judged, cwd=root, timeout=30)
    assert snapshot(root) == before  # nothing created (no CANARY), deleted or modified
    assert not outcome.timed_out
    if same_as_bash:
        shell = run_command(substituted(line, tree), cwd=root, timeout=30)
        assert snapshot(root) == before  # inert even under a real shell
        assert (outcome.returncode, outcome.stdout, outcome.stderr) == (
            shell.returncode,
            shell.stdout,
            shell.stderr,
        )


def test_allowed_lines_give_real_output(tree):
    """The bash comparison above holds for empty output too; these show there is some."""
    root = tree["root"]
    speed = judge_command(
        'grep -oE "[0-9.]+it/s" {scratch_dir}/ck-out-x/slurm-1.out | tail -1', tree
    )
    log_file = f"{tree['scratch_dir']}/ck-out-x/slurm-1.out"
    assert speed.text == f"grep -oE '[0-9.]+it/s' {log_file} | tail -1"
    outcome = run_pipeline(speed, cwd=root)
    assert outcome.command == speed.text and outcome.stdout == "4.38it/s\n"
    found = judge_command("find {scratch_dir} -name 'slurm-*.out' | head -5", tree)
    assert run_pipeline(found, cwd=root).stdout == f"{tree['scratch_dir']}/ck-out-x/slurm-1.out\n"
    literal = run_pipeline(judge_command("ls 'a;b'", tree), cwd=tree["scratch_dir"])
    assert literal.ok and literal.stdout == "a;b\n"


def test_a_bound_value_with_shell_syntax_is_one_argument(tree):
    judged = judge_command("ls -d {evil} {evil}/..", tree, cwd=tree["root"])
    assert isinstance(judged, ReadCommand)
    assert judged.stages == (("ls", "-d", tree["evil"], tree["evil"] + "/.."),)
    before = snapshot(tree["root"])
    outcome = run_pipeline(judged, cwd=tree["root"])
    assert snapshot(tree["root"]) == before
    assert outcome.returncode == 2 and "x; touch CANARY" in outcome.stderr


# (line, a fragment of the refusal reason)
HOSTILE = [
    ("ls; touch CANARY", "`;` joins two commands"),
    ("ls & touch CANARY", "`&` runs a command in the background"),
    ("ls && touch CANARY", "`&&` joins two commands"),
    ("ls || touch CANARY", "`||` joins two commands"),
    ("ls |& head", "`|&`"),
    ("ls > CANARY", "`>` redirects output"),
    ("ls >> CANARY", "`>>` appends"),
    ("ls 2> CANARY", "`2>` redirects output"),
    ("ls &> CANARY", "`&>`"),
    ("ls < /etc/passwd", "`<` redirects input"),
    ("ls <(touch CANARY)", "`<` redirects input"),
    ("(touch CANARY)", "subshell"),
    ("ls (", "subshell"),
    ("ls\ntouch CANARY", "newline"),
    ("ls `touch CANARY`", "backtick"),
    ('ls "`touch CANARY`"', "backtick"),
    ("ls \\`x\\`", "backtick"),
    ('ls "$(touch CANARY)"', "`$(` command substitution"),
    ("ls $(touch CANARY)", "`$(` command substitution"),
    ("ls $HOME", "`$` outside single quotes"),
    ("ls ${HOME}", "`${` parameter expansion"),
    ("ls $((1+1))", "`$((` arithmetic"),
    ('ls "\\$HOME"', "`$` outside single quotes"),
    ("ls *.json", "unexpanded glob `*.json`"),
    ("ls a?", "unexpanded glob `a?`"),
    ("ls [ab]", "unexpanded glob `[ab]`"),
    ("head -n 1 {scratch_dir}/*.out", "unexpanded glob"),
    ("grep x {scratch_dir}/*.out", "unexpanded glob"),
    ("grep -e x -e y *.out", "unexpanded glob `*.out`"),
    ("find {scratch_dir} -newer *.out", "unexpanded glob"),
    ("find {scratch_dir} -name '*.out' | head *", "only `-n N` or `-N`"),
    ("ls {unknown}/x", "unknown placeholder `{unknown}`"),
    ("ls '{unknown}'", "unknown placeholder `{unknown}`"),
    ("ls {a,b}", "brace expansion"),
    ("ls x{", "brace expansion"),
    ("FOO=1 ls", "`FOO=1` sets a variable"),
    ("ls | X=1 head", "`X=1` sets a variable"),
    ("ls a=~/x", "bash expands the `~`"),
    ("ls ~root", "`~root` is not expanded"),
    ("ls ~{scratch_dir}", "`~{scratch_dir}` is not expanded"),
    ("ls 'a\nb'*", "unexpanded glob `a\\nb*`"),
    ("ls # touch CANARY", "`#` starts a comment"),
    ("ls 'unterminated", "unterminated single quote"),
    ('ls "unterminated', "unterminated double quote"),
    ("ls x\\", "ends in a backslash"),
    ("ls a\0b", "NUL"),
    ("", "an empty command"),
    ("ls |", "an empty pipeline stage"),
    ("| head", "an empty pipeline stage"),
    ("ls | head | tail", "more than one pipe"),
    ("grep x f | sh", "`| sh` is not allowed"),
    ("ls | sort", "`| sort` is not allowed"),
    ("ls | xargs rm", "`| xargs` is not allowed"),
    ("ls | tee CANARY", "`| tee` is not allowed"),
    ("ls | tail -f", "only `-n N` or `-N`"),
    ("ls | head -c 10", "only `-n N` or `-N`"),
    ("ls | head -n -5", "only `-n N` or `-N`"),
    ("ls | head x", "only `-n N` or `-N`"),
    ("ls | /usr/bin/head", "names a file to run"),
    ("find . -name '*.out' -delete", "find -delete writes"),
    ("find . -exec touch CANARY \\;", "find -exec runs a command"),
    ("find . -execdir rm {} +", "find -execdir"),
    ("find . -ok rm \\;", "find -ok runs a command"),
    ("find . -okdir rm \\;", "find -okdir runs a command"),
    ("find . -fprint CANARY", "find -fprint writes"),
    ("find . -fprint0 CANARY", "find -fprint0 writes"),
    ("find . -fprintf CANARY %p", "find -fprintf writes"),
    ("find . -fls CANARY", "find -fls writes"),
    ("find . -name x -frobnicate", "find `-frobnicate` is not a read-only primary"),
    ("find . -name", "find -name needs a value"),
    ("python script.py", "`python` is not a read command"),
    ("python -m designlog_magics verify MODEL x", "`python` is not a read command"),
    ("python3 -m designlog_magics search x", "`python3` is not a read command"),
    ("sh -c ls", "`sh` is not a read command"),
    ("bash -c ls", "`bash` is not a read command"),
    ("perl -e 1", "`perl` is not a read command"),
    ("env ls", "`env` is not a read command"),
    ("sudo ls", "`sudo` is not a read command"),
    ("xargs ls", "`xargs` is not a read command"),
    ("tee CANARY", "`tee` is not a read command"),
    ("'' x", "an empty program name"),
    ("rm keep.txt", "`rm` is not a read command"),
    ("touch CANARY", "`touch` is not a read command"),
    ("sort x", "`sort` is not a read command"),
    ("tail -f x", "`tail` is not a read command"),
    ("egrep x f", "use `grep -E`"),
    ("fgrep x f", "use `grep -F`"),
    ("./ls", "`./ls` names a file to run"),
    ("/usr/bin/ls", "`/usr/bin/ls` names a file to run"),
    ("~/bin/ls", "names a file to run"),
    ("designlog add CHECK_DISK x", "`designlog add` is not a read verb"),
    ("designlog attach nb.ipynb", "`designlog attach` is not a read verb"),
    ("designlog export nb.ipynb --to html", "`designlog export` is not a read verb"),
    ("designlog replay log", "`designlog replay` is not a read verb"),
    ("designlog tail -f", "`designlog tail` is not a read verb"),
    ("designlog frobnicate", "`designlog frobnicate` is not a read verb"),
    ("designlog --log x verify MODEL y", "`designlog --log` is not a read verb"),
    ("designlog", "`designlog` without a verb"),
    ("designlog verify MODEL x --log y", "`designlog --log` appends"),
    ("designlog search x --log=y", "`designlog --log` appends"),
    ("designlog disk x --lo y", "`designlog --log` appends"),
    ("designlog speed x -- --log", "`designlog --log` appends"),
    ("designlog search x | head -1", "nothing may be piped"),
    ("designlog naming *", "unexpanded glob"),
    # options a program does not have stop it with a usage error: refused, so none is misread
    ("ls -j x", "`-j` is not an option of ls"),
    ("ls --frobnicate x", "`--frobnicate` is not an option of ls"),
    ("grep --ex=x y z", "`--ex` is ambiguous for grep"),
    ("ls --all=x", "`ls --all` takes no value"),
    ("head -n", "`head -n` needs a value"),
    ("designlog verify MODEL x --frob", "`designlog verify`: unrecognized arguments: --frob"),
    ("designlog verify --help", "prints help"),
    ("designlog speed -h", "prints help"),
    ("designlog search x --like", "argument --like: expected at least one argument"),
    ("designlog naming x --json=1", "argument --json: ignored explicit argument '1'"),
    ("designlog show", "`designlog show` is not a read verb"),
    # a verb expands {expression} (evaluated as Python) and $name in a path argument
    ('designlog verify MODEL \'{__import__("os").system("touch CANARY")}\'', "would be expanded"),
    ("designlog verify MODEL '$HOME'", "`$` in a designlog argument"),
]


@pytest.mark.parametrize("line, reason", HOSTILE)
def test_hostile_lines_are_refused(tree, line, reason):
    judged = judge_command(line, tree, cwd=tree["root"])
    assert isinstance(judged, Refusal), judged
    assert reason in judged.reason
    assert "\n" not in judged.reason


def test_an_unquoted_pattern_the_shell_would_expand_is_refused(tree):
    line = "find . -name *.out"
    judged = judge_command(line, tree, cwd=tree["scratch_dir"])  # a.out is there
    assert isinstance(judged, Refusal) and "would expand `*.out`" in judged.reason
    assert isinstance(judge_command(line, tree, cwd=tree["models_dir"]), ReadCommand)
    assert isinstance(
        judge_command("find . -name '*.out'", tree, cwd=tree["scratch_dir"]), ReadCommand
    )


def test_designlog_read_verbs_are_judged_then_run_as_the_command_line(tree):
    for line, verb in [
        ("designlog verify MODEL {models_dir}/Llama", "verify"),
        ("designlog search {scratch_dir} --limit 5", "search"),
        ("designlog speed {scratch_dir}/ck-out-x/slurm-1.out", "speed"),
        ("designlog disk {scratch_dir} --need 40G", "disk"),
        ("designlog naming cap_8L_lora", "naming"),
    ]:
        judged = judge_command(line, tree)
        assert isinstance(judged, ReadCommand) and judged.program == "designlog"
        assert judged.verb == verb and judged.stages[0][:2] == ("designlog", verb)
        argv = verb_argv(judged)
        assert argv[:6] == [sys.executable, "-P", "-m", "designlog_magics", "--result-only", verb]
        assert argv[6:] == list(judged.stages[0][2:])
    judged = judge_command("designlog verify MODEL {models_dir}/Llama", tree)
    assert judged.stages[0][-1] == tree["models_dir"] + "/Llama"
    # run: a subprocess of this Python, the Result on its first line
    outcome = run_pipeline(judge_command("designlog naming cap_8L_lora", {}), timeout=120)
    assert outcome.command == "designlog naming cap_8L_lora"
    assert outcome.stdout.splitlines()[0].startswith("cap_8L_lora breaks the convention")
    verified = run_pipeline(judged, timeout=120, cwd=tree["root"])
    assert verified.ok and verified.stdout.startswith("Directory exists with 2 files")


def test_a_planted_package_in_the_working_directory_is_not_imported(tmp_path):
    planted = tmp_path / "designlog_magics"
    planted.mkdir()
    canary = tmp_path / "CANARY"
    (planted / "__init__.py").write_text(f"open({str(canary)!r}, 'w')\n")
    (planted / "__main__.py").write_text(f"open({str(canary)!r}, 'w')\n")
    outcome = run_pipeline(judge_command("designlog naming x_y_2025-01-01", {}), cwd=str(tmp_path))
    assert outcome.ok, outcome.stderr
    assert not canary.exists()


def test_split_command_lines():
    text = "ls a \\\n  -l\n\nls b\\\\\nfind x \\\n -name y \\\n -print\n  \ndf -h"
    assert split_command_lines(text) == [
        "ls a \\\n  -l",
        "ls b\\\\",
        "find x \\\n -name y \\\n -print",
        "df -h",
    ]
    assert split_command_lines("") == []
    assert split_command_lines("ls \\") == ["ls \\"]
    joined = judge_command(split_command_lines("ls a \\\n  -l")[0], {})
    assert isinstance(joined, ReadCommand) and joined.stages == (("ls", "a", "-l"),)
    # each line is judged alone: the second one cannot ride on the first
    lines = split_command_lines("ls x\ntouch CANARY")
    assert [type(judge_command(line, {})) for line in lines] == [ReadCommand, Refusal]


# -- running ----------------------------------------------------------------------------------
def test_exit_status_is_pipefails(tree):
    root = tree["root"]
    missing = judge_command("grep x {scratch_dir}/missing | head -1", tree)
    outcome = run_pipeline(missing, cwd=root)
    shell = run_command(substituted("grep x {scratch_dir}/missing | head -1", tree), cwd=root)
    assert outcome.returncode == shell.returncode == 2
    assert outcome.stderr == shell.stderr and "No such file" in outcome.stderr
    no_match = judge_command("grep zzz {scratch_dir}/a.out | tail -1", tree)
    assert run_pipeline(no_match, cwd=root).returncode == 1


def test_a_closed_pipe_kills_the_writer_as_in_bash(tree):
    big = Path(tree["root"]) / "big.txt"
    big.write_text("line\n" * 400_000)  # 2 MB: far more than a pipe buffer
    line = f"head -c 2000000 {big} | head -n 1"
    outcome = run_pipeline(judge_command(line, {}))
    shell = run_command(line)
    assert outcome.stdout == shell.stdout == "line\n"
    assert outcome.returncode == shell.returncode == 128 + signal.SIGPIPE


def _processes_with(argument: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if argument.encode() in handle.read().split(b"\0"):
                    found.append(int(pid))
        except (OSError, ValueError):
            continue
    return found


def test_timeout_kills_the_whole_pipeline(tmp_path):
    fifo = tmp_path / "never-written"
    os.mkfifo(fifo)
    judged = judge_command(f"head {fifo} | tail -n 1", {})
    start = time.monotonic()
    outcome = run_pipeline(judged, timeout=0.5)
    assert outcome.timed_out and outcome.returncode is None
    assert time.monotonic() - start < 5
    assert _processes_with(str(fifo)) == []


def test_keyboard_interrupt_kills_the_pipeline_and_is_raised(tmp_path):
    fifo = tmp_path / "interrupted"
    os.mkfifo(fifo)
    judged = judge_command(f"head {fifo}", {})

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_pipeline(judged, timeout=30)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert _processes_with(str(fifo)) == []


def test_output_beyond_the_cap_stops_the_command():
    judged = judge_command("head -c 100000000 /dev/zero", {})
    outcome = run_pipeline(judged, max_output=100_000, timeout=30)
    assert not outcome.ok and outcome.returncode == 128 + signal.SIGKILL
    assert 100_000 < len(outcome.stdout) <= 100_000 + 65536
    assert "output over 100000 bytes" in outcome.stderr


def test_options_after_operands_are_read_as_judged_whatever_the_environment(tree, monkeypatch):
    """POSIXLY_CORRECT would make ``-d`` (and a value after ``-n``) operands: it is left out."""
    judged = judge_command("ls {scratch_dir} -d", tree)
    plain = run_pipeline(judged)
    monkeypatch.setenv("POSIXLY_CORRECT", "1")
    monkeypatch.setenv("GREP_OPTIONS", "-r")
    assert run_pipeline(judged).stdout == plain.stdout == tree["scratch_dir"] + "\n"


def test_programs_are_found_on_absolute_path_entries_only(tmp_path, monkeypatch):
    fake = tmp_path / "ls"
    fake.write_text(f"#!/bin/sh\ntouch {tmp_path}/CANARY\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f".:{os.environ['PATH']}")
    outcome = run_pipeline(judge_command("ls", {}), cwd=str(tmp_path))
    assert outcome.ok and "ls" in outcome.stdout.split()
    assert not (tmp_path / "CANARY").exists()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    missing = run_pipeline(judge_command("ls", {}))
    assert missing.returncode == 127 and "ls: command not found" in missing.stderr


def test_run_pipeline_takes_only_judged_commands():
    with pytest.raises(ValueError):
        run_pipeline((("ls",),))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a read program"):
        run_pipeline(ReadCommand(stages=(("rm", "-rf", "x"),), program="rm"))
    with pytest.raises(ValueError, match="not a read program"):
        run_pipeline(ReadCommand(stages=(("ls",), ("sh",)), program="ls"))


# -- fuzzing ----------------------------------------------------------------------------------
SHELL_ALPHABET = list("ab -\t'\"\\;|&$()~/*?[]{}#=\n<>`!:.")
PATHS = {"d": "/tmp/x; touch CANARY", "e": "~/*"}
PROGRAMS = [*READ_PROGRAMS, *PIPE_PROGRAMS, "designlog", "sh", "python", "./ls", "egrep", ""]
DESIGNLOG_WORDS = [*sorted(read_verbs()), "add", "--log", "--lo=x", "replay"]


@st.composite
def command_lines(draw) -> str:
    program = draw(st.sampled_from(PROGRAMS))
    parts = draw(
        st.lists(
            st.one_of(
                st.text(SHELL_ALPHABET, max_size=6),
                st.sampled_from(
                    ["{d}", "{e}", "{zz}", "| head -5", "| tail -n 3", "| sh", "-name", "-e"]
                    + ["-delete", "-exec", "-fprint", *DESIGNLOG_WORDS]
                ),
            ),
            max_size=6,
        )
    )
    return " ".join([program, *parts])


def _check_allowed(judged: ReadCommand) -> None:
    assert 1 <= len(judged.stages) <= 2
    assert all(stage and all(isinstance(a, str) for a in stage) for stage in judged.stages)
    assert judged.program == judged.stages[0][0]
    assert judged.program in READ_PROGRAMS or judged.program == "designlog"
    if len(judged.stages) == 2:
        assert judged.stages[1][0] in PIPE_PROGRAMS and len(judged.stages[1]) <= 3
        assert judged.program != "designlog"
    if judged.program == "designlog":
        assert judged.verb in read_verbs()
        log_options = ("--l", "--lo", "--log")
        assert not any(a.split("=")[0] in log_options for a in judged.stages[0][2:])
    if judged.program == "find":
        assert not set(judged.stages[0]) & READ_PROGRAMS["find"]


@given(st.text())
def test_judge_never_raises_on_any_text(text):
    judged = judge_command(text, PATHS, cwd="/nonexistent-cwd")
    assert isinstance(judged, ReadCommand | Refusal)
    if isinstance(judged, ReadCommand):
        _check_allowed(judged)


@given(command_lines())
def test_judge_allows_only_read_programs(line):
    judged = judge_command(line, PATHS, cwd="/nonexistent-cwd")
    if isinstance(judged, ReadCommand):
        _check_allowed(judged)
    else:
        assert judged.reason and "\n" not in judged.reason


_QUOTABLE = [c for c in SHELL_ALPHABET if c not in "'"]
word_pieces = st.one_of(
    st.text(list("ab-/.~:=!]"), min_size=1, max_size=3),
    st.text(_QUOTABLE, max_size=4).map(lambda t: "'" + t + "'"),
    st.lists(
        st.sampled_from([c for c in _QUOTABLE if c not in '"$`\\'] + ['\\"', "\\\\", "\\a"]),
        max_size=4,
    ).map(lambda t: '"' + "".join(t) + '"'),
    st.sampled_from(SHELL_ALPHABET).map(lambda c: "\\" + c),
    st.sampled_from([" ", "\t", " \\\n ", "  "]),
    st.sampled_from(SHELL_ALPHABET),  # now and then a raw character, often a refused one
)


@at_most(500)
@given(st.lists(word_pieces, max_size=8).map("".join))
def test_allowed_words_are_the_words_bash_sees(tmp_path_factory, text):
    """Differential: when ``ls TEXT`` is allowed, bash splits TEXT into the same argv.

    TEXT holds only the letters a and b, so even a wrongly allowed line could only run
    commands named like ``a`` or ``ab``, which do not exist.
    """
    judged = judge_command("ls " + text, {}, cwd="/nonexistent-cwd")
    assume(isinstance(judged, ReadCommand) and len(judged.stages) == 1)
    empty = tmp_path_factory.mktemp("differential")
    shell = subprocess.run(
        ["bash", "-c", "printf '%s\\0' START " + text],
        cwd=empty,
        capture_output=True,
        timeout=10,
    )
    assert shell.returncode == 0, shell.stderr
    words = shell.stdout.decode().split("\0")[:-1]
    assert words[0] == "START"
    assert tuple(words[1:]) == judged.stages[0][1:]
    assert list(empty.iterdir()) == []


# -- where a command may read: the plan's paths only ----------------------------------------
HF_SECRET = "hf_" + "Q7rT2mW9xK4pL8vN3cB6zH1jF5gD0sA"


@pytest.fixture
def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An experiment directory and a bound data directory (the roots), a home with a token,
    and a directory outside both; symlinks inside that lead in and out."""
    home = tmp_path / "home"
    (home / ".cache" / "huggingface").mkdir(parents=True)
    (home / ".cache" / "huggingface" / "token").write_text(HF_SECRET + "\n")
    monkeypatch.setenv("HOME", str(home))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside secret\n")
    experiment = tmp_path / "exp"
    (experiment / "sub").mkdir(parents=True)
    (experiment / "notes.txt").write_text("model checked\n")
    (experiment / "patterns.txt").write_text("checked\n")
    (experiment / "link_out").symlink_to(outside / "secret.txt")
    (experiment / "dir_out").symlink_to(outside)
    (experiment / "link_in").symlink_to("notes.txt")
    data = tmp_path / "data"
    data.mkdir()
    (data / "words.json").write_text('["a"]\n')
    return {
        "experiment_dir": str(experiment),
        "data_dir": str(data),
        "outside": str(outside),
        "home": str(home),
    }


def _roots(plan: dict[str, str]) -> list[str]:
    return [plan["experiment_dir"], plan["data_dir"]]


INSIDE = [
    "head -n 1 {experiment_dir}/notes.txt",
    "head -n 1 notes.txt",
    "head -n 1 sub/../notes.txt",
    "head -5 notes.txt",
    "head -5c notes.txt",
    "head -n 1 {experiment_dir}/link_in",
    "ls",
    "ls -lR {experiment_dir}",
    "ls -L {experiment_dir}/link_in",
    "du -sh {data_dir}",
    "du -sh --exclude=*.json {data_dir}",
    "ls --hide=*.json -I x {data_dir}",
    "df -h {data_dir}",
    "df -h",  # the mount table, no file
    "stat -c %s {data_dir}/words.json",
    "stat -L {experiment_dir}/link_in",
    "wc -l {data_dir}/words.json -",
    "grep -r checked",  # the working directory, which is inside
    "grep -r --include='*.txt' checked {experiment_dir}",
    "grep -f patterns.txt {data_dir}/words.json",
    "grep -e x -f - notes.txt",
    "grep --exclude-fr=patterns.txt -r x .",
    "grep -rl x {experiment_dir}/sub {data_dir}",
    "find {experiment_dir} -newer notes.txt -name '*.txt'",
    "find -H {experiment_dir} -name x",
    "find {experiment_dir} -newermt 2020-01-01",
    "find -name x",
    "designlog verify MODEL {data_dir}",
    "designlog verify DATASET {data_dir}/words.json --timeout 5",
    "designlog search {experiment_dir} --like model=x batch_size=4",
    "designlog search --limit 5 -- {experiment_dir}",
    "designlog search --sacct --since 2025-01-01",
    "designlog naming /etc/shadow",  # a name, not a path: naming reads nothing
    "designlog disk {data_dir} --ne 40G",
    "designlog speed {experiment_dir}/notes.txt",
]


@pytest.mark.parametrize("line", INSIDE)
def test_reads_inside_the_plan_are_allowed(plan, line):
    judged = judge_command(line, plan, cwd=plan["experiment_dir"], roots=_roots(plan))
    assert isinstance(judged, ReadCommand), judged


OUT = [
    # (line, what the reason shows after "reads outside the plan's paths")
    ("head -n 3 ~/.cache/huggingface/token", "/.cache/huggingface/token"),
    ("grep -r API_KEY ~", "home"),
    ("head -n 5 /etc/shadow", "/etc/shadow"),
    ("head -n 1 {experiment_dir}/link_out", "(that is"),
    ("grep -r x {experiment_dir}/dir_out", "dir_out"),
    ("ls {experiment_dir}/dir_out/not-yet-there", "not-yet-there"),
    ("head -n 1 {experiment_dir}/../outside/secret.txt", "secret.txt"),
    ("head -n 1 ../outside/secret.txt", "secret.txt"),
    ("head -n 1 {experiment_dir}/missing/../../outside/secret.txt", "secret.txt"),
    ("grep -r TOKEN {experiment_dir}/..", "/.."),
    ("grep -rl TOKEN /", "`/`"),
    ("grep -d recurse TOKEN /", "`/`"),
    ("find {experiment_dir}/.. -name token", "/.."),
    ("find / -name token", "`/`"),
    ("find -L {experiment_dir} -name x", "`find -L` follows every symlink"),
    ("find {experiment_dir} -follow -name x", "`find -L` follows every symlink"),
    ("find {experiment_dir} -newer /etc/passwd", "/etc/passwd"),
    ("find {experiment_dir} -anewer /etc/passwd", "/etc/passwd"),
    ("find {experiment_dir} -newerma /etc/passwd", "/etc/passwd"),
    ("find {experiment_dir} -samefile ../outside/secret.txt", "secret.txt"),
    ("grep -f /etc/passwd notes.txt", "/etc/passwd"),
    ("grep --file=/etc/passwd notes.txt", "/etc/passwd"),
    ("grep -f/etc/passwd notes.txt", "/etc/passwd"),
    ("grep --exclude-fr=/etc/passwd -r x .", "/etc/passwd"),
    ("grep -R x {experiment_dir}", "`grep -R` follows every symlink"),
    ("grep --dereference-rec x {experiment_dir}", "`grep -R` follows every symlink"),
    ("du -X /etc/passwd {experiment_dir}", "/etc/passwd"),
    ("du -L {experiment_dir}", "`du -L` follows every symlink"),
    ("ls -RL {experiment_dir}", "`ls -R -L` follows every symlink"),
    ("ls -l /etc/ssh", "/etc/ssh"),
    ("df -h /", "`/`"),
    ("stat -c %s {outside}/secret.txt", "secret.txt"),
    ("wc -l -- {outside}/secret.txt", "secret.txt"),
    ("designlog verify MODEL ~/.cache/huggingface", "huggingface"),
    ("designlog verify MODEL '~/.cache/huggingface'", "huggingface"),  # the verb expands ~
    ("designlog verify DATASET {experiment_dir}/link_out", "(that is"),
    ("designlog search /", "`/`"),
    ("designlog search --limit 5 -- /", "`/`"),
    ("designlog search --like model=x -- /", "`/`"),
    ("designlog disk / --need 1G", "`/`"),
    ("designlog speed ../outside/secret.txt", "secret.txt"),
]


@pytest.mark.parametrize("line, shown", OUT)
def test_reads_outside_the_plan_are_refused(plan, line, shown):
    judged = judge_command(line, plan, cwd=plan["experiment_dir"], roots=_roots(plan))
    assert isinstance(judged, Refusal), judged
    assert judged.reason.startswith(OUTSIDE + ": "), judged.reason
    assert shown in judged.reason, judged.reason
    # the same words, judged alone, pass: it is the confinement that refuses them
    assert isinstance(judge_command(line, plan, cwd=plan["experiment_dir"]), ReadCommand)


@pytest.mark.parametrize(
    "line, reason",
    [
        ("wc --files0-from=list.txt", "`wc --files0-from` reads the names"),
        ("du --files0-from list.txt", "`du --files0-from` reads the names"),
        ("find -files0-from list.txt -name x", "`find -files0-from` reads its starting points"),
        ("designlog speed 4187301", "wherever SLURM wrote it"),
        ("designlog speed 4187301_2", "wherever SLURM wrote it"),
    ],
)
def test_reads_named_elsewhere_cannot_be_judged(plan, line, reason):
    judged = judge_command(line, plan, cwd=plan["experiment_dir"], roots=_roots(plan))
    assert isinstance(judged, Refusal) and reason in judged.reason
    assert judged.reason.endswith("which cannot be judged")


def test_relative_reads_follow_the_working_directory(plan):
    outside_cwd = plan["outside"]
    for line in ["head -n 1 secret.txt", "ls", "grep -r x", "find -name x"]:
        judged = judge_command(line, plan, cwd=outside_cwd, roots=_roots(plan))
        assert isinstance(judged, Refusal) and judged.reason.startswith(OUTSIDE), line
    # grep with no file and no recursion reads standard input (empty): nothing to judge
    assert isinstance(
        judge_command("grep x", plan, cwd=outside_cwd, roots=_roots(plan)), ReadCommand
    )


def test_confine_is_the_one_rule(plan):
    experiment, outside = plan["experiment_dir"], plan["outside"]
    assert (
        confine([experiment, "notes.txt", "sub/..", "new/file"], [experiment], cwd=experiment)
        is None
    )
    assert confine(["link_in"], [experiment], cwd=experiment) is None
    out = confine(["notes.txt", "link_out"], [experiment], cwd=experiment)
    assert out is not None and out.reason.startswith(OUTSIDE) and "link_out" in out.reason
    assert confine([".."], [experiment], cwd=experiment) is not None
    assert confine([experiment + "-other"], [experiment], cwd=experiment) is not None  # a prefix
    assert confine([outside], [experiment, outside], cwd="/") is None
    assert confine(["x"], [], cwd=experiment) is not None  # no root: nothing may be read
    assert confine(["a\0b"], [experiment], cwd=experiment) is not None  # never raises
    # a root reached through a symlink is the same root
    alias = Path(plan["home"]) / "exp-alias"
    alias.symlink_to(experiment)
    assert confine([f"{experiment}/notes.txt"], [str(alias)], cwd="/") is None


SEGMENTS = ["sub", "..", ".", "link_in", "dir_out", "missing", "exp", "outside"]


@at_most(500)
@given(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6), st.booleans())
def test_confine_agrees_with_coreutils_realpath(tmp_path_factory, segments, absolute):
    """Differential: a word is inside exactly when GNU ``realpath -m`` puts it inside."""
    root = tmp_path_factory.mktemp("confine")
    experiment = root / "exp"
    (experiment / "sub").mkdir(parents=True)
    (root / "outside").mkdir()
    (experiment / "link_in").symlink_to("sub")
    (experiment / "dir_out").symlink_to(root / "outside")
    word = "/".join(segments)
    if absolute:
        word = f"{experiment}/{word}"
    real = subprocess.run(
        ["realpath", "-m", "--", os.path.join(experiment, word)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.rstrip("\n")
    inside = real == str(experiment) or real.startswith(f"{experiment}/")
    assert (confine([word], [str(experiment)], cwd=str(experiment)) is None) == inside, (word, real)


VERB_WORDS = ["/p", "rel", "~/x", "--like", "a=b", "--", "-5", "--limit", "3", "--ne", "4G"]
VERB_WORDS += ["-e", "why", "--json", "MODEL", "--sacct", "--full", "--li", "x y", "-"]
VERB_PATH_DEST = {"verify": "target", "search": "root", "speed": "source", "disk": "path"}


@settings(
    max_examples=300,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(st.sampled_from(sorted(VERB_PATH_DEST)), st.lists(st.sampled_from(VERB_WORDS), max_size=6))
def test_every_path_the_verb_parses_is_judged(tmp_path_factory, verb, words):
    """Differential against the command line's own parser: when a designlog line is allowed
    with only its working directory as root, the path the verb gets lies inside it."""
    from designlog_magics.cli import build_parser
    from designlog_magics.exceptions import DesignLogError

    cwd = tmp_path_factory.mktemp("verb") / "in"
    cwd.mkdir()
    line = shlex.join(["designlog", verb, *words])
    judged = judge_command(line, {}, cwd=str(cwd), roots=[str(cwd)])
    assume(isinstance(judged, ReadCommand))
    try:
        args = build_parser().parse_args([verb, *words])
    except (DesignLogError, SystemExit):
        return  # the verb stops at its usage error: it reads nothing
    given_path = getattr(args, VERB_PATH_DEST[verb], None)
    if isinstance(given_path, str) and not (verb == "speed" and given_path.isdigit()):
        real = os.path.realpath(os.path.join(cwd, os.path.expanduser(given_path)))
        assert real == str(cwd) or real.startswith(f"{cwd}/"), (line, given_path)


def test_substitute_paths_replaces_bound_names_and_evaluates_nothing(tmp_path):
    paths = {"experiment_dir": str(tmp_path)}
    assert substitute_paths("{experiment_dir}/sub", paths) == f"{tmp_path}/sub"
    assert substitute_paths("/plain/path", paths) == "/plain/path"
    canary = tmp_path / "CANARY"
    evil = f"{{__import__('os').system('touch {canary}')}}"
    refused = substitute_paths(evil, paths)
    assert isinstance(refused, Refusal) and "not a path name" in refused.reason
    assert isinstance(substitute_paths("{nope}/x", paths), Refusal)
    assert not canary.exists()
