#!/usr/bin/env bash
# Builds the Dockerfile unchanged and starts the image it makes, on a machine
# that reaches package registries but no image registry and cannot start
# containers (the runtime is refused setrlimit):
#
#   1. apt installs buildah and mmdebstrap (and curl, python3 when missing);
#   2. the base images the Dockerfile names are made locally:
#      debian:bookworm-slim from `mmdebstrap --variant=minbase bookworm`, and
#      rust:<version>-slim-bookworm as that base plus gcc, libc6-dev,
#      ca-certificates and this machine's Rust toolchain (`rustc --print
#      sysroot`), with PATH, CARGO_HOME and RUSTUP_HOME set as the official
#      image sets them, and the machine's CA bundle ($SSL_CERT_FILE, when
#      set) as its /etc/ssl/certs/ca-certificates.crt, so cargo in the build
#      stage reaches the registry as the host does;
#   3. `buildah bud --isolation chroot` builds the Dockerfile unchanged. (The
#      bundle is not bind-mounted with `bud -v`: such a mount applies to every
#      RUN of every stage, and in the runtime stage the ca-certificates
#      package then fails to rename its new bundle over the mount point,
#      EBUSY. The runtime stage's apt needs no CA: Debian's mirrors are http.)
#   4. the image's filesystem is started the way the image says: `buildah
#      from` + `buildah mount`, then `chroot --userspec=<USER>` of its
#      Entrypoint (+ Cmd) with its Env, as read from `buildah inspect`, on a
#      free loopback port, with a provider whose secret comes from a file;
#   5. checks: /health is 200; every /demo and /dev path is 404; the server
#      runs as uid 10001; SIGTERM ends it with status 0 within the drain bound
#      (SHUTDOWN_TIMEOUT_SECONDS, default 10 s, plus 3 s slack) after it
#      logged "OAuth2 token cache cleared"; every log line is JSON; the
#      client secret is nowhere in the log. The image size is printed.
#
#   bash scripts/image-check.sh
#
# Settings (environment):
#   IMAGE_CHECK_REBUILD_BASES=1   remake both base images even if present
#                                 (by default they are reused while the
#                                 toolchain and the Debian base are the same)
#   IMAGE_CHECK_DEMO_API_URL      DEMO_API_URL given to the server [default
#                                 https://api.example.com/v1, as a production
#                                 deployment may set it]; set it empty to
#                                 leave DEMO_API_URL unset
#
# Runs as root (apt, buildah's vfs storage, chroot). Images stay in buildah's
# storage (localhost/axum-oauth2-client:image-check and the two bases); the
# working container, its mount and the server are removed on every exit.
# All traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=localhost/axum-oauth2-client:image-check
DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
BASE_CTR=image-check-rust-base
IMPORT_CTR=image-check-debian-base
RUN_CTR=image-check-run
EXPECTED_UID=10001
SLACK_SECONDS=3
DEMO_API_URL_VALUE=${IMAGE_CHECK_DEMO_API_URL-https://api.example.com/v1}

START=$(date +%s)
STEP=setup
step() {
  STEP=$*
  printf '\n=== image-check: %s (at %ss) ===\n' "$*" "$(($(date +%s) - START))"
}

# buildah with the storage driver that works everywhere as root.
B() { buildah --storage-driver vfs "$@"; }

WORK=$(mktemp -d /tmp/image-check.XXXXXX)
LOG=$WORK/server.log
SERVER_PID=
CONTAINERS=()

cleanup() {
  local rc=$?
  set +e
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  for ctr in "${CONTAINERS[@]}"; do
    B umount "$ctr" >/dev/null 2>&1
    B rm "$ctr" >/dev/null 2>&1
  done
  if [ "$rc" -ne 0 ]; then
    printf '\nimage-check: FAILED during step "%s" (exit %s, after %ss)\n' \
      "$STEP" "$rc" "$(($(date +%s) - START))" >&2
    if [ -s "$LOG" ]; then
      echo "last server log lines:" >&2
      tail -n 30 "$LOG" >&2
    fi
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A container of ours left by an interrupted run (same fixed names).
forget_container() {
  B umount "$1" >/dev/null 2>&1 || true
  B rm "$1" >/dev/null 2>&1 || true
}

image_id() { B images --noheading --no-trunc --format '{{.ID}}' "$1" 2>/dev/null | head -n 1 || true; }
image_label() {
  B inspect --type image --format "{{index .OCIv1.Config.Labels \"$2\"}}" "$1" 2>/dev/null || true
}
# After `commit`/`bud` moved a name to a new image, drop the one it left.
drop_replaced() {
  local old=$1 new=$2
  if [ -n "$old" ] && [ "$old" != "$new" ]; then
    B rmi "$old" >/dev/null 2>&1 || true
  fi
}

# ---------------------------------------------------------------------------
step "tools"
[ "$(id -u)" -eq 0 ] || { echo "run as root (apt, buildah storage, chroot)" >&2; exit 1; }
need=()
command -v buildah >/dev/null 2>&1 || need+=(buildah)
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
buildah --version
mmdebstrap --version
rustc --version
CHROOT=$(command -v chroot)

# The two images the Dockerfile's FROM lines name; nothing else can be had.
mapfile -t FROMS < <(awk 'toupper($1) == "FROM" { print $2 }' Dockerfile)
RUST_TAG=
for from in "${FROMS[@]}"; do
  case "$from" in
    debian:bookworm-slim) ;;
    rust:*-slim-bookworm) RUST_TAG=${from#rust:} ;;
    *)
      echo "the Dockerfile names $from; only debian:bookworm-slim and" \
        "rust:<version>-slim-bookworm can be made here" >&2
      exit 1
      ;;
  esac
