#!/usr/bin/env python3
"""Checks that every number an export wrote is the run's own.

    check_numbers.py RUN_DIR

For every export folder under RUN_DIR/export/ (as `preflight export RUN_DIR
--format F` writes them), reads the run's scenarios.parquet with pyarrow,
independently of Preflight's reader, and checks each exported number
against the value computed from it here: magnitudes and durations rounded
down (never larger than simulated), thresholds equal to the abort
thresholds, healthy bounds equal to the healthy figures. Prints one line per
check group and exits 1 on the first mismatch.
"""

import json
import math
import re
import sys
from pathlib import Path

import pyarrow.parquet as pq
import yaml

checked = 0


def fail(msg):
    print(f"FAIL {msg}")
    sys.exit(1)


def same(what, got, want):
    global checked
    checked += 1
    if isinstance(want, float) and math.isnan(want):
        if got is None or (isinstance(got, float) and math.isnan(got)):
            return
    if got != want:
        fail(f"{what}: exported {got!r}, the run's files give {want!r}")


def floor(x):
    return int(math.floor(x))


def iso(secs):
    h, m, s = secs // 3600, secs // 60 % 60, secs % 60
    out = "PT"
    if h:
        out += f"{h}H"
    if m:
        out += f"{m}M"
    if s or out == "PT":
        out += f"{s}S"
    return out


def pct(fraction):
    return floor(fraction * 100.0 * (1.0 + 1e-12))


