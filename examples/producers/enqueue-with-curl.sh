#!/usr/bin/env bash
# Start a plainloop run over HTTP and wait for it to end, with curl and standard shell tools only.
#
#   PLAINLOOP_API_URL=http://localhost:3000 PLAINLOOP_API_KEY=... \
#     bash enqueue-with-curl.sh research '{"topic": "stalled jobs"}'
#
# Progress goes to stderr; the finished run (GET /v1/runs/:id as JSON) goes to stdout. Exits 0 when the
# run succeeded, 1 when it ended otherwise, was refused, or did not end within PLAINLOOP_WAIT_SECONDS.
# PLAINLOOP_IDEMPOTENCY_KEY, when set, makes a retried call land on the same run.
set -euo pipefail

api_url=${PLAINLOOP_API_URL:-http://localhost:3000}
api_key=${PLAINLOOP_API_KEY:?set PLAINLOOP_API_KEY to an API key (see PLAINLOOP_API_KEYS)}
agent=${1:-research}
input=${2:-'{"topic": "stalled jobs"}'}
wait_seconds=${PLAINLOOP_WAIT_SECONDS:-300}

# The key goes in through a file descriptor, not an argument, so other users' `ps` never shows it.
call_api() {
  curl --silent --show-error --max-time 30 --write-out '\n%{http_code}' \
    --header @<(printf 'authorization: Bearer %s\n' "$api_key") "$@"
}

# Text as a JSON string. Escaping backslashes and quotes is enough for agent names and idempotency keys;
# text with control characters would need more.
json_string() {
  local text=${1//\\/\\\\}
  printf '"%s"' "${text//\"/\\\"}"
}

# The first "status" of a run is the run's own: the API writes runId, agent, tenantId and status before
# the output, which may hold keys of any name. Bash's =~ takes the leftmost match.
status_of() { [[ $1 =~ \"status\":\"([a-z_]+)\" ]] && echo "${BASH_REMATCH[1]}"; }

idempotency=''
if [[ -n ${PLAINLOOP_IDEMPOTENCY_KEY:-} ]]; then
  idempotency=",\"idempotencyKey\":$(json_string "$PLAINLOOP_IDEMPOTENCY_KEY")"
fi
response=$(call_api --request POST "$api_url/v1/runs" --header 'content-type: application/json' \
  --data-binary "{\"agent\":$(json_string "$agent"),\"input\":${input}${idempotency}}")
code=${response##*$'\n'}
body=${response%$'\n'*}
if [[ $code != 200 && $code != 202 ]]; then
  echo "POST /v1/runs answered $code: $body" >&2
  exit 1
fi
[[ $body =~ \"runId\":\"([A-Za-z0-9_-]+)\" ]] || { echo "no run id in the answer: $body" >&2; exit 1; }
run_id=${BASH_REMATCH[1]}
echo "run $run_id queued" >&2

deadline=$((SECONDS + wait_seconds))
last_status=''
while true; do
  response=$(call_api "$api_url/v1/runs/$run_id")
  code=${response##*$'\n'}
  body=${response%$'\n'*}
  if [[ $code != 200 ]]; then
    echo "GET /v1/runs/$run_id answered $code: $body" >&2
    exit 1
  fi
  status=$(status_of "$body" || echo unknown)
  if [[ $status != "$last_status" ]]; then
    echo "run $run_id $status" >&2
    last_status=$status
  fi
  case $status in
    succeeded)
      echo "$body"
      exit 0
      ;;
    failed | cancelled | budget_exceeded | max_iterations)
      echo "$body"
      exit 1
      ;;
  esac
  if ((SECONDS >= deadline)); then
    echo "run $run_id is still $status after ${wait_seconds}s" >&2
    exit 1
  fi
  sleep 1
done
