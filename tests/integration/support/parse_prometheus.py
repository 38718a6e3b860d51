#!/usr/bin/python3
"""Reads a /metrics page on stdin and parses it with the Prometheus client library's own
text-format parser (python3-prometheus-client). Prints one line per sample:
`name{label=value,...} value`, labels sorted, or fails (exit 1) with the parser's error."""
import sys

from prometheus_client.parser import text_string_to_metric_families

try:
    for family in text_string_to_metric_families(sys.stdin.read()):
        print(f"# {family.name} {family.type}")
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            print(f"{s.name}{{{labels}}} {s.value:g}")
except Exception as e:  # the parser raises ValueError and others on bad input
    print(f"parse error: {e}")
    sys.exit(1)