def main():
    run = Path(sys.argv[1])
    rows = {r["scenario_id"]: r for r in pq.read_table(run / "scenarios.parquet").to_pylist()}
    folders = sorted(p for p in (run / "export").iterdir() if p.is_dir())
    if not folders:
        fail(f"no export folder under {run}/export")
    for folder in folders:
        index = json.loads((folder / "index.json").read_text())
        exported = [e["scenario_id"] for e in index["exported"]]
        fmt = index["format"]
        before = checked
        usable = {}
        if (run / "export" / "thresholds" / "thresholds.json").exists():
            doc = json.loads((run / "export" / "thresholds" / "thresholds.json").read_text())
            usable = {
                s["scenario_id"]: (s["abort"]["error_rate"]["exported"], s["abort"]["latency_p99_ms"]["exported"])
                for s in doc["scenarios"]
            }
        for sid in exported:
            r = rows[sid]
            secs = floor(r["duration_s"])
            if fmt == "thresholds":
                doc = json.loads((folder / "thresholds.json").read_text())
                s = next(s for s in doc["scenarios"] if s["scenario_id"] == sid)
                for key in ["rank", "likelihood", "impact", "score", "duration_s", "severity", "failure_mode"]:
                    same(f"{sid} {key}", s[key], r[key])
                for key in ["added_latency_ms", "error_fraction", "status_code", "slowdown", "concurrency_lost_percent", "replicas"]:
                    same(f"{sid} magnitude.{key}", s["magnitude"][key], r[key])
                same(f"{sid} healthy.error_rate", s["healthy"]["error_rate"], r["healthy_error_rate"])
                same(f"{sid} healthy.latency_p99_high_ms", s["healthy"]["latency_p99_high_ms"], r["healthy_latency_p99_high_ms"])
                same(f"{sid} abort.error_rate", s["abort"]["error_rate"]["value"], r["abort_error_rate"])
                same(f"{sid} abort.latency_p99_ms", s["abort"]["latency_p99_ms"]["value"], r["abort_latency_p99_ms"])
                same(f"{sid} during.error_rate", s["during_fault"]["error_rate"], r["error_rate_during"])
                prow = next(x for x in pq.read_table(folder / "thresholds.parquet").to_pylist() if x["scenario_id"] == sid)
                for key in ["abort_error_rate", "abort_latency_p99_ms", "duration_s", "healthy_error_rate_high"]:
                    same(f"{sid} thresholds.parquet {key}", prow[key], r[key])
            elif fmt == "fis":
                req = json.loads((folder / f"{sid}.json").read_text())
                (action,) = req["actions"].values()
                p = action["parameters"]
                capped = min(secs, 12 * 3600)
                for key in ["duration", "startInstancesAfterDuration"]:
                    if key in p:
                        same(f"{sid} fis {key}", p[key], iso(capped))
                if "delayMilliseconds" in p:
                    same(f"{sid} fis delayMilliseconds", int(p["delayMilliseconds"]), floor(r["added_latency_ms"]))
                    assert int(p["delayMilliseconds"]) <= r["added_latency_ms"]
                if "percent" in p and r["failure_mode"] == "cpu_throttle":
                    same(f"{sid} fis percent", int(p["percent"]), pct(1 - 1 / r["slowdown"]))
                e, l = usable[sid]
                same(f"{sid} fis stop conditions", len(req["stopConditions"]), int(e) + int(l))
                cfn = json.loads((folder / "cloudformation.json").read_text())
                for res in cfn["Resources"].values():
                    if res["Type"] != "AWS::CloudWatch::Alarm":
                        continue
                    props = res["Properties"]
                    name = props["AlarmName"]
                    if not name.startswith(f"preflight-{sid}-abort-"):
                        continue
                    if name.endswith("-abort-error-rate"):
                        same(f"{sid} alarm {name}", props["Threshold"], r["abort_error_rate"])
                    elif name.endswith("-abort-latency-p99"):
                        same(f"{sid} alarm {name}", props["Threshold"], r["abort_latency_p99_ms"] * 0.001)
            elif fmt == "chaos-mesh":
                docs = list(yaml.safe_load_all((folder / f"{sid}.yaml").read_text()))
                chaos, workflow = docs
                same(f"{sid} chaos-mesh duration", chaos["spec"]["duration"], f"{secs}s")
                if "delay" in chaos["spec"]:
                    same(f"{sid} chaos-mesh latency", chaos["spec"]["delay"]["latency"], f"{floor(r['added_latency_ms'])}ms")
                ann = workflow["metadata"]["annotations"]
                if "preflight/abort-error-rate" in ann:
                    same(f"{sid} chaos-mesh abort error rate", float(ann["preflight/abort-error-rate"]), r["abort_error_rate"])
                if "preflight/abort-latency-p99-ms" in ann:
                    same(f"{sid} chaos-mesh abort p99", float(ann["preflight/abort-latency-p99-ms"]), r["abort_latency_p99_ms"])
                for t in workflow["spec"]["templates"]:
                    same(f"{sid} chaos-mesh deadline", t["deadline"], f"{secs}s")
            elif fmt == "litmus":
                engine = yaml.safe_load((folder / f"{sid}.yaml").read_text())
                exp = engine["spec"]["experiments"][0]["spec"]
                env = {e["name"]: e["value"] for e in exp["components"]["env"]}
                same(f"{sid} litmus TOTAL_CHAOS_DURATION", env["TOTAL_CHAOS_DURATION"], str(secs))
                if "NETWORK_LATENCY" in env:
                    same(f"{sid} litmus NETWORK_LATENCY", env["NETWORK_LATENCY"], str(floor(r["added_latency_ms"])))
                if "TOXICITY" in env:
                    same(f"{sid} litmus TOXICITY", env["TOXICITY"], str(pct(r["error_fraction"])))
                for probe in exp["probe"]:
                    if probe["type"] != "promProbe":
                        continue
                    v = float(probe["promProbe/inputs"]["comparator"]["value"])
                    if "error-rate" in probe["name"]:
                        same(f"{sid} litmus {probe['name']}", v, r["abort_error_rate"])
                    else:
                        same(f"{sid} litmus {probe['name']}", v, r["abort_latency_p99_ms"] / 1000.0)
            elif fmt == "chaostoolkit":
                exp = json.loads((folder / f"{sid}.json").read_text())
                bound = lambda p: float(re.search(r"<= (\S+)$", p["provider"]["arguments"]["query"]).group(1))
                for p in exp["steady-state-hypothesis"]["probes"]:
                    want = r["healthy_error_rate_high"] if "error-rate" in p["name"] else r["healthy_latency_p99_high_ms"] / 1000.0
                    same(f"{sid} chaostoolkit {p['name']}", bound(p), want)
                for p in exp["controls"][0]["provider"]["arguments"]["probes"]:
                    want = r["abort_error_rate"] if "error-rate" in p["name"] else r["abort_latency_p99_ms"] / 1000.0
                    same(f"{sid} chaostoolkit {p['name']}", bound(p), want)
                action = exp["method"][0]
                same(f"{sid} chaostoolkit pause", action["pauses"]["after"], secs + 60)
                res = action["provider"]["arguments"].get("resource")
                if res:
                    same(f"{sid} chaostoolkit duration", res["spec"]["duration"], f"{secs}s")
                    if "delay" in res["spec"]:
                        same(f"{sid} chaostoolkit latency", res["spec"]["delay"]["latency"], f"{floor(r['added_latency_ms'])}ms")
            elif fmt == "prometheus-rules":
                rules = yaml.safe_load((folder / "rules.yaml").read_text())
                group = next(g for g in rules["groups"] if g["name"] == f"preflight-{sid}")
                for rule in group["rules"]:
                    v = float(re.search(r"> (\S+)$", rule["expr"].strip()).group(1))
                    want = r["abort_error_rate"] if rule["alert"] == "PreflightAbortErrorRate" else r["abort_latency_p99_ms"] / 1000.0
                    same(f"{sid} rule {rule['alert']}", v, want)
                healthy = next(g for g in rules["groups"] if g["name"] == "preflight-healthy")
                for rule in healthy["rules"]:
                    v = float(re.search(r"> (\S+)$", rule["expr"].strip()).group(1))
                    want = r["healthy_error_rate_high"] if "ErrorRate" in rule["alert"] else r["healthy_latency_p99_high_ms"] / 1000.0
                    same(f"healthy rule {rule['alert']}", v, want)
        print(f"ok {fmt}: {checked - before} numbers of {len(exported)} scenarios equal the run's")
    print(f"exports: {checked} numbers checked against {run}/scenarios.parquet")


if __name__ == "__main__":
    main()
