"""Cases per hostile-input category: the catalogue's own plus the older tests it counts in.

Run `.venv/bin/python tests/hostile_counts.py` (from the repository root) for the table that
docs/reliability.md quotes. Cases are counted as pytest collects them: every parametrized
case once. The catalogue's ids read `category:name`; older tests are attributed by
`REFERENCES` and not repeated in the catalogue.
"""

from __future__ import annotations

import ast
import contextlib
import io
import sys
from collections import Counter
from pathlib import Path

CATALOGUE = "tests/test_hostile_inputs.py"
CATEGORIES = ("config", "paths", "huge", "injection", "ssrf", "secrets", "secret-args", "oversize")

# Older tests that already cover a category, as `file::function` (all their cases count).
REFERENCES: dict[str, tuple[str, ...]] = {
    "config": (
        "tests/test_config.py::test_a_wrong_type_names_the_key_and_what_was_expected",
        "tests/test_config.py::test_an_unknown_key_is_reported_not_ignored",
        "tests/test_config.py::test_invalid_toml_is_a_config_error",
        "tests/test_gate_policy.py::test_a_malformed_rule_is_refused_at_load_time_with_its_place",
    ),
    "paths": (
        "tests/test_workspace_read_file.py::test_dotdot_escape_is_refused",
        "tests/test_workspace_read_file.py::test_absolute_path_is_allowed_only_inside_the_workspace",
        "tests/test_workspace_read_file.py::test_symlink_pointing_outside_is_refused",
    ),
    "huge": (
        "tests/test_workspace_read_file.py::test_binary_file_is_refused",
        "tests/test_workspace_read_file.py::test_large_file_is_read_only_by_line_range",
        "tests/test_workspace_read_file.py::test_long_file_without_range_stops_with_a_continuation_hint",
        "tests/test_workspace_read_file.py::test_output_is_cut_to_the_configured_size_with_a_hint",
        "tests/test_terminal.py::test_long_output_keeps_head_and_tail_with_a_notice",
        "tests/test_loop.py::test_large_tool_output_is_capped_with_a_visible_notice",
        "tests/test_fetch.py::test_large_body_is_truncated_at_max_bytes",
        "tests/test_fetch.py::test_binary_content_is_refused_with_type_and_size",
        "tests/test_workspace_usages.py::test_search_stops_at_the_hit_limit_and_says_results_are_partial",
    ),
    "injection": (
        "tests/test_gate_dangerous_commands.py::test_dangerous_command_is_hard_denied_despite_permissive_allow_rules",
        "tests/test_gate_dangerous_commands.py::test_unanalysable_dangerous_command_is_never_allowed",
        "tests/test_gate_dangerous_commands.py::test_a_chain_is_not_allowed_by_a_rule_covering_only_its_first_command",
        "tests/test_gate_dangerous_commands.py::test_a_pipeline_is_allowed_only_when_every_part_is_allowed",
        "tests/test_gate_dangerous_commands.py::test_a_wrapper_needs_its_own_allow_rule_as_well_as_the_wrapped_command",
        "tests/test_gate_dangerous_commands.py::test_writing_outside_the_workspace_needs_approval_even_when_the_command_is_allowed",
        "tests/test_gate_dangerous_commands.py::test_hostile_long_command_lines_are_decided_quickly",
        "tests/test_gate_policy.py::test_deny_rules_match_every_flag_spelling",
        "tests/test_gate_policy.py::test_a_deny_rule_sees_commands_hidden_in_an_unparseable_line",
        "tests/test_workspace_usages.py::test_a_symbol_must_be_an_identifier",
    ),
    "ssrf": (
        "tests/test_fetch.py::test_metadata_address_is_refused_with_reason",
        "tests/test_fetch.py::test_metadata_host_names_are_refused_without_lookup",
        "tests/test_fetch.py::test_loopback_server_is_refused_without_allow_list",
        "tests/test_fetch.py::test_private_and_disguised_hosts_are_refused",
        "tests/test_fetch.py::test_name_resolving_to_private_address_is_refused",
        "tests/test_fetch.py::test_one_private_address_among_public_ones_is_enough_to_refuse",
        "tests/test_fetch.py::test_non_http_schemes_and_credentials_are_refused",
        "tests/test_fetch.py::test_request_goes_to_checked_address_with_original_host",
        "tests/test_fetch.py::test_redirect_to_metadata_address_is_refused",
        "tests/test_fetch.py::test_redirect_to_a_not_allow_listed_port_is_refused",
        "tests/test_fetch.py::test_redirect_loop_stops_at_max_redirects",
        "tests/test_fetch_ssrf.py::test_ip_parsing_agrees_with_libc_inet_aton",
        "tests/test_fetch_ssrf.py::test_host_names_and_invalid_spellings_are_not_ip_literals",
        "tests/test_fetch_ssrf.py::test_non_public_addresses_are_classified",
        "tests/test_fetch_ssrf.py::test_allow_list_entries_can_be_limited_to_a_port",
        "tests/test_fetch_ssrf.py::test_allow_listed_ipv4_also_covers_its_ipv4_mapped_form",
    ),
    "secrets": (
        "tests/test_loop.py::test_canary_secret_from_environment_and_file_never_reaches_model_or_journal",
        "tests/test_redaction.py::test_well_known_token_shapes_are_masked",
        "tests/test_redaction.py::test_values_of_secret_named_environment_variables_are_masked_anywhere",
        "tests/test_redaction.py::test_nested_structures_are_masked_by_value_and_by_field_name",
        "tests/test_terminal.py::test_secret_environment_variables_are_not_passed_on",
        "tests/test_terminal.py::test_known_secret_printed_by_the_command_is_redacted",
        "tests/test_fetch.py::test_known_secrets_in_the_page_are_redacted",
        "tests/test_workspace_read_file.py::test_known_secret_values_are_masked",
        "tests/test_workspace_codebase.py::test_secrets_in_matching_lines_are_masked",
        "tests/test_workspace_problems.py::test_secret_environment_variables_do_not_reach_the_command",
        "tests/test_workspace_problems.py::test_output_is_redacted",
    ),
    "secret-args": (),
    "oversize": (
        "tests/test_loop.py::test_turn_limit_stops_the_run_with_an_explicit_reason",
        "tests/test_loop.py::test_tool_call_limit_answers_the_excess_calls_and_stops",
    ),
}


