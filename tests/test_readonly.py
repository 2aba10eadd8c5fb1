"""The read-only gatekeeper: hostile lines are refused, allowed ones run without side effects and
give what bash gives."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from designlog_magics.probes.commands import run_command
from designlog_magics.readonly import (
    DESIGNLOG_READ_VERBS,
    PIPE_PROGRAMS,
    READ_PROGRAMS,
    ReadCommand,
    Refusal,
    judge_command,
    run_pipeline,
    split_command_lines,
)

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


def test_designlog_read_verbs_are_judged_not_run(tree):
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
        with pytest.raises(ValueError, match="in-process"):
            run_pipeline(judged)
    judged = judge_command("designlog verify MODEL {models_dir}/Llama", tree)
    assert judged.stages[0][-1] == tree["models_dir"] + "/Llama"


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
DESIGNLOG_WORDS = [*DESIGNLOG_READ_VERBS, "add", "--log", "--lo=x", "replay"]


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
        assert judged.verb in DESIGNLOG_READ_VERBS
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
