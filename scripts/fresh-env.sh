#!/usr/bin/env bash
# Runs a command as if on a fresh machine, as far as test leftovers go: in a
# private mount namespace (propagation private, so nothing mounted here reaches the
# machine) where
#   /run                  is a fresh, empty tmpfs (no /run/wireguard, no /run/netns, no
#                         daemon state of earlier runs; /run/lock is recreated empty)
#   /tmp, /var/tmp        are fresh, empty tmpfs
#   <checkout>/.lab       (lab state: per-run dirs, reaper state, results) is a fresh, empty
#                         directory, on disk since the VM lab keeps disk images there
# The checkout stays where it is, also when it lives under /tmp or /run (a CI clone may).
# Nothing is created on the machine except <checkout>/.cache/fresh-env/<pid>, deleted on exit.
# Network namespaces the command leaves behind are reported and fail the run: they are
# visible only in this /run, so they would otherwise vanish silently with it.
#
#   sudo scripts/fresh-env.sh CMD [ARG...]
#
# Needs root (a mount namespace and mounts). Prints nothing of its own unless something is wrong.
set -euo pipefail

die() {
  echo "fresh-env: $*" >&2
  exit 2
}

REPO=$(cd "$(dirname "$0")/.." && pwd -P)
[ "$#" -gt 0 ] || die "usage: scripts/fresh-env.sh CMD [ARG...]"

if [ "${WG_S2S_FRESH_ENV_STAGE:-}" != inside ]; then
  [ "$(id -u)" = 0 ] || die "needs root for a private mount namespace; run: sudo $0 $*"
  command -v unshare >/dev/null || die "unshare is missing: apt-get install util-linux"
  SCRATCH="$REPO/.cache/fresh-env/$$"
  mkdir -p "$SCRATCH/lab"
  rc=0
  WG_S2S_FRESH_ENV_STAGE=inside WG_S2S_FRESH_ENV_SCRATCH="$SCRATCH" \
    unshare --mount --propagation private -- "$0" "$@" || rc=$?
  rm -rf "$SCRATCH"
  rmdir "$REPO/.cache/fresh-env" 2>/dev/null || true
  exit "$rc"
fi

# --- inside the private mount namespace --------------------------------------------------
unset WG_S2S_FRESH_ENV_STAGE
SCRATCH=${WG_S2S_FRESH_ENV_SCRATCH:?}
unset WG_S2S_FRESH_ENV_SCRATCH
here=$(pwd -P)

# Handles on the checkout and on the machine's /run that outlive the mounts that hide them:
# binds below take their source through /proc/self/fd, so nothing has to be parked on disk.
# (--no-canonicalize: mount would otherwise resolve the magic link to its path text, which
# by then names the new, empty directory.)
exec 8<"$REPO"
exec 9</run

mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
[ ! -d /var/tmp ] || mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -m 1777 /run/lock
# Name resolution (npm, apt) where /etc/resolv.conf points into /run (systemd-resolved).
resolv=$(readlink -f /etc/resolv.conf || true)
case "$resolv" in
  /run/*)
    dir=$(dirname "$resolv")
    mkdir -p "$dir"
    mount --no-canonicalize --bind "/proc/self/fd/9/${dir#/run/}" "$dir"
    ;;
esac
# The checkout, if a fresh tmpfs above now hides it.
if [ ! -d "$REPO/.git" ] && [ ! -f "$REPO/.git" ]; then
  mkdir -p "$REPO"
  mount --no-canonicalize --bind /proc/self/fd/8 "$REPO"
fi
exec 8<&- 9<&-
mkdir -p "$REPO/.lab"
mount --bind "$SCRATCH/lab" "$REPO/.lab"

# The caller's working directory, looked up again by its path: the old handle on it would
# bypass the mounts above (relative paths would still reach the old .lab).
cd / && cd "$here"

rc=0
"$@" || rc=$?

left=$(ip netns list 2>/dev/null | cut -d' ' -f1 | tr '\n' ' ')
if [ -n "${left// /}" ]; then
  echo "fresh-env: FAILED: network namespaces left behind by: $*: $left" >&2
  for ns in $left; do ip netns delete "$ns" 2>/dev/null || true; done
  [ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"
