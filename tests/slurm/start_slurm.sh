#!/usr/bin/env bash
# start_slurm.sh - bring up a real single-node SLURM cluster for the test suite
# (Debian 12, slurm-wlm 22.05, no systemd needed):
#   munged [+ mariadbd + slurmdbd] + slurmctld + slurmd
#
# Every file of the cluster (configs, sockets, pid files, logs, spool, database)
# lives under one state directory, so several clusters can coexist on one
# machine when they are given different directories and ports.
#
# Idempotent: when the cluster of this state directory is already healthy it
# only prints READY; when it is partly up it is stopped and started again.
#
# Settings (environment, all optional):
#   DL_SLURM_DIR            state directory                     (default /tmp/designlog-slurm)
#   DL_SLURM_ACCOUNTING     dbd | none                          (default dbd: MariaDB + slurmdbd,
#                           so plain `sacct` works; none: only `sacct -c` via jobcomp/filetxt)
#   DL_SLURM_FRESH          1 = wipe jobs and database first; job ids restart at 1 (default 0)
#   DL_SLURM_INSTALL        1 = apt-get install missing packages (default 1)
#   DL_SLURM_OVERSUBSCRIBE  jobs allowed per core (default 1; >1 lets short test jobs run together)
#   DL_SLURM_CTLD_PORT DL_SLURM_SLURMD_PORT DL_SLURM_DBD_PORT DL_SLURM_DB_PORT
#                           (default 6817 6818 6819 3307)
#   DL_SLURM_TIMEOUT        seconds to wait for each daemon     (default 30)
#
# Afterwards:  source "$DL_SLURM_DIR/slurm.env"   (exports SLURM_CONF, which every client needs)
# Last line on success: "SLURM READY ..."; on failure "FAILED: <reason>" plus log tails on stderr.
set -euo pipefail

