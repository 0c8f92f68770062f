#!/usr/bin/env python3
"""Validate the output of `preflight export` with each tool's own validator.

    .venv/bin/python tests/exports/validate.py EXPORT_ROOT [--schema FILE]

EXPORT_ROOT holds one directory per format, named by it (EXPORT_ROOT/fis/,
EXPORT_ROOT/chaos-mesh/, ...), or is itself a single format directory (told
by its name, by the `format` of its index.json, or by its files). Every file
in a format directory is checked (shared/spec/exports.md):

  thresholds        thresholds.json: jsonschema (Draft 2020-12) against the
                    schema of `preflight schema --exports` (or --schema FILE);
                    thresholds.parquet, when present: opens, one row per
                    scenario (needs pyarrow)
  fis               <scenario>.json: botocore's ParamValidator against the
                    input shape of the fis model's CreateExperimentTemplate;
                    cloudformation.json: cfn-lint (warnings count as failures)
  chaos-mesh        every YAML document: the CRD's openAPIV3Schema for its
  litmus              apiVersion and kind (tests/exports/crds/), unknown fields
                    rejected as `kubectl apply` (strict field validation) does;
                    metadata.name required
  chaostoolkit      <scenario>.json: `chaos validate`
  prometheus-rules  rules.yaml: `promtool check rules`

index.json is only checked to be JSON. Prints one line per file with the
verdict, then the validator's own output; exits 1 when anything fails or a
format directory is empty, 2 on bad arguments. Set up the validators with
tests/exports/setup.sh.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CRD_DIR = HERE / "crds"

FORMATS = ("thresholds", "fis", "chaos-mesh", "litmus", "chaostoolkit", "prometheus-rules")
# Files a format directory must hold besides one file per scenario.
REQUIRED = {
    "thresholds": ("thresholds.json",),
    "fis": ("cloudformation.json",),
    "prometheus-rules": ("rules.yaml",),
}
# The API group each Kubernetes format's documents must belong to.
GROUPS = {"chaos-mesh": "chaos-mesh.org", "litmus": "litmuschaos.io"}
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Verdict:
    path: Path
    validator: str
    ok: bool
    summary: str
    output: list[str] = field(default_factory=list)


class Fatal(Exception):
    """A validator cannot run at all (not installed, no schema)."""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export_root", type=Path, help="directory written by `preflight export`")
    parser.add_argument(
        "--schema",
        type=Path,
        help="JSON Schema of thresholds.json (default: the output of `preflight schema --exports`)",
    )
    args = parser.parse_args(argv)
    root = args.export_root
    if not root.is_dir():
        print(f"validate.py: {root} is not a directory", file=sys.stderr)
        return 2

    dirs, notes = format_dirs(root)
    for note in notes:
        print(f"note: {note}")
    if not dirs:
        print(f"validate.py: no format directory under {root} (expected one of: {', '.join(FORMATS)})")
        return 1

    context = Context(schema_path=args.schema)
    verdicts: list[Verdict] = []
    for fmt, directory in dirs:
        print(f"== {fmt}: {directory}")
        for verdict in check_format(fmt, directory, context):
            report(verdict, root)
            verdicts.append(verdict)

    failed = [v for v in verdicts if not v.ok]
    print(f"exports: {len(verdicts) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


# ---------------------------------------------------------------- discovery


def format_dirs(root: Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """The (format, directory) pairs under root, and notes on what was skipped."""
    subdirs = sorted(p for p in root.iterdir() if p.is_dir())
    named = sorted(((p.name, p) for p in subdirs if p.name in FORMATS), key=lambda pair: FORMATS.index(pair[0]))
    if named:
        notes = [f"{p} skipped: not named by a format" for p in subdirs if p.name not in FORMATS]
        return named, notes
    fmt = detect_format(root)
    if fmt:
        return [(fmt, root)], []
    return [], [f"{p} skipped: not named by a format" for p in subdirs]


def detect_format(directory: Path) -> str | None:
    """The format of a single format directory, from its name, index.json or files."""
    if directory.name in FORMATS:
        return directory.name
    index = directory / "index.json"
    if index.is_file():
        try:
            fmt = json.loads(index.read_text()).get("format")
        except (ValueError, AttributeError):
            fmt = None
        if fmt in FORMATS:
            return fmt
    names = {p.name for p in directory.iterdir() if p.is_file()}
    if "thresholds.json" in names:
        return "thresholds"
    if "cloudformation.json" in names:
        return "fis"
    if "rules.yaml" in names:
        return "prometheus-rules"
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text(errors="replace")
        if "apiVersion: chaos-mesh.org/" in text:
            return "chaos-mesh"
        if "apiVersion: litmuschaos.io/" in text:
            return "litmus"
    for path in sorted(directory.glob("*.json")):
        if path.name == "index.json":
            continue
        try:
            doc = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(doc, dict) and "method" in doc:
            return "chaostoolkit"
        if isinstance(doc, dict) and "actions" in doc and "roleArn" in doc:
            return "fis"
    return None


# ---------------------------------------------------------------- dispatch


class Context:
    """Validators that are costly to set up, made once and on first use."""

    def __init__(self, schema_path: Path | None):
        self.schema_path = schema_path
        self._thresholds_schema = None
        self._fis_shape = None
        self._crds = None

    def thresholds_schema(self):
        if self._thresholds_schema is None:
            self._thresholds_schema = load_thresholds_schema(self.schema_path)
        return self._thresholds_schema

    def fis_shape(self):
        if self._fis_shape is None:
            import botocore.session

            model = botocore.session.get_session().get_service_model("fis")
            self._fis_shape = model.operation_model("CreateExperimentTemplate").input_shape
        return self._fis_shape

    def crds(self):
        if self._crds is None:
            self._crds = load_crds(CRD_DIR)
        return self._crds


def check_format(fmt: str, directory: Path, context: Context) -> list[Verdict]:
    files = sorted(p for p in directory.iterdir() if p.is_file())
    verdicts: list[Verdict] = []
    if not files:
        return [Verdict(directory, "-", False, "empty format directory")]
    if not [p for p in files if p.name != "index.json"]:
        verdicts.append(Verdict(directory, "-", False, "no exported file besides index.json"))
    for name in REQUIRED.get(fmt, ()):
        if not (directory / name).is_file():
            verdicts.append(Verdict(directory / name, "-", False, "missing (the exporter always writes it)"))
    for sub in sorted(p for p in directory.iterdir() if p.is_dir()):
        verdicts.append(Verdict(sub, "-", False, "unexpected directory inside a format directory"))

    for path in files:
        try:
            verdicts.extend(check_file(fmt, path, context))
        except Fatal as error:
            verdicts.append(Verdict(path, "-", False, f"cannot validate: {error}"))
    return verdicts


def check_file(fmt: str, path: Path, context: Context) -> list[Verdict]:
    if path.name == "index.json":
        return [check_index(path)]
    if fmt == "thresholds":
        if path.name == "thresholds.json":
            return [check_thresholds(path, context)]
        if path.name == "thresholds.parquet":
            return [check_thresholds_parquet(path)]
    elif fmt == "fis":
        if path.name == "cloudformation.json":
            return [check_cfn_lint(path)]
        if path.suffix == ".json":
            return [check_fis_request(path, context)]
    elif fmt in GROUPS:
        if path.suffix in (".yaml", ".yml"):
            return check_kubernetes(path, fmt, context)
    elif fmt == "chaostoolkit":
        if path.suffix == ".json":
            return [check_chaos_validate(path)]
    elif fmt == "prometheus-rules":
        if path.suffix in (".yaml", ".yml"):
            return [check_promtool(path)]
    return [Verdict(path, "-", False, f"no validator for this file in a {fmt} directory")]


def report(verdict: Verdict, root: Path) -> None:
    try:
        shown = verdict.path.relative_to(root)
    except ValueError:
        shown = verdict.path
    status = "PASS" if verdict.ok else "FAIL"
    print(f"{status} {shown} [{verdict.validator}] {verdict.summary}")
    for line in verdict.output:
        if line.strip():
            print(f"    {line}")


# ---------------------------------------------------------------- validators


def check_index(path: Path) -> Verdict:
    try:
        json.loads(path.read_text())
    except ValueError as error:
        return Verdict(path, "json", False, f"not JSON: {error}")
    return Verdict(path, "json", True, "JSON (index.json is not checked by a tool)")


def load_thresholds_schema(schema_path: Path | None):
    from jsonschema import Draft202012Validator

    if schema_path is not None:
        try:
            schema = json.loads(schema_path.read_text())
        except (OSError, ValueError) as error:
            raise Fatal(f"--schema {schema_path}: {error}")
        source = str(schema_path)
    else:
        binary = find_preflight()
        if binary is None:
            raise Fatal(
                "no schema: pass --schema FILE, or build preflight (or set PREFLIGHT) "
                "so that `preflight schema --exports` can be run"
            )
        run = subprocess.run([binary, "schema", "--exports"], capture_output=True, text=True)
        if run.returncode != 0:
            raise Fatal(f"`{binary} schema --exports` exited {run.returncode}: {run.stderr.strip()}")
        try:
            schema = json.loads(run.stdout)
        except ValueError as error:
            raise Fatal(f"`{binary} schema --exports` did not print JSON: {error}")
        source = f"{binary} schema --exports"
    try:
        Draft202012Validator.check_schema(schema)
    except Exception as error:  # jsonschema.SchemaError
        raise Fatal(f"the schema from {source} is not a valid Draft 2020-12 schema: {error}")
    return Draft202012Validator(schema), source


def find_preflight() -> str | None:
    """PREFLIGHT, else the newer of the release and debug builds, else PATH."""
    if os.environ.get("PREFLIGHT"):
        return os.environ["PREFLIGHT"]
    builds = [
        candidate
        for candidate in (REPO / "target" / "release" / "preflight", REPO / "target" / "debug" / "preflight")
        if candidate.is_file() and os.access(candidate, os.X_OK)
    ]
    if builds:
        return str(max(builds, key=lambda candidate: candidate.stat().st_mtime))
    return shutil.which("preflight")


def check_thresholds(path: Path, context: Context) -> Verdict:
    validator, source = context.thresholds_schema()
    name = "jsonschema Draft 2020-12"
    try:
        document = json.loads(path.read_text())
    except ValueError as error:
        return Verdict(path, name, False, f"not JSON: {error}")
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        return Verdict(path, name, False, f"{len(errors)} error(s) against {source}", [json_error(e) for e in errors])
    return Verdict(path, name, True, f"valid against {source}")


def check_thresholds_parquet(path: Path) -> Verdict:
    name = "pyarrow"
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return Verdict(path, name, False, "pyarrow is not installed: run tests/python/setup.sh")
    try:
        rows = pq.read_table(path).num_rows
    except Exception as error:  # pyarrow raises several kinds
        return Verdict(path, name, False, f"does not open: {error}")
    sibling = path.with_name("thresholds.json")
    try:
        scenarios = len(json.loads(sibling.read_text()).get("scenarios", []))
    except (OSError, ValueError, AttributeError):
        return Verdict(path, name, True, f"opens, {rows} rows (thresholds.json unreadable: not compared)")
    if rows != scenarios:
        return Verdict(path, name, False, f"{rows} rows but thresholds.json has {scenarios} scenarios")
    return Verdict(path, name, True, f"opens, {rows} rows = scenarios in thresholds.json")


def check_fis_request(path: Path, context: Context) -> Verdict:
    from botocore.validate import ParamValidator

    name = "botocore ParamValidator fis:CreateExperimentTemplate"
    try:
        params = json.loads(path.read_text())
    except ValueError as error:
        return Verdict(path, name, False, f"not JSON: {error}")
    report_ = ParamValidator().validate(params, context.fis_shape())
    if report_.has_errors():
        return Verdict(path, name, False, "invalid request", report_.generate_report().splitlines())
    return Verdict(path, name, True, "valid request")


def check_cfn_lint(path: Path) -> Verdict:
    binary = venv_tool("cfn-lint")
    run = subprocess.run([binary, "--format", "parseable", "--", str(path)], capture_output=True, text=True)
    output = (run.stdout + run.stderr).splitlines()
    # cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational
    # (anything else: it could not run). Only informational findings pass.
    if run.returncode not in (0, 8):
        return Verdict(path, "cfn-lint", False, f"exit {run.returncode}", output)
    return Verdict(path, "cfn-lint", True, "no errors or warnings", output)


def check_chaos_validate(path: Path) -> Verdict:
    binary = venv_tool("chaos")
    run = subprocess.run(
        [binary, "--no-version-check", "--no-log-file", "validate", str(path.resolve())],
        capture_output=True,
        text=True,
        cwd=path.resolve().parent,
    )
    output = ANSI.sub("", run.stdout + run.stderr).splitlines()
    text = "\n".join(output).lower()
    if run.returncode != 0 or "invalid" in text or "not valid" in text:
        return Verdict(path, "chaos validate", False, f"exit {run.returncode}", output)
    return Verdict(path, "chaos validate", True, "valid experiment", output)


def check_promtool(path: Path) -> Verdict:
    binary = shutil.which("promtool")
    if binary is None:
        raise Fatal("promtool is not on PATH: run tests/exports/setup.sh")
    run = subprocess.run([binary, "check", "rules", str(path)], capture_output=True, text=True)
    output = (run.stdout + run.stderr).splitlines()
    if run.returncode != 0:
        return Verdict(path, "promtool check rules", False, f"exit {run.returncode}", output)
    return Verdict(path, "promtool check rules", True, "valid rules", output)


def venv_tool(name: str) -> str:
    """A console script of the validators' venv (the interpreter running this), else PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise Fatal(f"{name} is not installed: run tests/exports/setup.sh")
    return found


