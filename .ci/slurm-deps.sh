#!/usr/bin/env bash
# Install the Debian packages behind the single-node SLURM test cluster
# (tests/slurm): slurm-wlm (slurmctld, slurmd, client, munge) and, for
# `sacct` accounting, slurmdbd + its MySQL plugin + mariadb-server.
#
# Always exits 0: when the packages cannot be installed (not root, no apt,
# no package mirror) the slurm tests skip and print the reason.
set -u

PKGS=(slurm-wlm slurmdbd slurm-wlm-mysql-plugin mariadb-server)

say() { printf '[slurm-deps] %s\n' "$*"; }

missing=0
for b in munged slurmctld slurmd sbatch sacct slurmdbd mariadbd mariadb-install-db; do
  command -v "$b" >/dev/null 2>&1 || missing=1
done
ls /usr/lib/*/slurm-wlm/accounting_storage_mysql.so >/dev/null 2>&1 || missing=1
if [ "$missing" = 0 ]; then
  say "all SLURM packages already installed"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  say "not root: cannot install ${PKGS[*]} (slurm tests will skip)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "no apt-get: cannot install ${PKGS[*]} (slurm tests will skip)"
  exit 0
fi

# Package maintainer scripts would start system-wide munge/mariadb/slurm
# services; a policy-rc.d that answers 101 forbids that. Only create one
# when the machine has none, and remove only our own.
POLICY=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$POLICY" && chmod 755 "$POLICY" && made_policy=1
fi
cleanup() { [ "$made_policy" = 1 ] && rm -f "$POLICY"; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
t0=$(date +%s)
log=$(mktemp /tmp/slurm-deps.XXXXXX.log)
install() { apt-get install -y -q --no-install-recommends "${PKGS[@]}" >>"$log" 2>&1; }
if install || { apt-get update -q >>"$log" 2>&1 && install; }; then
  say "installed ${PKGS[*]} in $(( $(date +%s) - t0 ))s"
  rm -f "$log"
else
  say "apt-get install failed (slurm tests will skip); last lines:"
  tail -n 15 "$log" | sed 's/^/[slurm-deps]   /'
  rm -f "$log"
fi
exit 0
