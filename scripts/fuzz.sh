#!/usr/bin/env bash
# Fuzz both HTTP servers of Omnistitch (the metrics API and the collector) against their own OpenAPI documents.
#
# Usage:  bash scripts/fuzz.sh            (npm run fuzz)
#
# What it does, bounded (about 6 minutes with the defaults, plus about half a minute the first time for the venv):
#   1. Makes a Python virtual environment under the cache directory (OMNISTITCH_CACHE_DIR, default
#      ~/.cache/omnistitch, as for the Kafka jars) at <cache>/fuzz-venv and installs the schemathesis pinned in
#      scripts/fuzz/requirements.txt; later runs reuse it. Needs python3 with venv/ensurepip: when that is missing
#      and this runs as root on Debian/Ubuntu, it runs `apt-get install -y python3-venv` itself (and says so);
#      otherwise it stops and names the package to install.
#   2. Starts its own pipeline (`omnistitch start` from this checkout): a temporary data directory, free ports on
#      127.0.0.1 for the API, the collector, the local Kafka broker and the metrics port, known keys (an admin and a
#      reader key for the API, one write key for the collector), rate limits lifted (the fuzzer would otherwise
#      mostly see 429s), KAFKA_BROKERS/CLICKHOUSE_URL/SCHEMA_REGISTRY_URL unset so nothing outside is touched.
#      Demo traffic runs at a low rate so that metric answers have rows to check against their schema, and it
#      waits (bounded) until the API counts a person. Then it waits for /healthz of both servers.
#   3. Runs schemathesis against each server's OpenAPI document (GET /docs/json), only ever at 127.0.0.1, with
#      `Authorization: Bearer <key>` (the admin key for the API, the write key for the collector) and the checks
#      not_a_server_error, response_schema_conformance, status_code_conformance and content_type_conformance, in
#      every phase that applies (examples, coverage, fuzzing; positive and negative data), bounded by a number of
#      examples per operation and a time budget per server. Operations schemathesis refuses because their part of
#      the document is invalid are reported as failures and then fuzzed from a patched copy of the document
#      (OpenAPI 3.1-style numeric exclusiveMinimum/exclusiveMaximum rewritten the 3.0 way), so they are tested too.
#   4. Stops the pipeline (always, from a trap; SIGTERM, then SIGKILL after a grace period) and removes the
#      temporary directory. Reports, the pipeline log and the documents are kept in .omnistitch/fuzz-report/.
#   5. Prints per server: operations, test cases, checks run and failed, and every distinct failure (operation,
#      check, answer, message and a curl line reproducing it), then one final line of JSON with the figures.
#
# Exit status: 0 no failure; 1 a 5xx answer, an answer that breaks the document (schema, status code, content
# type), an invalid document, a request error (timeout, refused connection) or a pipeline crash; 2 the fuzzer could
# not run (no python3/venv, pip install failed, the pipeline did not start); 130 interrupted (Ctrl-C), after
# stopping the pipeline.
#
# Settings (environment):
#   OMNISTITCH_FUZZ_API_SECONDS        time budget of the API run (default 150)
#   OMNISTITCH_FUZZ_COLLECTOR_SECONDS  time budget of the collector run (default 75)
#   OMNISTITCH_FUZZ_PATCHED_SECONDS    time budget of the run over operations from the patched document (default 45)
#   OMNISTITCH_FUZZ_MAX_EXAMPLES       test cases per operation and fuzzing round (default 50)
#   OMNISTITCH_FUZZ_WORKERS            concurrent schemathesis workers (default 2)
#   OMNISTITCH_FUZZ_REQUEST_TIMEOUT    seconds one request may take before it counts as an error (default 60: twice
#                                      the 30 s the API gives a metric query)
#   OMNISTITCH_FUZZ_SEED               seed, to repeat a run (default: random, printed)
#   OMNISTITCH_FUZZ_DEMO_RATE          demo events per second during the run; 0 turns demo traffic off (default 2)
#   OMNISTITCH_FUZZ_START_TIMEOUT      seconds to wait for both servers (default 300; the first start may fetch Kafka)
#   OMNISTITCH_FUZZ_REPORT_DIR         where reports are kept (default .omnistitch/fuzz-report, replaced each run)
#   OMNISTITCH_FUZZ_VERBOSE=1          show schemathesis' own output while it runs
#   OMNISTITCH_FUZZ_PYTHON             the python3 to make the venv with (default python3)
#   OMNISTITCH_CACHE_DIR               as for `omnistitch`: where the venv lives