# ---------------------------------------------------------------- Kubernetes


def load_crds(directory: Path) -> dict[tuple[str, str, str], tuple[object, str]]:
    """(group, version, kind) -> (jsonschema validator, CRD file name) for every served version."""
    import yaml
    from jsonschema import Draft7Validator

    crds = {}
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec.get("versions", []):
                if not version.get("served", True):
                    continue
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if schema is None:
                    continue
                key = (spec["group"], version["name"], spec["names"]["kind"])
                crds[key] = (Draft7Validator(structural(schema)), path.name)
    if not crds:
        raise Fatal(f"no CRD found in {directory}")
    return crds


def structural(schema):
    """An openAPIV3Schema as jsonschema should apply it to match the API server.

    Unknown fields are rejected (as `kubectl apply`'s strict field validation
    does) except where x-kubernetes-preserve-unknown-fields or
    additionalProperties allows them; nullable admits null;
    x-kubernetes-int-or-string admits an integer or a string. Other
    x-kubernetes-* keys are left in place: jsonschema ignores unknown keywords.
    """
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        if node.get("x-kubernetes-int-or-string") and "type" not in node:
            node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if node.get("nullable") and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        if (
            node.get("type") == "object" or (isinstance(node.get("type"), list) and "object" in node["type"])
        ) and "properties" in node:
            if "additionalProperties" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
                node["additionalProperties"] = False
        for key, value in node.items():
            if key in ("properties", "patternProperties", "definitions"):
                for child in value.values():
                    walk(child)
            elif key in ("items", "additionalProperties", "not"):
                walk(value)
            elif key in ("allOf", "anyOf", "oneOf"):
                walk(value)

    walk(schema)
    # The API server checks metadata itself: every object may carry the usual
    # ObjectMeta fields, whatever the CRD says of them.
    props = schema.get("properties", {})
    if "metadata" in props:
        props["metadata"] = {"type": "object"}
    return schema


