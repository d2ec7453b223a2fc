#!/usr/bin/env python3
"""Checks the operator views under deploy/observability without Prometheus.

  1. grafana-dashboard.json parses, has a title and uid, the `datasource`,
     `agency` and `instance` variables; every panel (rows aside) has a
     unique title, a description and at least one query with an `expr`;
  2. every metric the dashboard, the alert rules and their tests name is in
     the catalogue below (plus `up`); histograms are queried as
     NAME_bucket/_sum/_count, never bare;
  3. metrics.txt lists exactly the catalogue;
  4. `promtool check rules` and `promtool test rules` pass; with PyYAML,
     every alert also has a severity and a summary and description.

Usage: check_observability.py
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

try:
    import yaml
except ImportError:  # promtool still checks the YAML files
    yaml = None

ROOT = Path(__file__).resolve().parents[2]
OBS = ROOT / "deploy" / "observability"
DASHBOARD = OBS / "grafana-dashboard.json"
RULES = OBS / "alert-rules.yml"
RULE_TESTS = OBS / "alert-rules.test.yml"
METRICS_TXT = OBS / "metrics.txt"

# Every metric Silta exports, as Prometheus scrapes it. The Rust test
# tests/media/telemetry.rs checks the same names against a live
# scrape; deploy/observability/metrics.txt lists them for it (checked below).
HISTOGRAMS = {
    "silta_http_request_duration_seconds",
    "silta_queue_wait_seconds",
    "silta_sfu_forward_latency_seconds",
    "silta_sfu_participant_loss_ratio",
    "silta_sfu_participant_rtt_seconds",
    "silta_signal_join_duration_seconds",
}
CATALOGUE = HISTOGRAMS | {
    # every HTTP service
    "silta_tls_certificate_expiry_timestamp_seconds",
    # signal
    "silta_signal_connections",
    "silta_signal_messages_total",
    "silta_signal_errors_total",
    "silta_hub_leader",
    "silta_queue_waiting",
    "silta_queue_longest_wait_seconds",
    "silta_calls_in_progress",
    "silta_rooms",
    "silta_kiosks",
    "silta_kiosk_paths_working",
    "silta_media_nodes",
    "silta_sessions_ended_total",
    "silta_media_commands_total",
    # sfu
    "silta_sfu_datagrams_received_total",
    "silta_sfu_datagrams_sent_total",
    "silta_sfu_forwarded_packets_total",
    "silta_sfu_forwarded_bytes_total",
    "silta_sfu_dropped_datagrams_total",
    "silta_sfu_nacks_total",
    "silta_sfu_keyframe_requests_total",
    "silta_sfu_layer_switches_total",
    "silta_sfu_peer_panics_total",
    "silta_sfu_rooms",
    "silta_sfu_peers",
    # booking
    "silta_booking_appointments_total",
    "silta_booking_outbox_backlog",
    "silta_booking_notifications_total",
    "silta_booking_records_stored_total",
    # the OpenTelemetry resource
    "target_info",
}
PROMETHEUS_OWN = {"up"}

# PromQL words that are not metric names.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
            "offset", "bool", "inf", "nan"}

failures = []


def fail(message):
    failures.append(message)
    print(f"FAIL {message}", file=sys.stderr)


def base_name(name):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in HISTOGRAMS:
            return name[: -len(suffix)]
    return name


def check_text_names(path):
    """Every silta_* word anywhere in the file (queries, descriptions) is known."""
    for name in sorted(set(re.findall(r"\bsilta_[a-z0-9_]+", path.read_text()))):
        if base_name(name) not in CATALOGUE:
            fail(f"{path.relative_to(ROOT)}: {name} is not in the metric catalogue")


def metric_names(expr):
    """The metric names a PromQL expression selects (a light tokenizer)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # ranges, subqueries
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", expr):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in KEYWORDS or re.fullmatch(r"\d+[smhdwy]", word):
            continue
        names.add(word)
    return names


def check_expr(where, expr):
    if not expr or not expr.strip():
        fail(f"{where}: empty expr")
        return
    for name in sorted(metric_names(expr)):
        if name in HISTOGRAMS:
            fail(f"{where}: histogram {name} is scraped as {name}_bucket/_sum/_count, not bare")
        elif base_name(name) not in CATALOGUE | PROMETHEUS_OWN:
            fail(f"{where}: unknown metric {name} in: {expr}")


