#!/usr/bin/env bash
# The contract gates of CI: the OpenAPI document is linted, compared with the previous
# version for breaking changes, turned into TypeScript types that must compile and a
# Python client that must work, and the running service is fuzzed against it with
# Schemathesis once per role.
#
#   .ci/gates/contract.sh [lint|types|breaking|schemathesis|client|iati|all]   (default: all)
#
# Tools are pinned in package.json/package-lock.json (npm) and requirements.txt (PyPI)
# and installed under .ci/gates/node_modules and .ci/gates/.venv. The service gates run
# target/debug/ogsms (built if missing) on port $OGSMS_GATES_PORT (18095) with a private
# PostgreSQL cluster under .ci/gates/.work/data and the demo data.
set -euo pipefail
GATES="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$GATES/../.." && pwd)"
DOC="$ROOT/openapi/openapi.json"
WORK="$GATES/.work"
PORT="${OGSMS_GATES_PORT:-18095}"
BASE_URL="http://127.0.0.1:$PORT"
# Examples Schemathesis generates per operation and phase (fuzzing, coverage, stateful).
# OGSMS_GATES_PATHS (a regex) limits a local run to the matching paths; the reach report
# then lists every other operation as unreached. CI never sets it.
EXAMPLES="${OGSMS_GATES_EXAMPLES:-100}"
# The budget of a write for a role that may write nothing (viewer, auditor): every write
# answers 403 before its body is read (tests/api/contract.rs), so more generated bodies
# reach no other code; 15 still sends each kind of malformed path, header and body.
READ_ONLY_WRITE_EXAMPLES=$(( EXAMPLES < 15 ? EXAMPLES : 15 ))
mkdir -p "$WORK"

say() { printf '\n-- %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

node_tools() {
  if [ ! -d "$GATES/node_modules" ] || [ "$GATES/package-lock.json" -nt "$GATES/node_modules/.package-lock.json" ]; then
    (cd "$GATES" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

python_tools() {
  if [ ! -x "$GATES/.venv/bin/schemathesis" ] || [ "$GATES/requirements.txt" -nt "$GATES/.venv/.installed" ]; then
    python3 -m venv "$GATES/.venv"
    "$GATES/.venv/bin/pip" install -q --disable-pip-version-check -r "$GATES/requirements.txt"
    touch "$GATES/.venv/.installed"
  fi
}

npx_() { (cd "$GATES" && npx --no-install "$@"); }
# Optic reads the base document from git itself, so it runs in the repository.
optic_() { (cd "$ROOT" && "$GATES/node_modules/.bin/optic" "$@"); }

lint() {
  node_tools
  say "Spectral (spectral:oas + OWASP API Security Top 10; exceptions in .spectral.yaml)"
  npx_ spectral lint "$DOC" -r "$GATES/.spectral.yaml" --fail-severity=warn
  say "Redocly lint (recommended-strict: a warning fails; exceptions in redocly.yaml and .redocly.lint-ignore.yaml)"
  npx_ redocly lint "$DOC" --config "$GATES/redocly.yaml" --max-problems 50
}

types() {
  node_tools
  say "openapi-typescript types compile with tsc --strict"
  mkdir -p "$GATES/ts/.work"
  npx_ openapi-typescript "$DOC" -o "$GATES/ts/.work/ogsms.ts" --redocly "$GATES/ts/redocly.yaml"
  npx_ tsc -p "$GATES/ts/tsconfig.json"
}

# The base the document is compared with, or nothing (the gate then fails):
# 1. the newest release tag reachable from HEAD^ (the contract clients were given);
# 2. else, on a branch other than the default one, its merge base with the default
#    branch (what the branch would change when merged);
# 3. else, on the default branch itself, HEAD^: the contract as it stood before this
#    commit. (The first commit that carried HEAD's info.version would also catch a
#    breaking change made by an earlier commit of a push that lands several, but
#    before any release tag that is the whole pre-release history, which is full of
#    deliberate breaks. A release tag makes step 1 apply, which covers every commit
#    since the release.)
# A shallow clone is deepened first (with no history there is no base, which is not
# "nothing to compare").
base_ref() {
  local git=(git -C "$ROOT") tag default head_branch c
  if [ "$("${git[@]}" rev-parse --is-shallow-repository)" = true ]; then
    "${git[@]}" fetch -q --unshallow --tags >&2 || { echo "cannot unshallow the clone" >&2; return 1; }
  fi
  if "${git[@]}" rev-parse -q --verify 'HEAD^{commit}' >/dev/null \
    && tag="$("${git[@]}" describe --tags --abbrev=0 HEAD^ 2>/dev/null)"; then
    echo "$tag"; return 0
  fi
  default="$("${git[@]}" symbolic-ref -q --short refs/remotes/origin/HEAD 2>/dev/null || true)"
  if [ -z "$default" ]; then
    for c in origin/main origin/master main master; do
      if "${git[@]}" rev-parse -q --verify "$c^{commit}" >/dev/null; then default="$c"; break; fi
    done
  fi
  [ -n "$default" ] || { echo "no default branch (origin/HEAD, main or master)" >&2; return 1; }
  head_branch="$("${git[@]}" symbolic-ref -q --short HEAD || true)"
  if [ "$("${git[@]}" rev-parse HEAD)" != "$("${git[@]}" rev-parse "$default")" ] \
    && [ "$head_branch" != "${default#origin/}" ]; then
    "${git[@]}" merge-base HEAD "$default"; return
  fi
  "${git[@]}" rev-parse -q --verify 'HEAD^{commit}' >/dev/null || { echo "HEAD has no parent" >&2; return 1; }
  "${git[@]}" rev-parse HEAD^
}

# Compares the committed document with base_ref's. A breaking change (a removed
# operation, field or enum value, a new required parameter, a narrower type …) fails
# unless info.version announces it (the major version, or the minor one while the major
# is 0: semver's rule for 0.x) AND openapi/BREAKING-CHANGES.md has a section for the new
# version saying what breaks (breaking_ack.py): a version bump alone does not switch the
# check off.
breaking() {
  node_tools
  local base old new ack=0
  if ! base="$(base_ref)" || [ -z "$base" ]; then
    echo "breaking changes: no base to compare with (no release tag, no merge base with the default branch, no parent)" >&2
    return 1
  fi
  say "breaking changes against $base ($(git -C "$ROOT" log -1 --format='%h %s' "$base" | cut -c1-70)) (Optic)"
  if ! git -C "$ROOT" cat-file -e "$base:openapi/openapi.json" 2>/dev/null; then
    echo "$base has no openapi/openapi.json to compare with" >&2
    return 1
  fi
  git -C "$ROOT" show "$base:openapi/openapi.json" > "$WORK/base.json"
  old="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["info"]["version"])' "$WORK/base.json")"
  new="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["info"]["version"])' "$DOC")"
  if optic_ diff openapi/openapi.json --base "$base" --check > "$WORK/optic.txt" 2>&1; then
    echo "version $old -> $new: no breaking change"
    grep -m1 "Checks" "$WORK/optic.txt" || true
    return 0
  fi
  # -m, not `| head`: head closing the pipe would kill grep and, with pipefail, the gate.
  grep -m 50 -E "x |✖|breaking" "$WORK/optic.txt" || true
  python3 "$GATES/breaking_ack.py" "$old" "$new" "$ROOT/openapi/BREAKING-CHANGES.md" || ack=$?
  case "$ack" in
    0) echo "version $old -> $new announces these breaking changes and BREAKING-CHANGES.md acknowledges them" ;;
    2) echo "breaking changes without a new version (full report: $WORK/optic.txt)" >&2; return 1 ;;
    *) echo "breaking changes in $new not acknowledged (full report: $WORK/optic.txt)" >&2; return 1 ;;
  esac
}

