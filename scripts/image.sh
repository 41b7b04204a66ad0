#!/usr/bin/env bash
# Build, run and test the container images with whichever of docker or podman is here.
#
#   bash scripts/image.sh build [runtime|full]   # default runtime; prints build time and size
#   bash scripts/image.sh run [runtime|full] [ARGS...]   # serve on :8000 (ASEAN_MT_IMAGE_PORT), volumes for /models, /data
#   bash scripts/image.sh test                   # build both, then check them end to end (minutes)
#   bash scripts/image.sh base                   # build the base image without a registry (debootstrap)
#   bash scripts/image.sh stack-images           # Redis/PostgreSQL stand-ins from Debian (deploy/local-images)
#   bash scripts/image.sh compose-test           # compose.yaml's stack end to end (podman-compose/docker compose)
#
# Where no registry answers, the Dockerfile's base image is built here: `debootstrap --variant=minbase
# bookworm` from this machine's own Debian mirror, imported, with Debian's python3 on top, and tagged with the
# Dockerfile's BASE_IMAGE name (needs root and debootstrap). pip's configuration and CA bundle are read from
# this machine at build time (pip config list, PIP_* variables) and handed in as build secrets; local folders
# they name (find-links, file:// indexes) are mounted read-only into podman's build.
#
# Podman in a sandbox that refuses crun's defaults: with runc present, a private containers.conf (runtime
# runc, explicit ulimits) is written and used through CONTAINERS_CONF, when the default configuration cannot
# run a container (or always with ASEAN_MT_PODMAN_RUNC=1; never with =0).
#
# Settings (environment): ASEAN_MT_IMAGE_ENGINE (docker|podman), ASEAN_MT_IMAGE (name, default
# localhost/asean-mt), ASEAN_MT_IMAGE_CACHE (work folder outside the repo, default /var/tmp/asean-mt-image),
# ASEAN_MT_IMAGE_BASE (auto|pull|debootstrap), ASEAN_MT_IMAGE_PORT (run: host port, default 8000),
# ASEAN_MT_IMAGE_REPORT (test: also write the checks and figures to this markdown file), ASEAN_MT_IMAGE_COLD=1
# (test: build the runtime image without the layer cache), ASEAN_MT_IMAGE_COMPOSE=1 (test: the stack too).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${ASEAN_MT_IMAGE_CACHE:-/var/tmp/asean-mt-image}
IMAGE=${ASEAN_MT_IMAGE:-localhost/asean-mt}
BASE_IMAGE=$(sed -n 's/^ARG BASE_IMAGE=//p' Dockerfile)
BASE_MODE=${ASEAN_MT_IMAGE_BASE:-auto}
ENGINE=${ASEAN_MT_IMAGE_ENGINE:-}
mkdir -p "$CACHE"

log() { printf 'image: %s\n' "$*" >&2; }
die() { printf 'image: %s\n' "$*" >&2; exit 1; }

# -- the container engine ----------------------------------------------------------------------------------
pick_engine() {
  if [ -z "$ENGINE" ]; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then ENGINE=docker
    elif command -v podman >/dev/null 2>&1; then ENGINE=podman
    else die "neither docker nor podman is installed (Debian: apt-get install podman runc)"; fi
  fi
  command -v "$ENGINE" >/dev/null 2>&1 || die "$ENGINE is not installed"
  [ "$ENGINE" = docker ] && export DOCKER_BUILDKIT=1  # build secrets need BuildKit
  log "container engine: $ENGINE"
}

# podman with runc and explicit ulimits, for sandboxes that refuse crun's defaults (see the top of this file)
write_runc_conf() {
  cat > "$CACHE/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
EOF
  export CONTAINERS_CONF=$CACHE/containers.conf
  log "podman: using runc and explicit ulimits ($CONTAINERS_CONF)"
}

podman_setup() {
  [ "$ENGINE" = podman ] || return 0
  [ -n "${CONTAINERS_CONF:-}" ] && return 0
  case "${ASEAN_MT_PODMAN_RUNC:-auto}" in
    1) write_runc_conf; return 0 ;;
    0) return 0 ;;
  esac
  # auto: can the default configuration run a container from the base image? If not and runc is here, use it.
  # Probed with the base image, or with the Debian image it is built from (probed again once one exists).
  local probe=$BASE_IMAGE
  podman image exists "$probe" || probe=localhost/debian:bookworm-minbase
  podman image exists "$probe" || return 0
  if ! podman run --rm --network none "$probe" true >/dev/null 2>&1; then
    command -v runc >/dev/null 2>&1 || die "podman cannot run a container here; try: apt-get install runc"
    write_runc_conf
    podman run --rm --network none "$probe" true >/dev/null || die "podman cannot run a container even with runc"
  fi
}