set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
HELPER="$ROOT/scripts/fuzz/fuzz_helper.py"
REQUIREMENTS="$ROOT/scripts/fuzz/requirements.txt"
STARTED_AT="$(date +%s)"

API_SECONDS="${OMNISTITCH_FUZZ_API_SECONDS:-150}"
COLLECTOR_SECONDS="${OMNISTITCH_FUZZ_COLLECTOR_SECONDS:-75}"
PATCHED_SECONDS="${OMNISTITCH_FUZZ_PATCHED_SECONDS:-45}"
MAX_EXAMPLES="${OMNISTITCH_FUZZ_MAX_EXAMPLES:-50}"
WORKERS="${OMNISTITCH_FUZZ_WORKERS:-2}"
REQUEST_TIMEOUT="${OMNISTITCH_FUZZ_REQUEST_TIMEOUT:-60}"
SEED="${OMNISTITCH_FUZZ_SEED:-$(((RANDOM << 15) | RANDOM))}"
DEMO_RATE="${OMNISTITCH_FUZZ_DEMO_RATE:-2}"
START_TIMEOUT="${OMNISTITCH_FUZZ_START_TIMEOUT:-300}"
WARMUP_SECONDS=90
KEEP_DIR="${OMNISTITCH_FUZZ_REPORT_DIR:-$ROOT/.omnistitch/fuzz-report}"
PYTHON="${OMNISTITCH_FUZZ_PYTHON:-python3}"
CACHE_DIR="${OMNISTITCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/omnistitch}"
VENV="$CACHE_DIR/fuzz-venv"
CHECKS="not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"

say() { printf '[fuzz %4ss] %s\n' "$(($(date +%s) - STARTED_AT))" "$*"; }
die() {
  say "error: $*" >&2
  exit 2
}

for number in "$API_SECONDS" "$COLLECTOR_SECONDS" "$PATCHED_SECONDS" "$MAX_EXAMPLES" "$WORKERS" "$SEED" \
  "$DEMO_RATE" "$START_TIMEOUT" "$REQUEST_TIMEOUT"; do
  [[ "$number" =~ ^[0-9]+$ ]] || die "expected a whole number in the OMNISTITCH_FUZZ_* settings, got \"$number\""
done
command -v curl >/dev/null || die "curl is needed"
command -v node >/dev/null || die "node is needed"

# ----------------------------------------------------------------------------------------------- the venv

ensure_python_venv() {
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found; install Python 3.9 or newer (Debian: apt-get install -y python3 python3-venv)"
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' ||
    die "$PYTHON is older than 3.9, which schemathesis needs; set OMNISTITCH_FUZZ_PYTHON to a newer one"
  if "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then return 0; fi
  local minor
  minor="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    say "$PYTHON has no venv/ensurepip module: installing python3-venv with apt-get (running as root)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv "python$minor-venv" >/dev/null 2>&1; } ||
      die "apt-get install python3-venv failed"
    "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || die "$PYTHON still has no venv module after installing python3-venv"
  else
    die "$PYTHON has no venv/ensurepip module; install it (Debian/Ubuntu: sudo apt-get install python3-venv) or set OMNISTITCH_FUZZ_PYTHON"
  fi
}