SERVICE_PID=""
stop_service() {
  if [ -n "$SERVICE_PID" ] && kill -0 "$SERVICE_PID" 2>/dev/null; then
    kill -TERM "$SERVICE_PID" 2>/dev/null || true
    wait "$SERVICE_PID" 2>/dev/null || true
  fi
  SERVICE_PID=""
}
trap stop_service EXIT

ogsms() { "$ROOT/target/debug/ogsms" --data-dir "$WORK/data" "$@"; }

start_service() {
  [ -n "$SERVICE_PID" ] && return 0
  if [ ! -x "$ROOT/target/debug/ogsms" ]; then
    (cd "$ROOT" && cargo build --bin ogsms)
  fi
  # A fresh database each run: the demo data, nothing left over from an earlier run.
  rm -rf "$WORK/data"
  export OGSMS_JWT_SECRET="contract-gates-secret-of-at-least-32-bytes"
  # Fuzzing sends thousands of requests a minute from one caller.
  export OGSMS_RATE_LIMIT_PER_MINUTE=1000000 OGSMS_RATE_LIMIT_BURST=100000
  # The access log (one JSON line a request) is how the gate sees every 5xx.
  export RUST_LOG="${RUST_LOG:-warn,ogsms::access=info}"
  "$ROOT/target/debug/ogsms" --data-dir "$WORK/data" serve --bind "127.0.0.1:$PORT" > "$WORK/service.log" 2>&1 &
  SERVICE_PID=$!
  for _ in $(seq 1 240); do
    if curl -fsS "$BASE_URL/readyz" >/dev/null 2>&1; then
      echo "service ready on $BASE_URL (log: $WORK/service.log)"
      return 0
    fi
    kill -0 "$SERVICE_PID" 2>/dev/null || { cat "$WORK/service.log"; return 1; }
    sleep 0.5
  done
  echo "the service did not become ready" >&2
  tail -50 "$WORK/service.log" >&2
  return 1
}