image_exists() {
  if [ "$ENGINE" = podman ]; then podman image exists "$1"; else docker image inspect "$1" >/dev/null 2>&1; fi
}

image_size() {  # bytes
  "$ENGINE" image inspect --format '{{.Size}}' "$1"
}

mb() { echo $(( $1 / 1000000 )); }

# -- the base image ----------------------------------------------------------------------------------------
# This machine's Debian mirror: the first `URIs:` (deb822) or `deb URI bookworm` line of its apt sources.
apt_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2; exit}')
  [ -n "$uri" ] || uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
                         | awk '$1 == "deb" && $3 ~ /^bookworm/ {print $2; exit}')
  [ -n "$uri" ] || die "no Debian mirror found in /etc/apt; set DEBIAN_MIRROR"
  echo "$uri"
}

build_base() {
  [ "$(id -u)" = 0 ] || die "building the base image needs root (debootstrap)"
  command -v debootstrap >/dev/null 2>&1 || die "apt-get install debootstrap"
  local rootfs=$CACHE/rootfs-bookworm mirror start=$SECONDS
  mirror=$(apt_mirror)
  log "base: debootstrap --variant=minbase bookworm (this machine's mirror) into $rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
  # apt inside the image uses this machine's sources and its Acquire settings (mirror snapshots, proxies);
  # like Debian's slim images, no documentation, man pages or apt caches.
  if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    cp /etc/apt/sources.list.d/*.sources "$rootfs/etc/apt/sources.list.d/" && : > "$rootfs/etc/apt/sources.list"
  fi
  grep -l '^Acquire::' /etc/apt/apt.conf.d/* 2>/dev/null | while read -r f; do cp "$f" "$rootfs/etc/apt/apt.conf.d/"; done
  cat > "$rootfs/etc/apt/apt.conf.d/90slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
  cat > "$rootfs/etc/dpkg/dpkg.cfg.d/90slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  find "$rootfs"/usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs"/usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/man/* \
         "$rootfs"/usr/share/info/* "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/log/*.log
  log "base: importing as localhost/debian:bookworm-minbase"
  tar -C "$rootfs" -c . | "$ENGINE" import - localhost/debian:bookworm-minbase >/dev/null
  rm -rf "$rootfs"
  podman_setup
  log "base: Debian's python3 on top, tagged $BASE_IMAGE"
  mkdir -p "$CACHE/base-context"
  # shellcheck disable=SC2016
  printf '%s\n' 'FROM localhost/debian:bookworm-minbase' \
    'RUN apt-get update && apt-get install -y python3 python3-venv ca-certificates \' \
    '    && ln -s python3 /usr/bin/python && rm -rf /var/lib/apt/lists/*' \
    'ENV LANG=C.UTF-8' 'CMD ["python3"]' > "$CACHE/base-context/Containerfile"
  "$ENGINE" build ${BUILD_FLAGS[@]+"${BUILD_FLAGS[@]}"} -t "$BASE_IMAGE" -f "$CACHE/base-context/Containerfile" \
    "$CACHE/base-context" >&2
  log "base: $BASE_IMAGE built in $((SECONDS - start)) s, $(mb "$(image_size "$BASE_IMAGE")") MB"
}

ensure_base() {
  if [ "$BASE_MODE" != debootstrap ] && image_exists "$BASE_IMAGE"; then return; fi
  if [ "$BASE_MODE" != debootstrap ]; then
    log "base: pulling $BASE_IMAGE"
    if timeout 120 "$ENGINE" pull -q "$BASE_IMAGE" >/dev/null 2>&1; then return; fi
    [ "$BASE_MODE" = pull ] && die "cannot pull $BASE_IMAGE"
    log "base: no registry answers; building it here"
  fi
  build_base
}

# The stack's Redis and PostgreSQL where no registry answers: Debian's packages on the debootstrap base.
stack_images() {
  local name file
  for pair in "redis:7-bookworm redis" "postgres:15-bookworm postgres"; do
    set -- $pair; name=$1; file=$2
    image_exists "$name" && continue
    if [ "$BASE_MODE" != debootstrap ] && timeout 120 "$ENGINE" pull -q "$name" >/dev/null 2>&1; then continue; fi
    image_exists localhost/debian:bookworm-minbase || { BASE_MODE=debootstrap; ensure_base; }
    log "building $name from Debian's packages (deploy/local-images/$file.Containerfile)"
    "$ENGINE" build ${BUILD_FLAGS[@]+"${BUILD_FLAGS[@]}"} -t "$name" -f "deploy/local-images/$file.Containerfile" \
      deploy/local-images >&2
  done
}

compose_cmd() {
  if [ "$ENGINE" = docker ] && docker compose version >/dev/null 2>&1; then echo "docker compose"
  elif command -v podman-compose >/dev/null 2>&1; then echo podman-compose
  elif [ -x "$CACHE/tools/bin/podman-compose" ]; then echo "$CACHE/tools/bin/podman-compose"
  else
    log "installing podman-compose into $CACHE/tools (pip)"
    python3 -m venv "$CACHE/tools" && "$CACHE/tools/bin/pip" install -q podman-compose >&2 \
      && echo "$CACHE/tools/bin/podman-compose"
  fi
}

# -- pip's configuration, from this machine --------------------------------------------------------------
# Writes $CACHE/pip/pip.conf (and points `cert` at the pipca secret) and sets PIP_SECRETS / PIP_MOUNTS.
PIP_SECRETS=()
PIP_MOUNTS=()
pip_config() {
  local dir=$CACHE/pip kind value
  mkdir -p "$dir" && chmod 700 "$dir"
  : > "$dir/pip.conf" && chmod 600 "$dir/pip.conf"
  local py=python3
  [ -x "$ROOT/.venv/bin/python" ] && py=$ROOT/.venv/bin/python
  command -v "$py" >/dev/null 2>&1 || { log "pip: no python3 here; building with pip's defaults"; return; }
  while IFS=$'\t' read -r kind value; do
    case "$kind" in
      ca) cp "$value" "$dir/ca.pem" && chmod 600 "$dir/ca.pem" ;;
      mount) PIP_MOUNTS+=("$value") ;;
      note) log "pip: $value" ;;
    esac
  done < <("$py" - "$dir/pip.conf" "$ENGINE" <<'EOF'
import os, re, subprocess, sys
from urllib.parse import urlparse

conf_path, engine = sys.argv[1], sys.argv[2]
KEYS = ("index-url", "extra-index-url", "find-links", "trusted-host", "proxy", "timeout", "default-timeout",
        "retries", "no-index", "cert", "constraint")
values = {}
try:
    listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                             timeout=60).stdout
except (OSError, subprocess.SubprocessError):
    listing = ""
# pip lists its files, then the PIP_* variables (":env:"); later entries win, as in pip itself.
ranked = []
for line in listing.splitlines():
    m = re.match(r"^(:env:|[\w-]+)\.([\w-]+)='(.*)'$", line)
    if m and m.group(2) in KEYS:
        ranked.append((1 if m.group(1) == ":env:" else 0, m.group(2), m.group(3)))
for name in KEYS:  # no pip on this python: the variables alone
    env = os.environ.get("PIP_" + name.upper().replace("-", "_"))
    if env and not listing:
        ranked.append((1, name, env))
for _, key, value in sorted(ranked, key=lambda r: r[0]):
    values[key] = value
if "timeout" in values:
    values.setdefault("default-timeout", values.pop("timeout"))
ca = values.pop("cert", None) or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
lines = ["[global]"]
mounts = set()
def local(item: str) -> str | None:
    if item.startswith("file://"):
        return urlparse(item).path
    return item if item.startswith("/") else None
for key, value in values.items():
    kept = []
    for item in value.split():
        path = local(item)
        if path is None:
            kept.append(item)
        elif not os.path.exists(path):
            print(f"note\tskipping {key} {path} (not on this machine)")
        elif engine == "podman":
            folder = path.rstrip("/") if os.path.isdir(path) else os.path.dirname(path)
            if key.endswith("index-url") and os.path.basename(folder) == "simple":
                folder = os.path.dirname(folder)  # a local index links to ../../files/ beside simple/
            mounts.add(folder)
            kept.append(item)
        else:
            print(f"note\tskipping {key} {path}: a docker build cannot mount local folders")
    if kept:
        lines.append(f"{key} = {' '.join(kept)}")
if ca and os.path.isfile(ca):
    lines.append("cert = /run/secrets/pipca")
    print(f"ca\t{ca}")
for path in sorted(mounts):
    print(f"mount\t{path}")
with open(conf_path, "w") as f:
    f.write("\n".join(lines) + "\n")
print(f"note\thanding in {len(lines) - 1} pip setting(s), {'a' if ca else 'no'} CA bundle, {len(mounts)} local folder(s)")
EOF
  )
  PIP_SECRETS=(--secret "id=pipconf,src=$dir/pip.conf")
  [ -f "$dir/ca.pem" ] && PIP_SECRETS+=(--secret "id=pipca,src=$dir/ca.pem")
  return 0
}

# -- build ---------------------------------------------------------------------------------------------------
BUILD_FLAGS=()
setup() {
  pick_engine
  podman_setup
  # podman/buildah write OCI images by default, which have no HEALTHCHECK: keep Docker's format.
  [ "$ENGINE" = podman ] && BUILD_FLAGS+=(--format docker)
  return 0
}

build() {  # build TARGET
  local target=$1 start=$SECONDS flags=()
  ensure_base
  pip_config
  flags=(--target "$target" -t "$IMAGE:$target" ${BUILD_FLAGS[@]+"${BUILD_FLAGS[@]}"} "${PIP_SECRETS[@]}")
  [ "${NO_CACHE:-0}" = 1 ] && flags+=(--no-cache)
  local m
  for m in ${PIP_MOUNTS[@]+"${PIP_MOUNTS[@]}"}; do flags+=(-v "$m:$m:ro"); done
  log "building $IMAGE:$target"
  "$ENGINE" build "${flags[@]}" . >&2
  BUILD_SECONDS=$((SECONDS - start))
  IMAGE_BYTES=$(image_size "$IMAGE:$target")
  log "built $IMAGE:$target in ${BUILD_SECONDS} s: $(mb "$IMAGE_BYTES") MB"
}

run() {  # run TARGET [ARGS...]
  local target=$1; shift
  image_exists "$IMAGE:$target" || build "$target"
  exec "$ENGINE" run --rm -it -p "${ASEAN_MT_IMAGE_PORT:-8000}:8000" -v asean-mt-models:/models \
    -v asean-mt-data:/data "$IMAGE:$target" "$@"
}

case "${1:-}" in
  build) setup; build "${2:-runtime}" ;;
  run) setup; shift; target=runtime
       if [ $# -gt 0 ] && [[ "$1" =~ ^(runtime|full)$ ]]; then target=$1; shift; fi
       run "$target" "$@" ;;
  base) setup; BASE_MODE=debootstrap; ensure_base ;;
  stack-images) setup; stack_images ;;
  compose-test) setup; image_exists "$IMAGE:runtime" || build runtime; stack_images
        exec python3 scripts/image_checks.py --engine "$ENGINE" --image "$IMAGE" --compose-only \
          --compose "$(compose_cmd)" ${ASEAN_MT_IMAGE_REPORT:+--report "$ASEAN_MT_IMAGE_REPORT"} ;;
  test) setup; shift
        # ASEAN_MT_IMAGE_COLD=1: the runtime image from scratch (no layer cache), for the build-time figure
        NO_CACHE=${ASEAN_MT_IMAGE_COLD:-0} build runtime; RUNTIME_SECONDS=$BUILD_SECONDS; RUNTIME_BYTES=$IMAGE_BYTES
        build full; FULL_SECONDS=$BUILD_SECONDS; FULL_BYTES=$IMAGE_BYTES
        compose=""
        if [ "${ASEAN_MT_IMAGE_COMPOSE:-0}" = 1 ]; then stack_images; compose=$(compose_cmd); fi
        exec python3 scripts/image_checks.py --engine "$ENGINE" --image "$IMAGE" \
          --built "runtime=$RUNTIME_SECONDS:$RUNTIME_BYTES" --built "full=$FULL_SECONDS:$FULL_BYTES" \
          ${compose:+--compose "$compose"} ${ASEAN_MT_IMAGE_REPORT:+--report "$ASEAN_MT_IMAGE_REPORT"} "$@" ;;
  *) sed -n '2,7p' "$0" >&2; exit 2 ;;
esac