ensure_venv() {
  local pin stamp
  pin="$(grep -v '^#' "$REQUIREMENTS" | grep -v '^$')"
  stamp="$VENV/.omnistitch-requirements"
  if [[ -x "$VENV/bin/st" && -f "$stamp" && "$(cat "$stamp")" == "$pin" ]]; then return 0; fi
  ensure_python_venv
  mkdir -p "$CACHE_DIR" || die "cannot create $CACHE_DIR"
  say "making the fuzzer's virtual environment at $VENV ($pin)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || die "python3 -m venv $VENV failed"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS" ||
    die "pip install -r scripts/fuzz/requirements.txt failed (no network?)"
  printf '%s' "$pin" >"$stamp"
}

if command -v flock >/dev/null; then
  mkdir -p "$CACHE_DIR" || die "cannot create $CACHE_DIR"
  exec 9>"$CACHE_DIR/fuzz-venv.lock"
  flock 9
  ensure_venv
  flock -u 9
else
  ensure_venv
fi
ST_VERSION="$("$VENV/bin/st" --version 2>/dev/null | awk '{print $NF}')"
[[ -n "$ST_VERSION" ]] || die "schemathesis in $VENV does not run; delete $VENV and try again"

# --------------------------------------------------------------------------------------------- the pipeline

WORK="$(mktemp -d "${TMPDIR:-/tmp}/omnistitch-fuzz.XXXXXX")" || die "mktemp failed"
PIPELINE_PID=""
BROKER_PIDS=""
stop_pipeline() {
  [[ -n "$PIPELINE_PID" ]] || return 0
  if kill -0 "$PIPELINE_PID" 2>/dev/null; then
    BROKER_PIDS="$BROKER_PIDS $(pgrep -P "$PIPELINE_PID" 2>/dev/null | tr '\n' ' ')"
    say "stopping the pipeline (pid $PIPELINE_PID)"
    kill -TERM "$PIPELINE_PID" 2>/dev/null
    for _ in $(seq 1 60); do
      kill -0 "$PIPELINE_PID" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$PIPELINE_PID" 2>/dev/null; then
      say "the pipeline did not stop within 30 s of SIGTERM: SIGKILL"
      kill -KILL -- "-$PIPELINE_PID" 2>/dev/null || kill -KILL "$PIPELINE_PID" 2>/dev/null
    fi
  fi
  # The local broker is its own process group, tied to the pipeline through a pipe: it exits with it. Make sure.
  for pid in $BROKER_PIDS; do
    for _ in $(seq 1 20); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; fi
  done
  PIPELINE_PID=""
}
# shellcheck disable=SC2329 # called from the EXIT trap
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_pipeline
  if [[ -d "$WORK" ]]; then
    mkdir -p "$KEEP_DIR" 2>/dev/null && cp "$WORK/pipeline.log" "$KEEP_DIR/" 2>/dev/null
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

read -r API_PORT COLLECTOR_PORT KAFKA_PORT METRICS_PORT < <("$VENV/bin/python" "$HELPER" free-ports 4) ||
  die "could not find free ports"
ADMIN_KEY="fuzz-admin-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
READER_KEY="fuzz-reader-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
WRITE_KEY="fuzz-write-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
API_URL="http://127.0.0.1:$API_PORT"
COLLECTOR_URL="http://127.0.0.1:$COLLECTOR_PORT"
DEMO_FLAG=()
[[ "$DEMO_RATE" == 0 ]] && DEMO_FLAG=(--no-demo)

