import pytest

from designlog_magics.expansion import (
    bind_paths,
    collapse_paths,
    expand,
    format_names,
    format_template,
)

PATHS = {"models_dir": "/m", "scratch_dir": "/s/me", "experiment_dir": "/s/me/exp"}


def test_path_names_are_kept_in_the_log_and_expanded_to_run():
    result = expand("ls {models_dir}/Llama", {}, PATHS)
    assert result.logged == "ls {models_dir}/Llama"
    assert result.run == "ls /m/Llama"


def test_each_brace_expands_on_its_own():
    ns = {"name": "Llama", "n": 3}
    result = expand("ls {models_dir}/$name | awk '{print $1}' | head -{n+1} {missing}", ns, PATHS)
    assert result.run == "ls /m/Llama | awk '{print $1}' | head -4 {missing}"
    assert result.logged == "ls {models_dir}/Llama | awk '{print $1}' | head -4 {missing}"


def test_dollar_rules():
    ns = {"x": 1}
    assert expand("$x $HOME $$x $1", ns).run == "1 $HOME $x $1"


def test_path_names_win_over_variables_of_the_same_name():
    assert expand("{models_dir}", {"models_dir": "/other"}, PATHS).run == "/m"


def test_format_specs_and_conversions():
    ns = {"total": 15.36, "name": "a b"}
    assert expand("{total:.0f} {name!r}", ns).run == "15 'a b'"


def test_template_is_formatted_with_the_namespace_and_names_failures():
    assert format_template("{total_min:.0f} min {{literal}}", {"total_min": 15.6}) == (
        "16 min {literal}"
    )
    with pytest.raises(ValueError, match=r"\{nope\}"):
        format_template("{nope}", {})


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/s/me/exp/experiment_summary.md", "{scratch_dir}/exp/experiment_summary.md"),
        ("/m/Llama", "{models_dir}/Llama"),
        ("/m", "{models_dir}"),
        ("/mx/Llama", "/mx/Llama"),
        ("{models_dir}/x", "{models_dir}/x"),
    ],
)
def test_collapse_prefers_user_path_names(path, expected):
    assert collapse_paths(path, PATHS) == expected


def test_collapse_falls_back_to_experiment_dir():
    assert collapse_paths("/e/x.md", {"experiment_dir": "/e"}) == "{experiment_dir}/x.md"


def test_without_a_namespace_only_path_names_are_bound_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    text = (
        "{models_dir}/x {__import__('pathlib').Path(" + repr(str(marker)) + ").touch()} $HOME {1+1}"
    )
    expanded = expand(text, None, {"models_dir": "/m"})
    assert expanded.run == text.replace("{models_dir}", "/m")
    assert expanded.logged == text
    assert not marker.exists()
    assert (
        bind_paths("{models_dir}/{ models_dir }/{other}", {"models_dir": "/m"}) == "/m//m/{other}"
    )


def test_a_result_over_plain_names_formats_and_refuses_expressions():
    assert format_names("{total_min:.0f} min, {{x}}", {"total_min": 15.38}) == "15 min, {x}"
    assert format_names("{x:>8,.1f}|{x:.0%}", {"x": 1234.5}) == " 1,234.5|123450%"
    for template in (
        "{total_min.__class__}",
        "{__import__('os')}",
        "{missing}",
        "{a[0]}",
        "{total_min:>999999999}",
    ):
        with pytest.raises(ValueError):
            format_names(template, {"total_min": 1.0, "a": [1]})
