#!/usr/bin/env bash
# Builds the image of every Provisio service from deploy/docker/Dockerfile and, with --push,
# pushes them: the images the Kubernetes overlays name in their `images:` list.
#   deploy/docker/build-images.sh [--registry REGISTRY] [--tag TAG] [--push] [service...]
#   npm run images -- --registry registry.example.com/provisio --tag 0.2.0 --push
# Defaults: registry `provisio`, tag `dev` (what the development overlay and docker compose use;
# load them into a kind cluster with `kind load docker-image provisio/<service>:dev`).
# Needs a Docker engine (or a compatible CLI: DOCKER=podman). Nothing else is built: the
# dev-tools stage serves docker compose only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DOCKER="${DOCKER:-docker}"
registry=provisio
tag=dev
push=false
services=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --registry) registry="${2:?--registry needs a value}"; shift 2 ;;
    --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
    --push) push=true; shift ;;
    -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "build-images: unknown option $1" >&2; exit 2 ;;
    *) services+=("$1"); shift ;;
  esac
done
# Every service: a folder under services/ with a src/main.ts.
all=()
for d in "$ROOT"/services/*/; do
  [[ -f "$d/src/main.ts" ]] && all+=("$(basename "$d")")
done
if [[ ${#services[@]} -eq 0 ]]; then services=("${all[@]}"); fi
for s in "${services[@]}"; do
  [[ " ${all[*]} " == *" $s "* ]] || { echo "build-images: unknown service '$s' (${all[*]})" >&2; exit 2; }
done
command -v "$DOCKER" >/dev/null || { echo "build-images: '$DOCKER' not found: this needs a Docker engine (or DOCKER=podman)" >&2; exit 2; }

for s in "${services[@]}"; do
  image="$registry/$s:$tag"
  echo "[build-images] $image" >&2
  "$DOCKER" build -f "$ROOT/deploy/docker/Dockerfile" --build-arg "SERVICE=$s" -t "$image" "$ROOT"
  if $push; then "$DOCKER" push "$image"; fi
done