def check_kubernetes(path: Path, fmt: str, context: Context) -> list[Verdict]:
    import yaml

    crds = context.crds()
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as error:
        return [Verdict(path, "yaml", False, f"not YAML: {error}")]
    if not documents:
        return [Verdict(path, "yaml", False, "no YAML document")]

    verdicts = []
    for number, doc in enumerate(documents, start=1):
        where = path.with_name(f"{path.name}#{number}")
        if not isinstance(doc, dict):
            verdicts.append(Verdict(where, "crd", False, "a document is not a mapping"))
            continue
        api_version, kind = doc.get("apiVersion", ""), doc.get("kind", "")
        group, _, version = str(api_version).rpartition("/")
        label = f"{kind or '?'}/{(doc.get('metadata') or {}).get('name', '?')}"
        if group != GROUPS[fmt]:
            verdicts.append(
                Verdict(where, "crd", False, f"{label}: apiVersion {api_version!r} is not of {GROUPS[fmt]} ({fmt})")
            )
            continue
        entry = crds.get((group, version, kind))
        if entry is None:
            known = sorted(f"{g}/{v} {k}" for g, v, k in crds if g == group)
            verdicts.append(
                Verdict(where, "crd", False, f"{label}: no CRD for {api_version} {kind}", [f"known: {', '.join(known)}"])
            )
            continue
        validator, crd_file = entry
        name = f"jsonschema {crd_file} {version}"
        problems = [json_error(e) for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))]
        problems += metadata_problems(doc.get("metadata"))
        if problems:
            verdicts.append(Verdict(where, name, False, f"{label}: {len(problems)} error(s)", problems))
        else:
            verdicts.append(Verdict(where, name, True, f"{label}: valid"))
    return verdicts


def metadata_problems(metadata) -> list[str]:
    if not isinstance(metadata, dict):
        return ["metadata: required (with a name)"]
    problems = []
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        problems.append("metadata.name: required")
    elif len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        problems.append(f"metadata.name: {name!r} is not a DNS-1123 subdomain")
    namespace = metadata.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or len(namespace) > 63 or not DNS1123_LABEL.match(namespace)):
        problems.append(f"metadata.namespace: {namespace!r} is not a DNS-1123 label")
    for key in ("labels", "annotations"):
        values = metadata.get(key)
        if values is not None and (
            not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values())
        ):
            problems.append(f"metadata.{key}: values must be strings")
    return problems


def json_error(error) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(document)"
    return f"{where}: {error.message}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