say "starting the pipeline in $WORK (API $API_URL, collector $COLLECTOR_URL, Kafka port $KAFKA_PORT, demo ${DEMO_RATE}/s)"
(
  unset KAFKA_BROKERS CLICKHOUSE_URL CLICKHOUSE_CLUSTER CLICKHOUSE_API_USER SCHEMA_REGISTRY_URL
  export OMNISTITCH_DATA_DIR="$WORK/data" OMNISTITCH_API_HOST=127.0.0.1 \
    OMNISTITCH_API_PORT="$API_PORT" OMNISTITCH_COLLECTOR_PORT="$COLLECTOR_PORT" \
    OMNISTITCH_KAFKA_PORT="$KAFKA_PORT" OMNISTITCH_METRICS_PORT="$METRICS_PORT" \
    OMNISTITCH_API_KEYS="admin=$ADMIN_KEY,reader=$READER_KEY" OMNISTITCH_WRITE_KEYS="fuzz=$WRITE_KEY" \
    OMNISTITCH_API_RATE_LIMIT=1000000 OMNISTITCH_COLLECTOR_RATE_LIMIT=1000000 \
    OMNISTITCH_DEMO_RATE="$DEMO_RATE" OMNISTITCH_LOG_LEVEL=warn
  # Its own session: a Ctrl-C in the terminal reaches only this script, which then stops the pipeline in order.
  exec setsid node --import tsx cli/omnistitch.ts start "${DEMO_FLAG[@]}"
) >"$WORK/pipeline.log" 2>&1 </dev/null &
PIPELINE_PID=$!

pipeline_alive() { [[ -n "$PIPELINE_PID" ]] && kill -0 "$PIPELINE_PID" 2>/dev/null; }
answers() { curl -fsS -o /dev/null --max-time 5 "$1/healthz" 2>/dev/null; }
deadline=$(($(date +%s) + START_TIMEOUT))
until answers "$API_URL" && answers "$COLLECTOR_URL"; do
  if ! pipeline_alive; then
    say "the pipeline exited before both servers answered; last lines of its log:"
    tail -n 40 "$WORK/pipeline.log" | sed 's/^/    /'
    exit 2
  fi
  if (($(date +%s) > deadline)); then
    say "the servers did not answer /healthz within $START_TIMEOUT s; last lines of the pipeline log:"
    tail -n 40 "$WORK/pipeline.log" | sed 's/^/    /'
    exit 2
  fi
  sleep 1
done
say "both servers answer /healthz"
if [[ "$DEMO_RATE" != 0 ]]; then
  deadline=$(($(date +%s) + WARMUP_SECONDS))
  until curl -fsS --max-time 10 -H "Authorization: Bearer $READER_KEY" "$API_URL/v1/overview" 2>/dev/null |
    "$VENV/bin/python" "$HELPER" has-data; do
    pipeline_alive || break
    if (($(date +%s) > deadline)); then
      say "no stitched person after $WARMUP_SECONDS s of demo traffic; fuzzing with what is there"
      break
    fi
    sleep 3
  done
  pipeline_alive && say "demo data is in (the API counts people)"
fi

# ---------------------------------------------------------------------------------------------- the fuzzing

rm -rf "$KEEP_DIR"
mkdir -p "$KEEP_DIR" || die "cannot create $KEEP_DIR"
{
  echo "started_at=$STARTED_AT"
  echo "seed=$SEED"
  echo "schemathesis=$ST_VERSION"
  echo "servers=api,collector"
  echo "keep_dir=$KEEP_DIR"
} >"$KEEP_DIR/meta"

# st_run <run dir> <document> <base url> <key> <seconds> [schemathesis options...]
st_run() {
  local dir="$1" doc="$2" base="$3" key="$4" seconds="$5"
  shift 5
  mkdir -p "$dir"
  local args=(run "$doc" --url "$base" -H "Authorization: Bearer $key" --checks "$CHECKS"
    --max-examples "$MAX_EXAMPLES" --max-time "$seconds" --workers "$WORKERS" --seed "$SEED"
    --request-timeout "$REQUEST_TIMEOUT" --generation-database none --no-color --output-sanitize false
    --report 'json,ndjson' --report-dir "$dir" --report-json-path "$dir/report.json"
    --report-ndjson-path "$dir/events.ndjson" "$@")
  local status
  # The run stops itself at --max-time; the outer timeout only catches a hang (a request stuck past its timeout,
  # shrinking that does not end).
  if [[ "${OMNISTITCH_FUZZ_VERBOSE:-}" == 1 ]]; then
    (cd "$WORK" && timeout --foreground --kill-after=10 $((seconds + 2 * REQUEST_TIMEOUT + 60)) "$VENV/bin/st" "${args[@]}") 2>&1 | tee "$dir/st.log"
    status=${PIPESTATUS[0]}
  else
    (cd "$WORK" && timeout --foreground --kill-after=10 $((seconds + 2 * REQUEST_TIMEOUT + 60)) "$VENV/bin/st" "${args[@]}") >"$dir/st.log" 2>&1
    status=$?
  fi
  echo "$status" >"$dir/st.exit"
  return 0
}

