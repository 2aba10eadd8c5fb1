"""Command lines for the log: placeholders kept, everything else quoted as a shell needs it."""

from __future__ import annotations

import shlex
import subprocess

from hypothesis import given
from hypothesis import strategies as st

from designlog_magics.commandline import option, quote_path, verb_command
from designlog_magics.probes.runs import find_command


def test_placeholders_stay_and_odd_names_are_quoted():
    assert quote_path("{models_dir}/Llama-3.2-1B-Instruct") == "{models_dir}/Llama-3.2-1B-Instruct"
    assert quote_path("{scratch_dir}/my runs/x.out") == "{scratch_dir}/'my runs'/x.out"
    assert quote_path("/a b/c") == "/'a b'/c"
    assert quote_path("-x") == "./-x"  # not read as an option
    assert find_command("{scratch_dir}").startswith("find {scratch_dir} -name ")
    assert verb_command("disk", quote_path("/s"), option("--need", "40G")) == (
        "designlog disk /s --need 40G"
    )


@given(st.text(alphabet="ab /'\"$;|&*-", min_size=1, max_size=12))
def test_a_quoted_path_is_one_word_that_a_shell_reads_back(path):
    word = quote_path(path)
    expected = "./" + path if path.startswith("-") or path in ("(", ")", "!", ",") else path
    assert shlex.split(word) == [expected]
    printed = subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True, text=True)
    assert printed.stdout == expected
