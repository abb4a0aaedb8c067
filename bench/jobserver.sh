#!/usr/bin/env bash
# Times the Beam engine through a standalone Prism job server with `sparkify worker-pool`
# (workers in processes of their own), against in-process Prism and the local engine, on the
# built-in sample and on a generated dataset; peak RSS of every process.
#
#   bench/jobserver.sh [SONGS LOGS]    # default: the built-in sample only
#
# Needs prism (go install github.com/apache/beam/sdks/v2/go/cmd/prism@v2.77.0) and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
go build -tags beam -o "$work/sparkify" ./cmd/sparkify
bin="$work/sparkify"
prism="${SPARKIFY_PRISM:-$(go env GOPATH)/bin/prism}"
inputs=()
if [ $# -ge 2 ]; then inputs=(--songs "$1" --logs "$2"); fi

# measure NAME CMD...: wall seconds and peak RSS (MiB) of CMD
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" --quiet >/dev/null
  read -r secs kib < "$work/time"
  printf '%-34s %8.2f s  %6d MiB\n' "$name" "$secs" $((kib / 1024))
}
hwm() { awk '/VmHWM/ {print int($2/1024)}' "/proc/$1/status"; }

echo "input: ${inputs[*]:-the built-in sample}"
measure "local engine" "$bin" etl "${inputs[@]}" --output "$work/local"
measure "beam, in-process prism" "$bin" etl --engine beam "${inputs[@]}" --output "$work/inproc"

"$prism" --job_port 18473 --serve_http=false >"$work/prism.log" 2>&1 &
prism_pid=$!
"$bin" worker-pool --listen 127.0.0.1:18474 >"$work/pool.log" 2>&1 &
pool_pid=$!
sleep 2
measure "beam, job server (launcher)" "$bin" etl --engine beam --runner universal --endpoint localhost:18473 \
  --beam-opt environment_type=EXTERNAL --beam-opt environment_config=127.0.0.1:18474 "${inputs[@]}" --output "$work/js"
sleep 1
worker_kib=$(grep -o 'msg="worker exited".*max_rss_kib=[0-9]*' "$work/pool.log" | tail -1 | sed 's/.*max_rss_kib=//')
printf '%-34s %19d MiB\n' "  worker process (peak)" $((worker_kib / 1024))
printf '%-34s %19d MiB\n' "  prism job server (peak)" "$(hwm $prism_pid)"
printf '%-34s %19d MiB\n' "  sparkify worker-pool (peak)" "$(hwm $pool_pid)"
for o in inproc js; do
  if ! diff -rq -x _manifest.json -x _views.sql -x '_lock*' "$work/local" "$work/$o" >/dev/null; then
    echo "DIFFERENT: $o's tables differ from the local engine's"; exit 1
  fi
done
echo "tables: identical across the three"