# fuzz_server <name> <base url> <key> <url variable> <key variable> <seconds>
fuzz_server() {
  local name="$1" base="$2" key="$3" url_var="$4" key_var="$5" seconds="$6"
  local dir="$KEEP_DIR/servers/$name" doc_status="ok" version="?" operations=0
  mkdir -p "$dir"
  local doc="$dir/openapi.json"
  if ! curl -fsS --max-time 30 -o "$doc" "$base/docs/json" 2>"$dir/doc-fetch.err"; then
    doc_status="GET /docs/json failed: $(tr '\n' ' ' <"$dir/doc-fetch.err")"
  elif ! read -r version operations < <("$VENV/bin/python" "$HELPER" doc-info "$doc"); then
    doc_status="GET /docs/json is not a JSON OpenAPI document"
  fi
  {
    echo "base_url=$base"
    echo "doc_url=$base/docs/json"
    echo "doc_status=$doc_status"
    echo "doc_version=$version"
    echo "doc_operations=$operations"
    echo "url_var=$url_var"
    echo "key_var=$key_var"
    echo "key=$key"
  } >"$dir/meta"
  [[ "$doc_status" == ok ]] || {
    say "$name: $doc_status"
    return 0
  }

  say "$name: OpenAPI $version, $operations operations; schemathesis for up to $seconds s"
  st_run "$dir/primary" "$doc" "$base" "$key" "$seconds"
  say "$name: done (schemathesis exit $(cat "$dir/primary/st.exit"))"

  local refused
  refused="$("$VENV/bin/python" "$HELPER" refused-ops "$dir/primary")"
  if [[ -n "$refused" ]] && pipeline_alive; then
    local changes include=()
    changes="$("$VENV/bin/python" "$HELPER" patch-doc "$doc" "$dir/openapi.patched.json")"
    echo "patched_doc=$dir/openapi.patched.json" >>"$dir/meta"
    echo "patched_changes=$(printf '%s' "$changes" | tr '\n' '\a' | sed 's/\a/;;/g')" >>"$dir/meta"
    while IFS= read -r operation; do include+=(--include-name "$operation"); done <<<"$refused"
    say "$name: schemathesis refused $(wc -l <<<"$refused") operation(s) as invalid; fuzzing them from a patched copy for up to $PATCHED_SECONDS s"
    st_run "$dir/patched" "$dir/openapi.patched.json" "$base" "$key" "$PATCHED_SECONDS" "${include[@]}"
  fi
  pipeline_alive || echo "pipeline=died" >>"$dir/meta"
}

fuzz_server api "$API_URL" "$ADMIN_KEY" API_URL API_KEY "$API_SECONDS"
if pipeline_alive; then
  fuzz_server collector "$COLLECTOR_URL" "$WRITE_KEY" COLLECTOR_URL WRITE_KEY "$COLLECTOR_SECONDS"
else
  say "the pipeline died during the API run: the collector is not fuzzed"
fi
pipeline_alive || echo "pipeline=died" >>"$KEEP_DIR/meta"
cp "$WORK/pipeline.log" "$KEEP_DIR/pipeline.log" 2>/dev/null

stop_pipeline
"$VENV/bin/python" "$HELPER" report "$KEEP_DIR"
exit $?
