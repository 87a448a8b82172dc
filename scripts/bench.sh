#!/usr/bin/env bash
# The benchmark suite behind docs/BENCHMARKS.md. Installs what it needs
# (Debian packages `age` and `time`, matplotlib in a venv under target/),
# builds the release binaries, runs wbs-protocol's criterion benches and the
# load generator (bench/, `wbs-bench`) against a real wbs-server on
# 127.0.0.1, then writes docs/BENCHMARKS.md and docs/benchmarks.png.
#
#   bash scripts/bench.sh              the measured suite (about 10 minutes;
#                                      run it on an otherwise idle machine)
#   bash scripts/bench.sh --smoke      tiny sizes (1 MiB attachment, 50 cases,
#                                      1 s load runs): proves the suite works;
#                                      never touches docs/
#   bash scripts/bench.sh --no-write   measure, but leave docs/ alone
#
# Without --no-write, a full run's results go to docs/; otherwise to
# target/bench/ (full) or target/bench-smoke/ (smoke).
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
write=1
for arg in "$@"; do
  case "$arg" in
    --smoke) smoke=1 ;;
    --no-write) write=0 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done
# Smoke figures measure nothing worth keeping: they never replace the real ones.
[ "$smoke" = 1 ] && write=0

step() { printf '\n==> %s\n' "$*"; }
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
apt_install() {
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

need_apt=()
command -v age >/dev/null || need_apt+=(age)
[ -x /usr/bin/time ] || need_apt+=(time)
if [ ${#need_apt[@]} -gt 0 ]; then
  step "installing Debian packages: ${need_apt[*]}"
  apt_install "${need_apt[@]}"
fi

if [ "$smoke" = 1 ]; then out=target/bench-smoke; else out=target/bench; fi
mkdir -p "$out"
if [ "$write" = 1 ]; then
  markdown=docs/BENCHMARKS.md
  chart=docs/benchmarks.png
else
  markdown="$out/BENCHMARKS.md"
  chart="$out/benchmarks.png"
fi

step "matplotlib for the chart (a venv in target/bench-venv)"
venv=target/bench-venv
if ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    apt_install python3-venv
    /usr/bin/python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'matplotlib>=3.8,<4'
fi

step "building the release binaries"
cargo build --release --locked -p wbs-server -p wbs-inspect -p wbs-bench
if [ "$smoke" = 0 ]; then
  # The workbench's import, headless, for its peak RSS. Full runs only: its
  # release build (the GUI toolkit) would add minutes to every CI run.
  cargo build --release --locked -p wbs-workbench --example import_bench
fi

step "criterion benches of wbs-protocol"
if [ "$smoke" = 1 ]; then
  # Each benchmark once, nothing measured: proves they still run.
  cargo bench --locked -p wbs-protocol -- --test
  criterion_dir="$out/no-criterion"
else
  rm -rf target/criterion
  cargo bench --locked -p wbs-protocol
  criterion_dir=target/criterion
fi

load=$(cut -d' ' -f1 /proc/loadavg)
if [ "$smoke" = 0 ] && awk -v l="$load" 'BEGIN { exit !(l > 1.5) }'; then
  echo "bench.sh: warning: the 1-minute load average is $load; figures will be low (the report records it)" >&2
fi

step "load generator: wbs-server, wbs-inspect and baselines on 127.0.0.1"
smoke_flag=()
[ "$smoke" = 1 ] && smoke_flag=(--smoke)
target/release/wbs-bench "${smoke_flag[@]}" \
  --bin-dir target/release \
  --work target/bench-work \
  --criterion "$criterion_dir" \
  --results "$out/results.json" \
  --markdown "$markdown"

step "PostgreSQL beside sled: the traffic and large scenarios again with the store in PostgreSQL, and two instances on one database"
# A throw-away cluster in a temporary folder, on a Unix socket only, with
# PostgreSQL's durable defaults (fsync, synchronous_commit on), run as
# nobody when this runs as root; one fresh database per scenario.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$pg_bin" ]; then
  apt_install postgresql
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
pg_dir=$(mktemp -d /tmp/wbs-bench-pg.XXXXXX)
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown nobody: "$pg_dir"
  chmod 755 "$pg_dir"
  as_pg=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
"${as_pg[@]}" "$pg_bin/initdb" --auth=trust --username=wbs --encoding=UTF8 -D "$pg_dir/data" >/dev/null
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
  -o "-k $pg_dir -c listen_addresses='' -c max_connections=200" start >/dev/null
stop_pg() { "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast stop >/dev/null || true; rm -rf "$pg_dir"; }
trap stop_pg EXIT
for scenario in traffic large instances; do
  "$pg_bin/createdb" -h "$pg_dir" -U wbs "bench_$scenario"
  target/release/wbs-bench "${smoke_flag[@]}" \
    --only "$scenario" \
    --database "host=$pg_dir user=wbs dbname=bench_$scenario" \
    --bin-dir target/release \
    --work target/bench-work-pg \
    --criterion "$criterion_dir" \
    --results "$out/postgresql-$scenario.json" \
    --markdown "$out/postgresql-$scenario.md"
done
stop_pg
trap - EXIT

step "chart"
"$venv/bin/python" scripts/bench_chart.py "$out/results.json" "$chart"

step "done"
echo "results: $out/results.json"
echo "report:  $markdown"
echo "chart:   $chart"
