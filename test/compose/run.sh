#!/usr/bin/env bash
# CI step "compose": build the image from the repo's Dockerfile and bring up the repo's real
# docker-compose.yml under podman (no Docker engine on CI machines), then run test/compose/smoke.sh
# against it and tear everything down (containers, volumes, network; podman's image store is kept in
# $STATE so a rerun on the same machine reuses the base image and the build cache).
# Needs root on Debian 12 (apt installs podman, docker-compose v1 and debootstrap on first use).
# Takes about 4-5 minutes from scratch; see compose-cluster.sh for the knobs (STATE, BASE_TAR, UP_TIMEOUT).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PROJECT_DIR=${PROJECT_DIR:-$(cd "$here/../.." && pwd)}
export SMOKE=${SMOKE:-"bash $here/smoke.sh"}
exec bash "$here/compose-cluster.sh" all
