#!/usr/bin/env bash
# Runs every check WBS has: the one command behind README's "run the tests"
# and behind .ci/run. Installs what it needs first (Debian packages, npm
# packages from the lock file), so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

need_apt=()
command -v age >/dev/null || need_apt+=(age)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v node >/dev/null || need_apt+=(nodejs npm)
# The workbench (crates/wbs-workbench, egui) needs nothing more: its window
# system libraries are loaded at run time, and its tests (screenshots
# included) run headless on the CPU, with no display and no GPU driver.
# The digest test's SMTP server (tests/tests/digest.rs) and its certificates.
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need_apt+=(python3-aiosmtpd)
command -v openssl >/dev/null || need_apt+=(openssl)
# The attachment-cleaning tests (crates/wbs-scrub, tests/tests/attachment_cleaning.rs)
# write and judge metadata with a tool nobody here wrote.
command -v exiftool >/dev/null || need_apt+=(libimage-exiftool-perl)
# The PostgreSQL backend: its store suite and the end-to-end tests on it
# (tests/tests/pg_*.rs) start a throw-away cluster of their own with initdb
# from /usr/lib/postgresql/*/bin, in a temporary folder, as an unprivileged
# user (wbs_store::testing); they fail, never skip, without it. Set
# WBS_TEST_DATABASE_URL to use an existing server instead.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  step "installing Debian packages: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

step "formatting"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

if [ -f web/package.json ]; then
  step "browser client: install from the lock file, unit tests, reproducible build"
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
  (cd web && npm test)
  before=$(cd crates/wbs-server/assets && sha256sum -- * | sort)
  (cd web && npm run --silent build)
  after=$(cd crates/wbs-server/assets && sha256sum -- * | sort)
  if [ "$before" != "$after" ]; then
    echo "The committed browser bundle differs from a fresh build of web/ (run 'cd web && npm ci && npm run build' and commit):"
    diff <(echo "$before") <(echo "$after") || true
    exit 1
  fi
fi

step "tests"
# The end-to-end tests run these binaries: build them fresh first.
cargo build --locked --bins -p wbs-server -p wbs-client -p wbs-inspect
cargo test --workspace --locked

step "browser tests: the pages against the real server, desk and air-gap tools"
(cd web && npm run test:browser)
bash scripts/fuzz.sh 15  # fuzz targets, 15 s each; any crash or failed cargo-fuzz install fails the run
bash scripts/bench.sh --smoke --no-write  # the benchmark suite at tiny sizes: proves it still runs (docs/BENCHMARKS.md)
