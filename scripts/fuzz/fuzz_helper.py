#!/usr/bin/env python3
"""Helpers of scripts/fuzz.sh, standard library only.

  free-ports N              print N free TCP ports on 127.0.0.1
  doc-info DOC              print "<openapi version> <operation count>" of an OpenAPI document
  has-data                  exit 0 when the /v1/overview answer on stdin counts at least one person
  refused-ops RUN_DIR       print the operations schemathesis refused because their schema is invalid
  patch-doc IN OUT          write a copy of an OpenAPI 3.0 document with 3.1-style exclusiveMinimum/-Maximum
                            (a number) rewritten the 3.0 way (minimum + exclusiveMinimum: true); print what changed
  report WORK_DIR           print the per-server counts and every distinct failure, then a JSON line of figures;
                            exit 1 when anything failed, 0 when nothing did

WORK_DIR holds one directory per server (servers/<name>/) with a `meta` file of key=value lines written by fuzz.sh
and one directory per schemathesis run (primary/, patched/) with its reports (report.json, events.ndjson), its
console output (st.log) and its exit status (st.exit).
"""

from __future__ import annotations

import base64
import json
import shlex
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHECKS = [
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
]
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Headers the HTTP client adds on its own; a curl line does not need them.
NOISE_HEADERS = {"user-agent", "accept-encoding", "connection", "content-length", "host"}
# Longer bodies go to a file next to the reports instead of into the curl line.
MAX_INLINE_BODY = 1500
# What schemathesis' warnings (report.json "warnings") mean; they are printed, they do not fail the run.
WARNINGS = {
    "validation_mismatch": "mostly answered 400 to data the document allows (the server checks more than it documents)",
    "rate_limited": "mostly answered 429 (rate limited), leaving the logic behind untested",
    "missing_auth": "answered 401/403 to most requests although a key was sent",
    "missing_test_data": "mostly answered 404 (no data for the generated identifiers)",
    "low_valid_rate": "few generated requests were accepted",
}


def free_ports(count: int) -> None:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        print(" ".join(str(s.getsockname()[1]) for s in sockets))
    finally:
        for s in sockets:
            s.close()


def doc_info(path: str) -> int:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        paths = doc.get("paths") or {}
        operations = sum(1 for item in paths.values() for method in item if method.lower() in HTTP_METHODS)
        print(f"{doc.get('openapi') or doc.get('swagger') or 'unknown'} {operations}")
        return 0
    except (OSError, ValueError, AttributeError) as error:
        print(f"unreadable 0 ({error})")
        return 1


def has_data() -> int:
    try:
        answer = json.load(sys.stdin)
        return 0 if (answer.get("totals") or {}).get("persons", 0) > 0 else 1
    except (ValueError, AttributeError, TypeError):
        return 1