BASE=${DL_SLURM_DIR:-/tmp/designlog-slurm}
ACCT=${DL_SLURM_ACCOUNTING:-dbd}
FRESH=${DL_SLURM_FRESH:-0}
INSTALL=${DL_SLURM_INSTALL:-1}
OVERSUB=${DL_SLURM_OVERSUBSCRIBE:-1}
CTLD_PORT=${DL_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${DL_SLURM_SLURMD_PORT:-6818}
DBD_PORT=${DL_SLURM_DBD_PORT:-6819}
DB_PORT=${DL_SLURM_DB_PORT:-3307}
TIMEOUT=${DL_SLURM_TIMEOUT:-30}
NODE=localhost
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

ETC=$BASE/etc RUN=$BASE/run LOG=$BASE/log SPOOL=$BASE/spool
MUNGE_SOCK=$RUN/munge.socket
export SLURM_CONF=$ETC/slurm.conf
T0=$(date +%s%N)

say() { printf '[start_slurm %s] %s\n' "$(date +%T)" "$*"; }
die() {
  local f
  for f in "$LOG"/*.log "$LOG"/mariadb.err; do
    [ -f "$f" ] && { echo "--- last lines of $f" >&2; tail -n 12 "$f" >&2; }
  done
  echo "FAILED: $*" >&2
  exit 1
}
took() { local now; now=$(date +%s%N); printf '%d.%02d' $(( (now - T0) / 1000000000 )) $(( (now - T0) / 10000000 % 100 )); }
# a daemon counts as running when its pid file names a live process of the right program
daemon_pid() {
  local p want=$1; [ "$want" = mariadb ] && want=mariadbd
  p=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
  [ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$want" ] && echo "$p"
}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_until() {  # wait_until "what" command...
  local what=$1; shift
  local end=$(( $(date +%s) + TIMEOUT ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$end" ] && die "timed out after ${TIMEOUT}s waiting for $what"
    sleep 0.2
  done
}
munge_works() { munge -S "$MUNGE_SOCK" -n </dev/null | unmunge -S "$MUNGE_SOCK" >/dev/null; }
# 'idle' exactly: a node recovered from saved state can show up before slurmd registered
node_idle() { [ "$(sinfo -h -n "$NODE" -o '%t' 2>/dev/null)" = idle ]; }
# slurmctld's first main-scheduler pass comes ~3 s after it starts; a job submitted
# before that waits for it. sdiag counts the passes.
scheduler_ran() {
  sdiag 2>/dev/null | awk '/^Main schedule statistics/ {m = 1}
                           m && /Total cycles:/ {n = $3; exit}
                           END {exit !(n >= 1)}'
}
cluster_registered() { sacctmgr -n -P show cluster format=cluster 2>/dev/null | grep -qx local; }

case "$ACCT" in dbd|none) ;; *) die "DL_SLURM_ACCOUNTING must be dbd or none, not '$ACCT'";; esac
[ "$(id -u)" = 0 ] || die "needs root (the daemons run as SlurmUser=root), running as uid $(id -u)"

# ------------------------------------------------------------------ 1. packages
need=()
for pair in munged:munge slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if [ "$ACCT" = dbd ]; then
  command -v slurmdbd >/dev/null 2>&1 || need+=(slurmdbd)
  ls /usr/lib/*/slurm-wlm/accounting_storage_mysql.so >/dev/null 2>&1 || need+=(slurm-wlm-mysql-plugin)
  command -v mariadbd >/dev/null 2>&1 || need+=(mariadb-server)
fi
if [ ${#need[@]} -gt 0 ]; then
  [ "$INSTALL" = 1 ] || die "missing packages: ${need[*]} (and DL_SLURM_INSTALL=0)"
  command -v apt-get >/dev/null 2>&1 || die "missing packages: ${need[*]} and no apt-get to install them"
  say "installing slurm-wlm ${need[*]}"
  # Package scripts would start system-wide services; policy-rc.d answering 101 forbids it.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  aptlog=$(mktemp /tmp/start_slurm_apt.XXXXXX)
  export DEBIAN_FRONTEND=noninteractive
  apt_ok=1
  { apt-get install -y -q --no-install-recommends slurm-wlm "${need[@]}" \
    || { apt-get update -q && apt-get install -y -q --no-install-recommends slurm-wlm "${need[@]}"; }
  } >"$aptlog" 2>&1 || apt_ok=0
  [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  if [ "$apt_ok" = 0 ]; then
    tail -n 15 "$aptlog" >&2; rm -f "$aptlog"
    die "apt-get install of ${need[*]} failed"
  fi
  rm -f "$aptlog"
  say "packages installed ($(took)s)"
fi

# ------------------------------------------------------------------ 2. already up?
daemons=(munged slurmctld slurmd)
[ "$ACCT" = dbd ] && daemons=(munged mariadb slurmdbd slurmctld slurmd)
all_up=1 any_up=0
for d in "${daemons[@]}"; do daemon_pid "$d" >/dev/null || all_up=0; done
for d in munged mariadb slurmdbd slurmctld slurmd; do daemon_pid "$d" >/dev/null && any_up=1; done
if [ "$FRESH" != 1 ] && [ $all_up = 1 ] && [ -f "$SLURM_CONF" ] \
   && grep -qx "# accounting=$ACCT oversubscribe=$OVERSUB" "$SLURM_CONF" && node_idle; then
  say "already running"
  echo "SLURM READY (already running) SLURM_CONF=$SLURM_CONF"
  exit 0
fi
if [ $any_up = 1 ]; then
  say "partly running, or a fresh start / other settings were asked for: stopping first"
  DL_SLURM_DIR=$BASE "$HERE/stop_slurm.sh" >/dev/null || true
fi

# ------------------------------------------------------------------ 3. ports
ports=("$CTLD_PORT" "$SLURMD_PORT"); [ "$ACCT" = dbd ] && ports+=("$DBD_PORT" "$DB_PORT")
for p in "${ports[@]}"; do port_busy "$p" && die "port $p is already in use (another cluster or database?)"; done

# ------------------------------------------------------------------ 4. directories and config
if [ "$FRESH" = 1 ]; then
  say "fresh start: wiping jobs, database and logs under $BASE"
  rm -rf "$SPOOL" "$BASE/mysql" "$LOG"
fi
mkdir -p "$ETC" "$RUN" "$LOG" "$SPOOL/ctld" "$SPOOL/d" "$BASE/munge"
chmod 755 "$BASE" "$RUN"   # munged wants the socket directory traversable by all
chmod 700 "$BASE/munge"    # ... and the key directory private
rm -f "$RUN"/*.pid "$MUNGE_SOCK" "$MUNGE_SOCK.lock"

[ -s "$BASE/munge/munge.key" ] || mungekey -c -b 1024 -k "$BASE/munge/munge.key"
chmod 600 "$BASE/munge/munge.key"

# CPUs, sockets, memory as slurmd sees them (a RealMemory above the real one DRAINs the node);
# the machine's hostname is replaced by 'localhost' (slurmd is started with -N localhost).
HW=$(slurmd -C | head -n 1 | sed "s/^NodeName=[^ ]*/NodeName=$NODE/")
if [ "$OVERSUB" -gt 1 ] 2>/dev/null; then SHARE="OverSubscribe=FORCE:$OVERSUB"; else SHARE="OverSubscribe=NO"; fi

if [ "$ACCT" = dbd ]; then
  ACCT_LINES="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
# the slurmdbd connection ignores AuthInfo: its munge socket goes here
AccountingStoragePass=$MUNGE_SOCK"
else
  ACCT_LINES="AccountingStorageType=accounting_storage/none"
fi

cat >"$SLURM_CONF" <<EOF
# written by start_slurm.sh for the designlog_magics test suite
# accounting=$ACCT oversubscribe=$OVERSUB
ClusterName=local
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCK
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
StateSaveLocation=$SPOOL/ctld
SlurmdSpoolDir=$SPOOL/d
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
# no cgroups: works whatever the host's cgroup layout is
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# the default batch_sched_delay=3 holds every sbatch job back by up to 3 s
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
ReturnToService=2
MinJobAge=300
KillWait=5
$ACCT_LINES
# job completion log: 'sacct -c' works even without slurmdbd
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG/jobcomp.txt
$HW State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP $SHARE
EOF

# ------------------------------------------------------------------ 5. munged
say "starting munged"
munged -f --socket="$MUNGE_SOCK" --key-file="$BASE/munge/munge.key" \
  --log-file="$LOG/munged.log" --pid-file="$RUN/munged.pid" --seed-file="$BASE/munge/munged.seed" \
  </dev/null >>"$LOG/munged.log" 2>&1 || die "munged did not start"
wait_until "munge" munge_works

# ------------------------------------------------------------------ 6. mariadbd + slurmdbd
if [ "$ACCT" = dbd ]; then
  if [ ! -d "$BASE/mysql/mysql" ]; then
    say "creating the MariaDB data directory"
    mkdir -p "$BASE/mysql"
    mariadb-install-db --no-defaults --datadir="$BASE/mysql" --user=root \
      --auth-root-authentication-method=socket --skip-test-db >"$LOG/mariadb-install.log" 2>&1 \
      || die "mariadb-install-db failed (see $LOG/mariadb-install.log)"
  fi
  say "starting mariadbd on 127.0.0.1:$DB_PORT"
  # Slurm's mysql plugin cannot use a unix socket path, hence TCP on 127.0.0.1.
  # setsid + closed stdio: a caller reading our output must not wait on the daemon.
  setsid mariadbd --no-defaults --datadir="$BASE/mysql" --socket="$RUN/mysql.sock" \
    --pid-file="$RUN/mariadb.pid" --bind-address=127.0.0.1 --port="$DB_PORT" --user=root \
    --log-error="$LOG/mariadb.err" --innodb-buffer-pool-size=512M --innodb-lock-wait-timeout=900 \
    </dev/null >/dev/null 2>&1 &
  wait_until "mariadbd" mariadb-admin --no-defaults -S "$RUN/mysql.sock" -uroot ping
  wait_until "mariadbd pid file" test -s "$RUN/mariadb.pid"
  mariadb --no-defaults -S "$RUN/mysql.sock" -uroot -e "
    CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
    CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" || die "could not create the slurm database user"

  # slurmdbd has no -f: it reads slurmdbd.conf beside \$SLURM_CONF (mode 0600, owned by SlurmUser).
  cat >"$ETC/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCK
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
DebugLevel=info
LogFile=$LOG/slurmdbd.log
PidFile=$RUN/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$ETC/slurmdbd.conf"
  say "starting slurmdbd"
  slurmdbd </dev/null >>"$LOG/slurmdbd.log" 2>&1 || die "slurmdbd did not start"
  wait_until "slurmdbd on port $DBD_PORT" port_busy "$DBD_PORT"
fi

# ------------------------------------------------------------------ 7. slurmctld + slurmd
say "starting slurmctld"
slurmctld -f "$SLURM_CONF" </dev/null >>"$LOG/slurmctld.log" 2>&1 || die "slurmctld did not start"
wait_until "slurmctld" scontrol ping
say "starting slurmd"
slurmd -f "$SLURM_CONF" -N "$NODE" </dev/null >>"$LOG/slurmd.log" 2>&1 || die "slurmd did not start"
wait_until "node $NODE idle" node_idle
wait_until "the first scheduler pass" scheduler_ran
[ "$ACCT" = dbd ] && wait_until "the cluster to register with slurmdbd" cluster_registered

echo "export SLURM_CONF=$SLURM_CONF" >"$BASE/slurm.env"
echo "SLURM READY in $(took)s (accounting=$ACCT) SLURM_CONF=$SLURM_CONF"