def missing_references(root: Path) -> list[str]:
    """References whose file or test function no longer exists (stale after a rename)."""
    missing: list[str] = []
    for refs in REFERENCES.values():
        for ref in refs:
            file, _, function = ref.partition("::")
            path = root / file
            names: set[str] = set()
            if path.is_file():
                tree = ast.parse(path.read_text(encoding="utf-8"))
                names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
            if function not in names:
                missing.append(ref)
    return missing


def categorise(node_ids: list[str], gaps: set[str]) -> dict[str, tuple[int, int, int]]:
    """(catalogue cases, known gaps, referenced older cases) per category.

    `gaps` are the catalogue's strict-xfail cases: a documented failure, not a pass.
    """
    owner = {ref: category for category, refs in REFERENCES.items() for ref in refs}
    own: Counter[str] = Counter()
    failing: Counter[str] = Counter()
    older: Counter[str] = Counter()
    for node in node_ids:
        base, _, params = node.partition("[")
        if base.startswith(CATALOGUE + "::"):
            category = params.partition(":")[0]
            (failing if node in gaps else own)[category] += 1
        elif base in owner:
            older[owner[base]] += 1
    return {c: (own[c], failing[c], older[c]) for c in CATEGORIES}


def _collect(root: Path) -> tuple[list[str], set[str]]:
    import pytest

    class Collector:
        def __init__(self) -> None:
            self.ids: list[str] = []
            self.gaps: set[str] = set()

        def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
            self.ids = [item.nodeid for item in items]
            self.gaps = {i.nodeid for i in items if i.get_closest_marker("xfail") is not None}

    files = sorted({CATALOGUE} | {r.partition("::")[0] for v in REFERENCES.values() for r in v})
    collector = Collector()
    with contextlib.redirect_stdout(io.StringIO()):
        code = pytest.main(["--collect-only", "-q", f"--rootdir={root}", *files], [collector])
    if code != 0:
        raise SystemExit(f"collection failed (pytest exit {code})")
    return collector.ids, collector.gaps


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    stale = missing_references(root)
    if stale:
        print("stale references:", *stale, sep="\n  ")
        return 1
    counts = categorise(*_collect(root))
    rows = [(category, *numbers) for category, numbers in counts.items()]
    own, gaps, older = (sum(n[i] for n in counts.values()) for i in range(3))
    rows.append(("all", own, gaps, older))
    print(f"{'category':<12} {'catalogue':>9} {'gaps':>5} {'older':>6} {'total':>6}")
    for category, own, gaps, older in rows:
        print(f"{category:<12} {own:>9} {gaps:>5} {older:>6} {own + older:>6}")
    print("catalogue: passing cases of tests/test_hostile_inputs.py; gaps: its strict-xfail")
    print("cases (known failures owned elsewhere); older: cases of the tests in REFERENCES.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