def check_dashboard():
    where = DASHBOARD.relative_to(ROOT)
    try:
        dashboard = json.loads(DASHBOARD.read_text())
    except (OSError, ValueError) as error:
        fail(f"{where}: does not parse: {error}")
        return 0
    for key in ("title", "uid"):
        if not dashboard.get(key):
            fail(f"{where}: no {key}")
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    for name in ("datasource", "agency", "instance"):
        if name not in variables:
            fail(f"{where}: no template variable {name}")
    if variables.get("datasource", {}).get("type") != "datasource":
        fail(f"{where}: variable datasource is not a data source variable")
    for name, variable in variables.items():
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query or ""
        match = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query)
        if not match:
            fail(f"{where}: variable {name}: expected label_values(SELECTOR, LABEL), got {query!r}")
        else:
            check_expr(f"{where}: variable {name}", match.group(1))

    panels = []
    for panel in dashboard.get("panels", []):
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows hold theirs
    titles = {}
    count = 0
    for panel in panels:
        title = (panel.get("title") or "").strip()
        if panel.get("type") == "row":
            continue
        count += 1
        name = f"{where}: panel {title or panel.get('id')!r}"
        if not title:
            fail(f"{name}: no title")
        elif title in titles:
            fail(f"{name}: title used twice")
        titles[title] = panel
        if not (panel.get("description") or "").strip():
            fail(f"{name}: no description")
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            fail(f"{name}: datasource is not ${{datasource}}")
        targets = panel.get("targets") or []
        if not targets:
            fail(f"{name}: no query")
        for target in targets:
            check_expr(f"{name} query {target.get('refId')}", target.get("expr"))
        grid = panel.get("gridPos", {})
        if grid.get("x", 0) + grid.get("w", 0) > 24:
            fail(f"{name}: wider than the dashboard")
    return count


def check_rules_structure():
    where = RULES.relative_to(ROOT)
    document = yaml.safe_load(RULES.read_text())
    count = 0
    for group in document.get("groups", []):
        for rule in group.get("rules", []):
            name = f"{where}: group {group.get('name')} rule {rule.get('alert') or rule.get('record')}"
            check_expr(name, rule.get("expr", ""))
            if "alert" not in rule:
                continue
            count += 1
            if rule.get("labels", {}).get("severity") not in ("warning", "critical"):
                fail(f"{name}: severity label must be warning or critical")
            for key in ("summary", "description"):
                if not rule.get("annotations", {}).get(key):
                    fail(f"{name}: no {key} annotation")
    tests = yaml.safe_load(RULE_TESTS.read_text())
    for test in tests.get("tests", []):
        for series in test.get("input_series", []):
            check_expr(f"{RULE_TESTS.relative_to(ROOT)}: test {test.get('name')!r}", series.get("series", ""))
    return count


def run_promtool(*args):
    result = subprocess.run(["promtool", *args], capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        fail(f"promtool {' '.join(args)} failed:\n{output}")


def main():
    panels = check_dashboard()
    for path in (DASHBOARD, RULES, RULE_TESTS):
        check_text_names(path)

    listed = METRICS_TXT.read_text().splitlines() if METRICS_TXT.exists() else []
    if listed != sorted(CATALOGUE):
        fail(f"{METRICS_TXT.relative_to(ROOT)} differs from the catalogue in {Path(__file__).name}: "
             f"missing {sorted(CATALOGUE - set(listed))}, extra {sorted(set(listed) - CATALOGUE)}"
             + ("" if set(listed) != CATALOGUE else " (or is not sorted, one name a line)"))

    if yaml is not None:
        alerts = check_rules_structure()
    else:
        alerts = len(re.findall(r"^\s*-\s*alert:", RULES.read_text(), re.M))
        print("PyYAML is missing: the rules' severities and annotations are not checked (promtool checks the rest)",
              file=sys.stderr)

    if shutil.which("promtool") is None:
        fail("promtool is missing: apt-get install prometheus (.ci/run installs it)")
    else:
        run_promtool("check", "rules", str(RULES.relative_to(ROOT)))
        run_promtool("test", "rules", str(RULE_TESTS.relative_to(ROOT)))

    if failures:
        print(f"check_observability: {len(failures)} failure(s)", file=sys.stderr)
        return 1
    print(f"OK deploy/observability: dashboard with {panels} panels, {alerts} alert rules, "
          f"{len(CATALOGUE)} catalogue metrics, promtool check and tests pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