done
[ -n "$RUST_TAG" ] || { echo "the Dockerfile names no rust:<version>-slim-bookworm" >&2; exit 1; }
RUST_WANTED=${RUST_TAG%-slim-bookworm}
RUST_IMAGE=docker.io/library/rust:$RUST_TAG
RUST_HOST=$(rustc --version | awk '{ print $2 }')
# The local stand-in carries this machine's toolchain: it must be the one the
# tag names (1.95 matches 1.95.x, 1.95.0 only itself), or the check would
# build with another compiler than CI's image.
case "$RUST_HOST" in
  "$RUST_WANTED" | "$RUST_WANTED".*) ;;
  *)
    echo "the Dockerfile names rust:$RUST_TAG but this machine's rustc is $RUST_HOST" >&2
    exit 1
    ;;
esac
RUSTC_COMMIT=$(rustc -vV | awk '/^commit-hash:/ { print $2 }')
SYSROOT=$(rustc --print sysroot)
CA_SUM=debian
if [ -n "${SSL_CERT_FILE:-}" ]; then
  [ -r "$SSL_CERT_FILE" ] || { echo "SSL_CERT_FILE=$SSL_CERT_FILE is not readable" >&2; exit 1; }
  CA_SUM=$(sha256sum "$SSL_CERT_FILE" | awk '{ print $1 }')
  echo "CA bundle for the build stage: $SSL_CERT_FILE"
fi

# ---------------------------------------------------------------------------
step "base image $DEBIAN_IMAGE"
forget_container "$IMPORT_CTR"
old_debian=$(image_id "$DEBIAN_IMAGE")
if [ -n "$old_debian" ] && [ "${IMAGE_CHECK_REBUILD_BASES:-0}" != 1 ]; then
  echo "reusing $DEBIAN_IMAGE ($old_debian)"
else
  # minbase, made as the official slim image is: merged /usr by symlinks
  # (not the usrmerge package, which would bring perl), no documentation,
  # manual pages or translations (also for packages installed later), and
  # no device nodes (the runtime provides /dev).
  mmdebstrap --variant=minbase --quiet --skip=output/dev \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/groff/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --dpkgopt='path-exclude=/usr/share/linda/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    bookworm "$WORK/debian.tar" </dev/null
  CONTAINERS+=("$IMPORT_CTR")
  B from --name "$IMPORT_CTR" scratch >/dev/null
  mnt=$(B mount "$IMPORT_CTR")
  tar -C "$mnt" --numeric-owner -xpf "$WORK/debian.tar"
  rm -f "$WORK/debian.tar"
  # The official image's apt settings: no package caches or downloaded
  # .debs left in a layer, no translations, no suggested packages kept.
  conf=$mnt/etc/apt/apt.conf.d
  cat >"$conf/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$conf/docker-no-languages"
  echo 'Acquire::GzipIndexes "true";' >"$conf/docker-gzip-indexes"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$conf/docker-autoremove-suggests"
  B umount "$IMPORT_CTR" >/dev/null
  # As the official image: PATH set, bash as the command.
  B config --os linux --arch "$(dpkg --print-architecture)" \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash "$IMPORT_CTR"
  B commit --quiet --rm "$IMPORT_CTR" "$DEBIAN_IMAGE" >/dev/null
  CONTAINERS=()
  drop_replaced "$old_debian" "$(image_id "$DEBIAN_IMAGE")"
