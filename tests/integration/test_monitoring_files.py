"""The alert rules and the Grafana dashboard in monitoring/ pass their checkers,
and name only metrics a running vpbx serves."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from ..scrape import metrics_text

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
RULES = MONITORING / "prometheus" / "vpbx.rules.yml"
DASHBOARD = MONITORING / "grafana" / "vpbx-dashboard.json"
# A metric name in PromQL: vpbx_… not followed by "(" (a function) or ":" (a recording rule's own name).
METRIC = re.compile(r"\b(vpbx_[a-z0-9_]+)\b(?![:(])")
SUFFIXES = ("_total", "_bucket", "_sum", "_count")


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def _dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    variables = dashboard["templating"]["list"]
    queries += [v["definition"] for v in variables if v["type"] == "query"]
    return queries


def _served(stack) -> set[str]:
    """The family names the test stack's /metrics serves, with and without their samples' suffixes."""
    names = set()
    for family in text_string_to_metric_families(metrics_text(stack)):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES)
    return names


def test_the_rules_pass_promtool_and_their_own_tests():
    checked = _promtool("check", "rules", RULES.name, cwd=RULES.parent)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _promtool("test", "rules", "vpbx.rules.test.yml", cwd=RULES.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_dashboard_query_is_valid_promql(tmp_path):
    # Grafana's own variables, as it would fill them in.
    queries = [
        q.replace("$__rate_interval", "5m").replace("$company", ".*")
        for q in _dashboard_queries()
        if not q.startswith("label_values(")
    ]
    assert len(queries) >= 15
    rules = {
        "groups": [
            {"name": "dashboard", "rules": [{"record": f"dashboard:q{i}", "expr": q} for i, q in enumerate(queries)]}
        ]
    }
    (tmp_path / "dashboard.rules.yml").write_text(yaml.safe_dump(rules))
    checked = _promtool("check", "rules", "dashboard.rules.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_rules_and_the_dashboard_name_only_metrics_vpbx_serves(stack):
    served = _served(stack)
    named = set(METRIC.findall(RULES.read_text())) | {
        name for query in _dashboard_queries() for name in METRIC.findall(query)
    }
    assert {"vpbx_calls_total", "vpbx_call_setup_seconds_bucket", "vpbx_lookups_total"} <= named
    assert named - served == set()