# Every role the service knows, with the office or department it belongs to.
ROLES=(
  "coordinator"
  "representative --office OGSMS-PE"
  "office_staff --office OGSMS-CO"
  "hq_department --department DECO"
  "auditor"
  "viewer"
)

# One role's run, its output in $WORK/schemathesis-<role>.log, the status of every
# answer in $WORK/statuses-<role>.txt and every schema-valid case Schemathesis counts as
# rejected (a 4xx other than 401, 403, 404, 409, 429) with its phase and the fields the
# problem names in $WORK/rejections-<role>.txt (schemathesis_hooks.py).
schemathesis_role() {
  local spec="$1" role="${1%% *}" token me
  # A fresh log, so that a role that stops early is never reported with an old one.
  : > "$WORK/schemathesis-$role.log"
  # shellcheck disable=SC2086
  if ! token="$(ogsms token --role $spec --sub "schemathesis-$role" --ttl 3600 2>>"$WORK/schemathesis-$role.log")"; then
    echo "could not make the $role token" >> "$WORK/schemathesis-$role.log"
    return 1
  fi
  # A token the service refuses would make every request a 401 and prove nothing.
  me="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$BASE_URL/v1/me")"
  if [ "$me" != 200 ]; then
    echo "GET /v1/me with the $role token answered $me, not 200: the run would not reach the code" \
      > "$WORK/schemathesis-$role.log"
    return 1
  fi
  : > "$WORK/statuses-$role.txt"
  # The role's configuration: the gate's, with the examples per operation (a budget of
  # its own for a read-only role's writes; Schemathesis merges every [[operations]]
  # block that matches an operation).
  {
    printf 'generation.max-examples = %s\n\n' "$EXAMPLES"
    cat "$GATES/schemathesis.toml"
    case "$role" in
      viewer | auditor)
        for method in POST PUT PATCH DELETE; do
          printf '\n[[operations]]\ninclude-method = "%s"\ngeneration.max-examples = %s\n' \
            "$method" "$READ_ONLY_WRITE_EXAMPLES"
        done
        ;;
    esac
  } > "$WORK/schemathesis-$role.toml"
  : > "$WORK/rejections-$role.txt"
  OGSMS_GATES_BASE_URL="$BASE_URL" OGSMS_GATES_TOKEN="$token" OGSMS_GATES_IDS="$WORK/ids.json" \
    OGSMS_GATES_DOC="$DOC" \
    OGSMS_GATES_STATUSES="$WORK/statuses-$role.txt" \
    OGSMS_GATES_REJECTIONS="$WORK/rejections-$role.txt" \
    OGSMS_GATES_CLIENT="$GATE_CLIENT" \
    PYTHONPATH="$GATES${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=schemathesis_hooks \
    "$GATES/.venv/bin/schemathesis" --config-file "$WORK/schemathesis-$role.toml" run "$DOC" \
    --url "$BASE_URL" \
    --header "Authorization: Bearer $token" \
    --checks all \
    --seed 20261128 \
    --workers 2 \
    --request-timeout 30 \
    --report junit --report-dir "$WORK/schemathesis-$role" \
    ${OGSMS_GATES_PATHS:+--include-path-regex "$OGSMS_GATES_PATHS"} \
    > "$WORK/schemathesis-$role.log" 2>&1
}

