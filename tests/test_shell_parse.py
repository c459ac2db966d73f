"""How terminal command lines are taken apart before the gate matches rules against them."""

from __future__ import annotations

import pytest

from agent.shell_parse import ParsedCommand, deobfuscate, parse_command


def programs(parsed: ParsedCommand) -> list[str]:
    return [c.program for c in parsed.simple_commands]


def test_every_control_operator_separates_simple_commands() -> None:
    parsed = parse_command("a | b && c || d; e & f\ng |& h")
    assert parsed.parseable
    assert programs(parsed) == ["a", "b", "c", "d", "e", "f", "g", "h"]


def test_commands_in_one_pipeline_share_it_and_count_stages() -> None:
    parsed = parse_command("cat x | grep y | wc -l; ls")
    cat, grep, wc, ls = parsed.simple_commands
    assert cat.pipeline == grep.pipeline == wc.pipeline != ls.pipeline
    assert [cat.stage, grep.stage, wc.stage, ls.stage] == [0, 1, 2, 0]


@pytest.mark.parametrize("command", ['"rm" -rf /', "r''m -rf /", 'r""m -rf /', "\\rm -rf /"])
def test_quotes_and_escapes_inside_the_program_name_are_removed(command: str) -> None:
    parsed = parse_command(command)
    assert parsed.parseable
    assert programs(parsed) == ["rm"]
    assert parsed.simple_commands[0].operands == ("/",)


def test_program_is_reduced_to_its_basename_but_keeps_the_written_path() -> None:
    (cmd,) = parse_command("/bin/rm -f x").simple_commands
    assert (cmd.program, cmd.path, cmd.text) == ("rm", "/bin/rm", "/bin/rm -f x")


def test_env_assignment_prefixes_are_stripped() -> None:
    (cmd,) = parse_command("FOO=1 BAR='a b' make test").simple_commands
    assert cmd.program == "make"
    assert cmd.args == ("test",)


@pytest.mark.parametrize(
    "command", ["rm -rf x", "rm -fr x", "rm -r -f x", "rm --recursive --force x", "rm -Rf x"]
)
def test_flag_spellings_of_rm_normalise_to_the_same_command(command: str) -> None:
    (cmd,) = parse_command(command).simple_commands
    assert cmd.flags == frozenset({"-r", "-f"})
    assert cmd.normalized_text == "rm -f -r x"


def test_git_push_force_long_flag_normalises_to_its_short_form() -> None:
    (cmd,) = parse_command("git push --force origin feature").simple_commands
    assert "-f" in cmd.flags
    assert cmd.normalized_text == "git push -f origin feature"


def test_wrappers_contribute_themselves_and_the_command_they_run() -> None:
    parsed = parse_command("sudo -u root env FOO=1 timeout -s KILL 5 nice -n 2 /bin/rm -rf x")
    assert programs(parsed) == ["sudo", "env", "timeout", "nice", "rm"]
    assert parsed.simple_commands[-1].args == ("-rf", "x")


def test_shell_dash_c_strings_are_parsed_as_commands() -> None:
    parsed = parse_command("bash -lc 'cd app && rm -rf build'")
    assert programs(parsed) == ["bash", "cd", "rm"]
    assert parsed.simple_commands[-1].operands == ("build",)


def test_find_exec_contributes_the_command_it_runs() -> None:
    parsed = parse_command("find . -name '*.tmp' -exec rm -f {} \\;")
    assert programs(parsed) == ["find", "rm"]
    assert parsed.simple_commands[1].args == ("-f", "{}")


def test_subshells_and_groups_are_flattened() -> None:
    assert programs(parse_command("(cd x && make) || { echo failed; exit 1; }")) == [
        "cd",
        "make",
        "echo",
        "exit",
    ]


def test_comments_are_ignored() -> None:
    assert programs(parse_command("ls -la # ; rm -rf /")) == ["ls"]


def test_line_continuations_join_words() -> None:
    (cmd,) = parse_command("git \\\n  status").simple_commands
    assert cmd.text == "git status"


def test_redirections_are_recorded_and_write_targets_recognised() -> None:
    (cmd,) = parse_command("make 2>&1 > out.txt < in.txt").simple_commands
    assert cmd.args == ()
    assert [(r.op, r.fd, r.target, r.writes) for r in cmd.redirects] == [
        (">&", "2", "1", False),
        (">", None, "out.txt", True),
        ("<", None, "in.txt", False),
    ]


def test_single_quoted_substitution_syntax_is_plain_text() -> None:
    parsed = parse_command("echo '$(rm -rf /)' '`x`'")
    assert parsed.parseable
    assert parsed.simple_commands[0].args == ("$(rm -rf /)", "`x`")


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ("echo $(whoami)", "command substitution"),
        ('echo "today is $(date)"', "command substitution"),
        ("echo `whoami`", "backticks"),
        ("diff <(ls a) <(ls b)", "process substitution"),
        ("cat <<EOF\nhi\nEOF", "here-document"),
        ("echo $((1 + 2))", "arithmetic"),
        ("eval 'ls'", "eval"),
        ("ls | xargs rm", "xargs"),
        ("rm${IFS}-rf${IFS}x", "IFS"),
        ("$CMD --version", "program name"),
        ("f() { ls; }; f", "function definition"),
        ("echo 'unterminated", "unterminated"),
        ("for f in *; do rm $f; done", "blocks"),
        ("cat script.sh | bash", "reads commands from its input"),
        ("$'\\x72\\x6d' -rf x", "ANSI-C"),
        ("sudo --frobnicate rm x", "unknown option"),
    ],
)
def test_constructs_that_cannot_be_analysed_make_the_line_unparseable(
    command: str, reason: str
) -> None:
    parsed = parse_command(command)
    assert not parsed.parseable
    assert reason in parsed.reason


def test_unparseable_lines_expose_suspect_commands_from_their_deobfuscated_text() -> None:
    parsed = parse_command("$(echo rm) -rf /")
    assert any(s.program == "rm" and s.operands == ("/",) for s in parsed.suspects)


def test_deobfuscation_removes_ifs_quotes_and_ansi_c_escapes() -> None:
    assert deobfuscate("rm${IFS}-rf${IFS}/") == "rm -rf /"
    assert deobfuscate("r''m -rf \"/\"") == "rm -rf /"
    assert deobfuscate("$'\\x72\\x6d' -rf /") == "rm -rf /"


def test_a_script_file_argument_to_a_shell_is_a_plain_program_call() -> None:
    parsed = parse_command("bash ./deploy.sh --dry-run")
    assert parsed.parseable
    assert programs(parsed) == ["bash"]


def test_an_empty_line_has_no_commands() -> None:
    parsed = parse_command("   ")
    assert parsed.parseable
    assert parsed.simple_commands == ()