fi
DEBIAN_ID=$(image_id "$DEBIAN_IMAGE")
B images "$DEBIAN_IMAGE"

# ---------------------------------------------------------------------------
step "base image $RUST_IMAGE"
forget_container "$BASE_CTR"
old_rust=$(image_id "$RUST_IMAGE")
if [ -n "$old_rust" ] && [ "${IMAGE_CHECK_REBUILD_BASES:-0}" != 1 ] \
  && [ "$(image_label "$RUST_IMAGE" image-check.rustc-commit)" = "$RUSTC_COMMIT" ] \
  && [ "$(image_label "$RUST_IMAGE" image-check.debian-base)" = "$DEBIAN_ID" ] \
  && [ "$(image_label "$RUST_IMAGE" image-check.ca-bundle)" = "$CA_SUM" ]; then
  echo "reusing $RUST_IMAGE ($old_rust)"
else
  CONTAINERS+=("$BASE_CTR")
  B from --name "$BASE_CTR" --pull=never "$DEBIAN_IMAGE" >/dev/null
  B run --isolation chroot "$BASE_CTR" -- sh -c \
    'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
       --no-install-recommends ca-certificates gcc libc6-dev >/dev/null \
     && rm -rf /var/lib/apt/lists/*'
  mnt=$(B mount "$BASE_CTR")
  if [ -n "${SSL_CERT_FILE:-}" ]; then
    install -m 0644 "$SSL_CERT_FILE" "$mnt/etc/ssl/certs/ca-certificates.crt"
  fi
  toolchain=/usr/local/rustup/toolchains/$(basename "$SYSROOT")
  mkdir -p "$mnt$toolchain" "$mnt/usr/local/cargo/bin"
  # The whole toolchain but its HTML documentation.
  tar -C "$SYSROOT" --exclude=./share/doc -cf - . | tar -C "$mnt$toolchain" -xf -
  for tool in "$mnt$toolchain"/bin/*; do
    ln -s "$toolchain/bin/$(basename "$tool")" "$mnt/usr/local/cargo/bin/"
  done
  B umount "$BASE_CTR" >/dev/null
  B config \
    --env RUSTUP_HOME=/usr/local/rustup \
    --env CARGO_HOME=/usr/local/cargo \
    --env PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env RUST_VERSION="$RUST_HOST" \
    --label image-check.rustc-commit="$RUSTC_COMMIT" \
    --label image-check.debian-base="$DEBIAN_ID" \
    --label image-check.ca-bundle="$CA_SUM" \
    "$BASE_CTR"
  B run --isolation chroot "$BASE_CTR" -- sh -c 'cargo --version && rustc --version && cc --version | head -n 1'
  B commit --quiet --rm "$BASE_CTR" "$RUST_IMAGE" >/dev/null
  CONTAINERS=()
  drop_replaced "$old_rust" "$(image_id "$RUST_IMAGE")"
fi
B images "$RUST_IMAGE"

# ---------------------------------------------------------------------------
step "buildah bud the Dockerfile"
old_image=$(image_id "$IMAGE")
bud_start=$(date +%s)
B bud --isolation chroot --pull=never --force-rm --layers=false \
  -f Dockerfile -t "$IMAGE" .
BUD_SECONDS=$(($(date +%s) - bud_start))
drop_replaced "$old_image" "$(image_id "$IMAGE")"
IMAGE_SIZE=$(B images --noheading --format '{{.Size}}' "$IMAGE" | head -n 1)
echo "built $IMAGE in ${BUD_SECONDS}s, size $IMAGE_SIZE"

# ---------------------------------------------------------------------------
step "start the image's filesystem by chroot"
forget_container "$RUN_CTR"
CONTAINERS+=("$RUN_CTR")
B from --name "$RUN_CTR" --pull=never "$IMAGE" >/dev/null
MNT=$(B mount "$RUN_CTR")
B inspect --type image "$IMAGE" >"$WORK/inspect.json"

read -r PORT CLOSED_PORT < <(python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])
')
SECRET=image-check-secret-$(python3 -c 'import secrets; print(secrets.token_hex(16))')
SECRET_PATH=/run/secrets/payments_client_secret

test_env=(
  "PORT=$PORT"
  "HOST=127.0.0.1"
  "OAUTH2_PAYMENTS_TOKEN_URL=http://127.0.0.1:$CLOSED_PORT/token"
  "OAUTH2_PAYMENTS_CLIENT_ID=image-check-client"
  "OAUTH2_PAYMENTS_CLIENT_SECRET_FILE=$SECRET_PATH"
)
if [ -n "$DEMO_API_URL_VALUE" ]; then
  test_env+=("DEMO_API_URL=$DEMO_API_URL_VALUE")
fi

# From the image's config: the user (resolved to uid:gid against the image's
# own /etc/passwd and /etc/group, as a runtime does), the working directory,
# the command (Entrypoint + Cmd) and the environment (the image's Env, then
# the test variables). Lists are NUL-separated.
python3 - "$WORK/inspect.json" "$MNT" "$WORK" "${test_env[@]}" <<'PY'
import json, os, sys

inspect, root, work, *overrides = sys.argv[1:]
config = json.load(open(inspect))["OCIv1"]["config"]

def table(path):
    try:
        with open(os.path.join(root, path.lstrip("/"))) as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip()]
    except FileNotFoundError:
        return []

user = config.get("User") or "0"
name, _, group = user.partition(":")
passwd = table("/etc/passwd")
entry = next((e for e in passwd if e[0] == name or (name.isdigit() and e[2] == name)), None)
if name.isdigit():
    uid = int(name)
elif entry:
    uid = int(entry[2])
else:
    sys.exit(f"USER {user}: no user {name} in the image")
if group:
    if group.isdigit():
        gid = int(group)
    else:
        g = next((e for e in table("/etc/group") if e[0] == group), None)
        if g is None:
            sys.exit(f"USER {user}: no group {group} in the image")
        gid = int(g[2])
else:
    gid = int(entry[3]) if entry else 0

argv = (config.get("Entrypoint") or []) + (config.get("Cmd") or [])
if not argv:
    sys.exit("the image has neither Entrypoint nor Cmd")
env = {}
for item in (config.get("Env") or []) + overrides:
    key, _, value = item.partition("=")
    env[key] = value

with open(os.path.join(work, "argv"), "w") as f:
    f.write("\0".join(argv) + "\0")
with open(os.path.join(work, "env"), "w") as f:
    f.write("\0".join(f"{k}={v}" for k, v in env.items()) + "\0")
with open(os.path.join(work, "user"), "w") as f:
    f.write(f"{user}\n{uid}:{gid}\n{config.get('WorkingDir') or ''}\n"
            f"{env.get('SHUTDOWN_TIMEOUT_SECONDS') or 10}\n")
PY
mapfile -d '' -t ARGV <"$WORK/argv"
mapfile -d '' -t RUN_ENV <"$WORK/env"
{ read -r IMAGE_USER; read -r USERSPEC; read -r WORKDIR; read -r DRAIN_SECONDS; } <"$WORK/user"
echo "image: User=$IMAGE_USER (runs as $USERSPEC) Entrypoint+Cmd=${ARGV[*]} WorkingDir=${WORKDIR:-/}"
echo "image Env: $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["OCIv1"]["config"].get("Env") or []))' "$WORK/inspect.json")"
echo "test Env: ${test_env[*]}"

# The client secret, readable by the image's user only.
mkdir -p "$MNT$(dirname "$SECRET_PATH")"
printf '%s' "$SECRET" >"$MNT$SECRET_PATH"
chown "$USERSPEC" "$MNT$SECRET_PATH"
chmod 0400 "$MNT$SECRET_PATH"

# chroot changes to / in the new root; a WorkingDir needs the image's shell.
if [ -n "$WORKDIR" ] && [ "$WORKDIR" != / ]; then
  # shellcheck disable=SC2016  # expanded by the image's shell, not this one
  ARGV=(/bin/sh -c 'cd "$0" && exec "$@"' "$WORKDIR" "${ARGV[@]}")
fi
# env and chroot exec in turn, so $! is the server's own pid.
env -i "${RUN_ENV[@]}" "$CHROOT" --userspec="$USERSPEC" "$MNT" "${ARGV[@]}" >"$LOG" 2>&1 </dev/null &
SERVER_PID=$!

status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }
# Gone, or a zombie (which kill -0 still reaches) until it is waited for.
exited() { [ ! -e "/proc/$SERVER_PID" ] || grep -q '^State:[[:space:]]*Z' "/proc/$SERVER_PID/status" 2>/dev/null; }
up=
for _ in $(seq 1 200); do
  if exited; then
    echo "the server exited before it answered /health" >&2
    exit 1
  fi
  if [ "$(status_of "http://127.0.0.1:$PORT/health")" = 200 ]; then up=1; break; fi
  sleep 0.1
done
if [ -z "$up" ]; then
  echo "the server did not answer /health on 127.0.0.1:$PORT within 20 s" >&2
  exit 1
fi
echo "server pid $SERVER_PID listening on 127.0.0.1:$PORT"

# ---------------------------------------------------------------------------
step "checks"
PASSED=0
FAILED=()
check() {
  local name=$1
  shift
  if "$@"; then
    PASSED=$((PASSED + 1))
    echo "PASS  $name"
  else
    FAILED+=("$name")
    echo "FAIL  $name"
  fi
}
expect_status() {
  local want=$1
  shift
  local got
  got=$(status_of "$@")
  [ "$got" = "$want" ] || { echo "      got HTTP $got" >&2; return 1; }
}

check "GET /health is 200" expect_status 200 "http://127.0.0.1:$PORT/health"
for path in /demo/orders /demo/me /demo/signed; do
  check "GET $path is 404 (DEMO_API_URL=${DEMO_API_URL_VALUE:-unset})" \
    expect_status 404 "http://127.0.0.1:$PORT$path"
done
check "POST /dev/oauth/token is 404" expect_status 404 -X POST \
  -d grant_type=client_credentials "http://127.0.0.1:$PORT/dev/oauth/token"
for path in /dev/api/orders /dev/api/me /dev/api/signed; do
  check "GET $path is 404" expect_status 404 "http://127.0.0.1:$PORT$path"
done

# The pid is the server itself (not a wrapper), rooted in the image.
is_server_in_image() {
  local root exe
  root=$(readlink "/proc/$SERVER_PID/root")
  exe=$(readlink "/proc/$SERVER_PID/exe")
  echo "      pid $SERVER_PID: root=$root exe=$exe"
  [ "$root" = "$MNT" ] && [ "$(basename "$exe")" = "$(basename "${ARGV[0]}")" ]
}
check "pid $SERVER_PID is the server, chrooted in the image" is_server_in_image
runs_as_expected_uid() {
  local uids gids
  uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$SERVER_PID/status")
  gids=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$SERVER_PID/status")
  echo "      Uid: $uids  Gid: $gids"
  [ "$uids" = "$EXPECTED_UID $EXPECTED_UID $EXPECTED_UID $EXPECTED_UID" ]
}
check "the server runs as uid $EXPECTED_UID" runs_as_expected_uid

# SIGTERM: exit 0 within the drain bound, the cache cleared.
kill -TERM "$SERVER_PID"
term_at=$(date +%s%N)
limit_ms=$(((DRAIN_SECONDS + SLACK_SECONDS) * 1000))
while ! exited && [ $((($(date +%s%N) - term_at) / 1000000)) -lt "$limit_ms" ]; do
  sleep 0.05
done
if exited; then
  exit_status=0
  wait "$SERVER_PID" || exit_status=$?
  SERVER_PID=
  stop_ms=$((($(date +%s%N) - term_at) / 1000000))
  check "SIGTERM: exit status 0 (got $exit_status)" test "$exit_status" -eq 0
  check "SIGTERM: stopped in ${stop_ms} ms, within ${DRAIN_SECONDS}s + ${SLACK_SECONDS}s" true
else
  check "SIGTERM: stopped within ${DRAIN_SECONDS}s + ${SLACK_SECONDS}s" false
fi
check "the log says \"OAuth2 token cache cleared\"" grep -q "OAuth2 token cache cleared" "$LOG"
# The provider was configured, so its secret file was read as uid 10001.
provider_configured() {
  grep '"OAuth2 provider configured"' "$LOG" | grep -q '"provider":"payments"'
}
check "the payments provider was configured from its secret file" provider_configured
all_json() {
  python3 - "$LOG" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines()
bad = []
for n, line in enumerate(lines, 1):
    try:
        if not isinstance(json.loads(line), dict):
            raise ValueError
    except ValueError:
        bad.append(n)
print(f"      {len(lines)} log lines, {len(bad)} not a JSON object" + (f" (lines {bad[:5]})" if bad else ""))
sys.exit(1 if bad or not lines else 0)
PY
}
check "every log line is a JSON object" all_json
secret_absent() { ! grep -F -q -- "$SECRET" "$LOG"; }
check "the client secret is nowhere in the log" secret_absent

# ---------------------------------------------------------------------------
step "summary"
echo "image $IMAGE: $IMAGE_SIZE (bud ${BUD_SECONDS}s)"
echo "elapsed: $(($(date +%s) - START))s"
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "failed checks:" >&2
  printf '  %s\n' "${FAILED[@]}" >&2
  STEP=checks
  echo "image-check: $PASSED passed, ${#FAILED[@]} failed"
  exit 1
fi
echo "image-check: $PASSED passed, 0 failed"