schemathesis_gate() {
  python_tools
  start_service
  say "Schemathesis fixtures: real ids for the operations on /{id} paths"
  OGSMS_GATES_ADMIN_TOKEN="$(ogsms token --role coordinator --sub schemathesis-fixtures --ttl 3600)" \
    python3 "$GATES/schemathesis_fixtures.py" "$BASE_URL" "$WORK/ids.json"
  rm -f "$WORK"/statuses-*.txt "$WORK"/rejections-*.txt
  # A service account whose credentials the hooks send in a third of the valid token
  # requests (a secret cannot be generated); a viewer, the least a token can do.
  GATE_CLIENT="$(ogsms service-account create --client-id schemathesis-gate --name "Schemathesis gate" --role viewer)"
  # Schemathesis is bound by one Python process's CPU: two roles at a time use both
  # cores of a CI machine.
  local jobs="${OGSMS_GATES_JOBS:-2}" failed=0 spec role
  local -a pids=() roles=()
  say "Schemathesis: $EXAMPLES examples per operation and phase ($READ_ONLY_WRITE_EXAMPLES for the writes of viewer and auditor), all checks, $jobs roles at a time"
  for spec in "${ROLES[@]}"; do
    role="${spec%% *}"
    if [ -n "${OGSMS_GATES_ROLES:-}" ] && [[ " $OGSMS_GATES_ROLES " != *" $role "* ]]; then
      continue
    fi
    while [ "$(jobs -rp | grep -v "^$SERVICE_PID\$" | wc -l)" -ge "$jobs" ]; do
      sleep 1
    done
    echo "  $role: started $(date -u +%H:%M:%S)"
    schemathesis_role "$spec" &
    pids+=($!)
    roles+=("$role")
  done
  for i in "${!pids[@]}"; do
    role="${roles[$i]}"
    local status=0
    wait "${pids[$i]}" || status=$?
    # Schemathesis' own crashes (e.g. CPython 3.11's "AST constructor recursion depth
    # mismatch" inside Hypothesis when two workers parse at once) are not findings
    # about the service: a run with errors but no failures gets one more try.
    if [ "$status" -ne 0 ] && ! grep -q '= FAILURES =' "$WORK/schemathesis-$role.log" \
      && grep -q 'Runtime Error' "$WORK/schemathesis-$role.log"; then
      echo "  $role: Schemathesis itself crashed (see below); running the role again"
      sed -n '/= ERRORS =/,/Traceback/p' "$WORK/schemathesis-$role.log" | head -8
      for spec in "${ROLES[@]}"; do
        [ "${spec%% *}" = "$role" ] && break
      done
      status=0
      schemathesis_role "$spec" || status=$?
    fi
    if [ "$status" -eq 0 ]; then
      echo "  $role: passed ($(grep -Eo '[0-9]+ generated' "$WORK/schemathesis-$role.log" | head -1) test cases; $(grep -Eo 'in [0-9.]+s =' "$WORK/schemathesis-$role.log" | tail -1 | tr -d '=')"
    else
      failed=1
      echo "  $role: FAILED; its report:"
      sed -n '/= \(FAILURES\|ERRORS\) =/,$p' "$WORK/schemathesis-$role.log" | head -400
    fi
  done
  say "Schemathesis reach: the cases per operation that got a 2xx (allowances in schemathesis-reach.toml)"
  python3 "$GATES/schemathesis_reach.py" "$DOC" "$GATES/schemathesis-reach.toml" "$WORK"/statuses-*.txt \
    | tee "$WORK/reach.txt" || failed=1
  if ! kill -0 "$SERVICE_PID" 2>/dev/null; then
    echo "the service died during fuzzing" >&2
    failed=1
  fi
  if grep -q '"status":5[0-9][0-9]' "$WORK/service.log"; then
    echo "the service answered 5xx during fuzzing:" >&2
    grep '"status":5[0-9][0-9]' "$WORK/service.log" | head -20 >&2
    failed=1
  fi
  return $failed
}

client_gate() {
  python_tools
  start_service
  say "openapi-python-client: generate a client, log in, page through projects, read a balance"
  rm -rf "$WORK/python_client"
  (cd "$WORK" && PATH="$GATES/.venv/bin:$PATH" "$GATES/.venv/bin/openapi-python-client" generate --path "$DOC" \
    --output-path "$WORK/python_client" --meta none --overwrite)
  local creds
  creds="$(ogsms service-account create --client-id contract-gate --name "Contract gate" --role coordinator)"
  CLIENT_CREDENTIALS="$creds" PYTHONPATH="$WORK" OGSMS_BASE_URL="$BASE_URL" \
    "$GATES/.venv/bin/python" "$GATES/client_check.py"
}

# The IATI file judged by IATI's own rules (iati/: the 2.03 schema, codelists and the
# standard ruleset): the checker's own tests first (planted violations are caught), then
# the demo data's GET /v1/exports/iati-activities.xml, 0 errors and 0 warnings.
iati_gate() {
  python_tools
  say "IATI checker tests (.ci/gates/iati/test_check.py)"
  "$GATES/.venv/bin/python" -m unittest discover -s "$GATES/iati"
  start_service
  say "IATI: the demo export against the 2.03 schema, codelists and standard ruleset"
  local token
  token="$(ogsms token --role coordinator --sub iati-gate --ttl 600)"
  curl -fsS -H "Authorization: Bearer $token" "$BASE_URL/v1/exports/iati-activities.xml" -o "$WORK/iati-activities.xml"
  "$GATES/.venv/bin/python" "$GATES/iati/check.py" "$WORK/iati-activities.xml"
}

case "${1:-all}" in
  lint) lint ;;
  types) types ;;
  breaking) breaking ;;
  schemathesis) schemathesis_gate ;;
  client) client_gate ;;
  iati) iati_gate ;;
  all)
    lint
    types
    breaking
    client_gate
    iati_gate
    schemathesis_gate
    ;;
  *) echo "usage: $0 [lint|types|breaking|schemathesis|client|iati|all]" >&2; exit 2 ;;
esac