def events(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                yield json.loads(line)
            except ValueError:
                continue


def refused_ops(run_dir: str) -> None:
    seen: list[str] = []
    for event in events(Path(run_dir) / "events.ndjson"):
        error = event.get("NonFatalError")
        if error and (error.get("value") or {}).get("type") == "InvalidSchema":
            label = error.get("label")
            if label and label not in seen:
                seen.append(label)
    print("\n".join(seen))


def patch_doc(source: str, target: str) -> None:
    doc = json.loads(Path(source).read_text(encoding="utf-8"))
    changes: list[str] = []
    if str(doc.get("openapi", "")).startswith("3.0"):
        _patch_exclusive(doc, "#", changes)
    Path(target).write_text(json.dumps(doc, indent=2), encoding="utf-8")
    print("\n".join(changes))


def _patch_exclusive(node: Any, pointer: str, changes: list[str]) -> None:
    if isinstance(node, dict):
        for keyword, bound, stricter in (
            ("exclusiveMinimum", "minimum", lambda a, b: a >= b),
            ("exclusiveMaximum", "maximum", lambda a, b: a <= b),
        ):
            value = node.get(keyword)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if bound not in node or stricter(value, node[bound]):
                    node[bound] = value
                    node[keyword] = True
                else:
                    del node[keyword]
                changes.append(f"{pointer}: {keyword}: {value} -> {bound}: {node[bound]}, {keyword}: true")
        for key, child in node.items():
            _patch_exclusive(child, f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}", changes)
    elif isinstance(node, list):
        for index, child in enumerate(node):
            _patch_exclusive(child, f"{pointer}/{index}", changes)


# ---------------------------------------------------------------------------------------------------------- report


def read_meta(path: Path) -> dict[str, str]:
    meta: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "=" in line:
                key, value = line.split("=", 1)
                meta[key] = value
    return meta


def decode_body(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, dict) and "$base64" in body:
        return base64.b64decode(body["$base64"])
    if isinstance(body, dict) and "string" in body:
        return str(body["string"]).encode("utf-8")
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")


def with_variable(text: str, secret: str, variable: str) -> str:
    """`text` quoted for a POSIX shell, with every occurrence of `secret` replaced by "$variable"."""
    if not secret or secret not in text:
        return shlex.quote(text)
    pieces = text.split(secret)
    out = []
    for index, piece in enumerate(pieces):
        if piece:
            out.append(shlex.quote(piece))
        if index < len(pieces) - 1:
            out.append(f'"${variable}"')
    return "".join(out)


def curl_line(request: dict[str, Any], meta: dict[str, str], bodies_dir: Path, case_id: str) -> str:
    base = meta.get("base_url", "")
    uri = str(request.get("uri", ""))
    if base and uri.startswith(base):
        url = f'"${meta["url_var"]}"' + (shlex.quote(uri[len(base) :]) if uri[len(base) :] else "")
    else:
        url = shlex.quote(uri)
    parts = ["curl", "-sS", "-i", "-X", shlex.quote(str(request.get("method", "GET")))]
    for name, values in (request.get("headers") or {}).items():
        if name.lower() in NOISE_HEADERS:
            continue
        for value in values if isinstance(values, list) else [values]:
            parts += ["-H", with_variable(f"{name}: {value}", meta.get("key", ""), meta.get("key_var", "KEY"))]
    body = decode_body(request.get("body"))
    prefix = ""
    if body is not None:
        text = None
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        printable = text is not None and all(ch in "\n\t" or (ord(ch) >= 32 and ord(ch) != 127) for ch in text)
        if printable and len(body) <= MAX_INLINE_BODY:
            parts += ["--data-binary", shlex.quote(text or "")]
        elif len(body) <= MAX_INLINE_BODY:
            prefix = f"printf %s {shlex.quote(base64.b64encode(body).decode('ascii'))} | base64 -d | "
            parts += ["--data-binary", "@-"]
        else:
            bodies_dir.mkdir(parents=True, exist_ok=True)
            file = bodies_dir / f"{case_id}.body"
            file.write_bytes(body)
            parts += ["--data-binary", shlex.quote(f"@{file}")]
    parts.append(url)
    return prefix + " ".join(parts)


def error_curls(st_log: Path) -> dict[str, str]:
    """Operation -> the "Reproduce with" curl line schemathesis printed under ERRORS (its events carry none)."""
    curls: dict[str, str] = {}
    try:
        text = st_log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return curls
    operation = None
    in_errors = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("=") and stripped.endswith("="):
            in_errors = " ERRORS " in stripped
            continue
        if not in_errors:
            continue
        if stripped.startswith("___") and stripped.endswith("___"):
            operation = stripped.strip("_ ").strip()
        elif operation and stripped.startswith("curl ") and operation not in curls:
            curls[operation] = stripped
    return curls


def requote_curl(line: str, meta: dict[str, str]) -> str:
    """A curl line of schemathesis with the key and the base URL replaced by shell variables."""
    try:
        words = shlex.split(line)
    except ValueError:
        return line
    base = meta.get("base_url", "")
    out = []
    for word in words:
        if base and word.startswith(base):
            rest = word[len(base) :]
            out.append(f'"${meta.get("url_var", "URL")}"' + (shlex.quote(rest) if rest else ""))
        else:
            out.append(with_variable(word, meta.get("key", ""), meta.get("key_var", "KEY")))
    return " ".join(out)


def first_lines(message: str, count: int = 2) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return " / ".join(lines[:count])


class ServerResult:
    def __init__(self, name: str, meta: dict[str, str]):
        self.name = name
        self.meta = meta
        self.checks = {check: {"run": 0, "failed": 0} for check in CHECKS}
        self.groups: dict[tuple[str, ...], dict[str, Any]] = {}
        self.errors: dict[tuple[str, ...], dict[str, Any]] = {}
        self.document_problems: list[str] = []
        self.runs: list[dict[str, Any]] = []
        self.test_cases = 0
        self.failing_cases: set[str] = set()
        self.server_error_cases = 0
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.error_curls: dict[str, str] = {}

    def add_run(self, label: str, run_dir: Path, bodies_dir: Path) -> None:
        exit_file = run_dir / "st.exit"
        st_exit = int(exit_file.read_text().strip() or "-1") if exit_file.exists() else None
        report: dict[str, Any] = {}
        if (run_dir / "report.json").exists():
            try:
                report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
            except ValueError:
                report = {}
        operations = report.get("operations") or {}
        cases = report.get("test_cases") or {}
        self.runs.append(
            {
                "label": label,
                "exit": st_exit,
                "selected": operations.get("selected", 0),
                "tested": operations.get("tested", 0),
                "errored": operations.get("errored", 0),
                "generated": cases.get("generated", 0),
                "seconds": round(report.get("running_time") or 0, 1),
                "stop_reason": report.get("stop_reason"),
                "has_report": bool(report),
            }
        )
        self.test_cases += cases.get("generated", 0)
        for kind, operations_warned in (report.get("warnings") or {}).items():
            if operations_warned:
                names = ", ".join(str(o) for o in operations_warned)
                self.warnings.append(f"{label} run, {kind}: {names}: {WARNINGS.get(kind, 'see st.log')}")
        if not report:
            self.notes.append(
                f"{label} run: schemathesis left no report (exit status {st_exit}); see {run_dir}/st.log:\n"
                + tail(run_dir / "st.log", 15)
            )
        self.error_curls.update({op: requote_curl(c, self.meta) for op, c in error_curls(run_dir / "st.log").items()})
        seen: set[tuple[str, str]] = set()
        for event in events(run_dir / "events.ndjson"):
            if "ScenarioFinished" in event:
                self._scenario(label, event["ScenarioFinished"], seen, bodies_dir)
            elif "NonFatalError" in event:
                self._error(label, event["NonFatalError"])
            elif "FatalError" in event:
                value = event["FatalError"].get("exception") or event["FatalError"]
                key = (label, "(run)", "FatalError", first_lines(json.dumps(value)[:300], 1))
                self.errors.setdefault(key, {"count": 0, "message": json.dumps(value)[:1000]})["count"] += 1

    def _scenario(self, label: str, scenario: dict[str, Any], seen: set[tuple[str, str]], bodies_dir: Path) -> None:
        recorder = scenario.get("recorder") or {}
        operation = recorder.get("label", "?")
        interactions = recorder.get("interactions") or {}
        for case_id, results in (recorder.get("checks") or {}).items():
            for result in results:
                check = result.get("name", "?")
                status = result.get("status")
                if (case_id, check) in seen:
                    continue
                seen.add((case_id, check))
                counts = self.checks.setdefault(check, {"run": 0, "failed": 0})
                if status in ("success", "failure"):
                    counts["run"] += 1
                if status != "failure":
                    continue
                counts["failed"] += 1
                self.failing_cases.add(f"{label}:{case_id}")
                failure = (result.get("failure_info") or {}).get("failure") or {}
                interaction = interactions.get(case_id) or {}
                response = interaction.get("response") or {}
                request = interaction.get("request") or {}
                status_code = response.get("status_code")
                if check == "not_a_server_error":
                    self.server_error_cases += 1
                message = str(failure.get("message") or "")
                op = failure.get("operation") or operation
                method = str(request.get("method") or "").upper()
                if method and op.split(" ", 1)[0].upper() != method:
                    op = f"{method} {op.split(' ', 1)[-1]} (method not in the document; it documents {op})"
                # Status-code and content-type failures differ only in what was received; a schema failure's first
                # lines name the part of the document it broke.
                detail = message if check != "response_schema_conformance" else first_lines(message, 3)
                key = (op, check, str(failure.get("code", "")), str(status_code), detail[:400])
                group = self.groups.get(key)
                body = decode_body(request.get("body")) or b""
                score = len(str(request.get("uri", ""))) + len(body)
                if group is None:
                    group = self.groups[key] = {
                        "operation": op,
                        "check": check,
                        "code": failure.get("code", ""),
                        "title": failure.get("title", ""),
                        "status": status_code,
                        "message": message,
                        "cases": 0,
                        "score": None,
                        "phases": set(),
                    }
                group["cases"] += 1
                group["phases"].add(label)
                if group["score"] is None or score < group["score"]:
                    content = decode_body(response.get("content")) or b""
                    group["score"] = score
                    group["curl"] = curl_line(request, self.meta, bodies_dir, case_id)
                    text = content[:240].decode("utf-8", errors="replace")
                    group["response"] = text.replace("\r\n", "\n").replace("\n", " ⏎ ")
                    if len(content) > 240:
                        group["response"] += " …"
                    group["case_id"] = case_id
                    group["phase"] = label

    def _error(self, label: str, error: dict[str, Any]) -> None:
        value = error.get("value") or {}
        kind = value.get("type", "?")
        message = str(value.get("message") or "")
        operation = error.get("label") or "(run)"
        if kind == "InvalidSchema" and label == "primary":
            key = ("primary", operation, kind, first_lines(message, 1))
        else:
            key = (label, operation, kind, first_lines(message, 2)[:300])
        entry = self.errors.setdefault(key, {"count": 0, "message": message})
        entry["count"] += 1

    # -------------------------------------------------------------------------------------------------- figures

    def listed_groups(self) -> list[dict[str, Any]]:
        """The distinct failures, without the status_code_conformance twin of a 5xx already listed as a server error."""
        server_error_ops = {g["operation"] for g in self.groups.values() if g["check"] == "not_a_server_error"}
        order = {check: index for index, check in enumerate(CHECKS)}
        listed = [
            g
            for g in self.groups.values()
            if not (
                g["check"] == "status_code_conformance"
                and isinstance(g["status"], int)
                and g["status"] >= 500
                and g["operation"] in server_error_ops
            )
        ]
        return sorted(listed, key=lambda g: (order.get(g["check"], 99), g["operation"], str(g["status"])))

    def document_errors(self) -> list[tuple[str, str]]:
        return [(key[1], entry["message"]) for key, entry in self.errors.items() if key[2] == "InvalidSchema"]

    def other_errors(self) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
        return [(key, entry) for key, entry in self.errors.items() if key[2] != "InvalidSchema"]

    def figures(self) -> dict[str, Any]:
        primary = next((run for run in self.runs if run["label"] == "primary"), None)
        patched = next((run for run in self.runs if run["label"] == "patched"), None)
        refused = sorted({op for op, _ in self.document_errors()})
        doc_problem_count = len(refused) + len(self.document_problems)
        return {
            "operations": int(self.meta.get("doc_operations", "0") or 0),
            "operations_tested": (primary or {}).get("tested", 0),
            "operations_refused_invalid_schema": len(refused),
            "operations_tested_from_patched_document": (patched or {}).get("tested", 0),
            "test_cases": self.test_cases,
            "checks": self.checks,
            "failing_test_cases": len(self.failing_cases),
            "distinct_failures": len(self.listed_groups()),
            "server_error_test_cases": self.server_error_cases,
            "document_errors": doc_problem_count,
            "other_errors": sum(entry["count"] for _, entry in self.other_errors()),
            "pipeline_died": self.meta.get("pipeline") == "died",
            "seconds": round(sum(run["seconds"] for run in self.runs), 1),
        }

    def failed(self) -> bool:
        figures = self.figures()
        return bool(
            self.groups
            or figures["document_errors"]
            or figures["other_errors"]
            or figures["pipeline_died"]
            or any(not run["has_report"] for run in self.runs)
            or not self.runs
        )

    # ---------------------------------------------------------------------------------------------------- print

    def print(self) -> None:
        meta = self.meta
        figures = self.figures()
        print()
        print(f"== {self.name}: {meta.get('base_url', '?')} (document {meta.get('doc_url', '?')})")
        print(f"   OpenAPI {meta.get('doc_version', '?')}, {figures['operations']} operations")
        for problem in self.document_problems:
            print(f"   document: {problem}")
        for run in self.runs:
            print(
                f"   {run['label']} run: {run['selected']} operations selected, {run['tested']} tested, "
                f"{run['errored']} refused; {run['generated']} test cases in {run['seconds']} s "
                f"(stopped by {run['stop_reason'] or '?'}; schemathesis exit {run['exit']})"
            )
        for note in self.notes:
            print("   " + note.replace("\n", "\n     "))
        for warning in self.warnings:
            print(f"   schemathesis warning ({warning})")
        print(f"   test cases: {figures['test_cases']}, failing: {figures['failing_test_cases']}")
        print(f"   {'check':32} {'run':>8} {'failed':>8}")
        for check, counts in self.checks.items():
            print(f"   {check:32} {counts['run']:>8} {counts['failed']:>8}")
        print(
            f"   distinct failures: {figures['distinct_failures']}, invalid document parts: "
            f"{figures['document_errors']}, other errors: {figures['other_errors']}"
        )
        hidden = len(self.groups) - len(self.listed_groups())
        if hidden:
            print(
                f"   ({hidden} status_code_conformance failure(s) on 5xx answers are listed once, "
                "under not_a_server_error)"
            )
        if meta.get("pipeline") == "died":
            print("   THE PIPELINE PROCESS EXITED during or before this run; see the pipeline log tail below.")

        number = 0
        for operation, message in sorted(self.document_errors()):
            number += 1
            print(f"\n   [{self.name} #{number}] {operation}: invalid_openapi_document (schemathesis refused it)")
            lines = [line for line in message.strip().splitlines() if line.strip()]
            print("      " + "\n      ".join(lines))
            if "exclusiveMinimum" in message or "exclusiveMaximum" in message:
                print(
                    "      (a number in exclusiveMinimum/exclusiveMaximum is OpenAPI 3.1 / JSON Schema 2019+; "
                    "OpenAPI 3.0 wants minimum: N with exclusiveMinimum: true)"
                )
        if meta.get("patched_changes"):
            print(
                f"\n   The refused operations were fuzzed from a copy of the document with these changes "
                f"({meta.get('patched_doc', '')}):"
            )
            for change in meta["patched_changes"].split(";;"):
                print(f"      {change}")
        for key, entry in sorted(self.other_errors()):
            number += 1
            print(f"\n   [{self.name} #{number}] {key[1]}: error {key[2]} ({key[0]} run), {entry['count']} time(s)")
            print("      " + entry["message"].strip()[:1200].replace("\n", "\n      "))
            if key[1] in self.error_curls:
                print(f"      {self.error_curls[key[1]]}")
        for group in self.listed_groups():
            number += 1
            where = " (run from the patched document)" if group["phases"] == {"patched"} else ""
            print(
                f"\n   [{self.name} #{number}] {group['operation']}: {group['check']} "
                f"({group['code']} {group['title']}), answer {group['status']}, {group['cases']} test case(s){where}"
            )
            if group["message"]:
                print("      " + group["message"].strip()[:1500].replace("\n", "\n      "))
            print(f"      response: {group.get('response', '')}")
            print(f"      {group.get('curl', '')}")


def tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} is missing)"


def logged_errors(path: Path) -> list[tuple[int, str]]:
    """Distinct errors the pipeline logged (pino JSON lines of level error or fatal), most frequent first."""
    counts: dict[str, int] = {}
    if not path.exists():
        return []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if not line.startswith("{"):
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get("level"), int) or entry["level"] < 50:
                continue
            raw = entry.get("err", entry.get("error"))
            error = raw if isinstance(raw, dict) else {"message": raw} if isinstance(raw, str) else {}
            text = first_lines(str(error.get("message") or entry.get("msg") or ""), 1)[:200]
            parts = [str(entry.get("component", "?")), str(entry.get("msg", ""))]
            if error.get("type") or (text and text != entry.get("msg")):
                parts.append(f"{error.get('type', '')}: {text}".strip(": "))
            key = ": ".join(part for part in parts if part)
            counts[key] = counts.get(key, 0) + 1
    return sorted(((count, key) for key, count in counts.items()), reverse=True)


def report(work_dir: str) -> int:
    work = Path(work_dir)
    global_meta = read_meta(work / "meta")
    results: list[ServerResult] = []
    for server_dir in sorted((work / "servers").iterdir()) if (work / "servers").exists() else []:
        meta = read_meta(server_dir / "meta")
        result = ServerResult(server_dir.name, meta)
        if meta.get("doc_status", "ok") != "ok":
            result.document_problems.append(meta["doc_status"])
        for label in ("primary", "patched"):
            if (server_dir / label).exists():
                result.add_run(label, server_dir / label, Path(global_meta.get("keep_dir", str(work))) / "bodies")
        results.append(result)
    order = {name: index for index, name in enumerate(global_meta.get("servers", "").split(","))}
    results.sort(key=lambda r: order.get(r.name, 99))

    print()
    print("=" * 100)
    print(f"Omnistitch fuzz: schemathesis {global_meta.get('schemathesis', '?')}, seed {global_meta.get('seed', '?')}")
    print(
        "Curl lines use $API_URL/$API_KEY (metrics API, admin key) and $COLLECTOR_URL/$WRITE_KEY (collector); "
        "for `npm start`: API_URL=http://127.0.0.1:8080 COLLECTOR_URL=http://127.0.0.1:8081."
    )
    for result in results:
        result.print()
    errors = logged_errors(work / "pipeline.log")
    if errors:
        print(
            f"\n== Errors the pipeline logged during the run ({work / 'pipeline.log'}), distinct, most frequent first:"
        )
        for count, key in errors[:20]:
            print(f"   {count:>5} x {key}")
        if len(errors) > 20:
            print(f"   ... and {len(errors) - 20} more")
    if global_meta.get("pipeline") == "died":
        print("\n== The pipeline process exited before the end of the run. Last lines of its log:")
        print("   " + tail(work / "pipeline.log", 30).replace("\n", "\n   "))

    started = float(global_meta.get("started_at", "0") or 0)
    failed = any(result.failed() for result in results) or not results or global_meta.get("pipeline") == "died"
    servers = {result.name: result.figures() for result in results}
    total_keys = [
        "operations",
        "test_cases",
        "failing_test_cases",
        "distinct_failures",
        "server_error_test_cases",
        "document_errors",
        "other_errors",
    ]
    totals = {key: sum(figures[key] for figures in servers.values()) for key in total_keys}
    print()
    print(
        f"Result: {'FAILED' if failed else 'passed'}: {totals['test_cases']} test cases, "
        f"{totals['distinct_failures']} distinct failures ({totals['failing_test_cases']} failing test cases, "
        f"{totals['server_error_test_cases']} with a 5xx answer), {totals['document_errors']} invalid document "
        f"parts, {totals['other_errors']} other errors. Reports: {global_meta.get('keep_dir', work)}"
    )
    print(
        json.dumps(
            {
                "ok": not failed,
                "seed": int(global_meta["seed"]) if global_meta.get("seed", "").isdigit() else None,
                "seconds": round(time.time() - started, 1) if started else None,
                "schemathesis": global_meta.get("schemathesis"),
                "servers": servers,
                "totals": totals,
            },
            separators=(",", ":"),
        )
    )
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    command, args = argv[1], argv[2:]
    if command == "free-ports":
        free_ports(int(args[0]))
        return 0
    if command == "doc-info":
        return doc_info(args[0])
    if command == "has-data":
        return has_data()
    if command == "refused-ops":
        refused_ops(args[0])
        return 0
    if command == "patch-doc":
        patch_doc(args[0], args[1])
        return 0
    if command == "report":
        return report(args[0])
    print(f"unknown command {command}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
