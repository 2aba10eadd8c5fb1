#!/usr/bin/env bash
# stop_slurm.sh - stop the cluster that start_slurm.sh started in $DL_SLURM_DIR.
#
# Processes are stopped strictly by PID, never by program name:
#   1. remaining jobs are cancelled while slurmctld is still up;
#   2. daemons are stopped by the PIDs in their pid files (after checking that
#      /proc/PID/comm really is that daemon), SIGTERM then SIGKILL;
#   3. /proc is scanned for anything of this cluster still alive (a slurm daemon,
#      slurmstepd or mariadbd whose command line or environment names the state
#      directory, or a job process whose SLURM_CONF is this cluster's); those
#      PIDs are killed and reported.
# Idempotent: stopping a stopped cluster prints "SLURM STOPPED" again.
# Exit 0 when nothing of the cluster is left, 1 otherwise ("SLURM STOP INCOMPLETE").
#   DL_SLURM_DIR   state directory (default /tmp/designlog-slurm)
#   DL_SLURM_WIPE  1 = delete the state directory afterwards
set -uo pipefail
BASE=${DL_SLURM_DIR:-/tmp/designlog-slurm}
BASE=${BASE%/}
RUN=$BASE/run
CONF=$BASE/etc/slurm.conf
export SLURM_CONF=$CONF

say() { printf '[stop_slurm %s] %s\n' "$(date +%T)" "$*"; }
alive() { [ -n "$1" ] && [ -d "/proc/$1" ] && kill -0 "$1" 2>/dev/null; }
program_of() { case "$1" in mariadb) echo mariadbd;; *) echo "$1";; esac; }
is_daemon() { [ -n "$2" ] && [ "$(cat "/proc/$2/comm" 2>/dev/null)" = "$(program_of "$1")" ]; }

# ------------------------------------------------------------------ 1. cancel jobs
ctld=$(cat "$RUN/slurmctld.pid" 2>/dev/null || true)
if is_daemon slurmctld "$ctld" && [ -f "$CONF" ]; then
  jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    say "cancelling jobs: $jobs"
    # shellcheck disable=SC2086
    scancel --full $jobs 2>/dev/null || true
    for _ in $(seq 100); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.2; done
  fi
fi

# ------------------------------------------------------------------ 2. daemons by pid file
rc=0
stop_group() {  # daemons of one group stop in parallel
  local d p i pids=() names=()
  for d in "$@"; do
    p=$(cat "$RUN/$d.pid" 2>/dev/null || true)
    if is_daemon "$d" "$p"; then
      kill -TERM "$p" 2>/dev/null; pids+=("$p"); names+=("$d")
    elif [ -n "$p" ] && alive "$p"; then
      say "pid file of $d names pid $p, which is not $d: left alone"
    fi
    rm -f "$RUN/$d.pid"
  done
  for i in "${!pids[@]}"; do
    p=${pids[$i]} d=${names[$i]}
    for _ in $(seq 150); do alive "$p" || break; sleep 0.1; done
    if alive "$p"; then
      say "$d ($p) ignored SIGTERM for 15 s: SIGKILL"
      kill -KILL "$p" 2>/dev/null; sleep 0.5
    fi
    if alive "$p"; then say "$d ($p) STILL RUNNING"; rc=1; else say "$d ($p) stopped"; fi
  done
}
stop_group slurmd slurmctld slurmdbd
stop_group mariadb munged
rm -f "$RUN/munge.socket" "$RUN/munge.socket.lock" "$RUN/mysql.sock"

# ------------------------------------------------------------------ 3. leftovers in /proc
# Prints "PID COMM" for every live process that belongs to this cluster.
leftovers() {
  local dir pid comm env
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    { [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ]; } && continue
    comm=$(cat "$dir/comm" 2>/dev/null) || continue
    env=$(tr '\0' '\n' 2>/dev/null <"$dir/environ") || continue
    case "$comm" in
      munged|mariadbd|slurmdbd|slurmctld|slurmd|slurmstepd)
        if tr '\0' '\n' 2>/dev/null <"$dir/cmdline" | grep -qF -- "$BASE/" \
           || grep -qxF -- "SLURM_CONF=$CONF" <<<"$env"; then
          echo "$pid $comm"
        fi;;
      *)
        if grep -q '^SLURM_JOB_ID=' <<<"$env" && grep -qxF -- "SLURM_CONF=$CONF" <<<"$env"; then
          echo "$pid $comm"
        fi;;
    esac
  done
}
left=$(leftovers)
if [ -n "$left" ]; then
  say "still running from this cluster, killing by pid: $(echo "$left" | tr '\n' ' ')"
  while read -r pid _; do kill -TERM "$pid" 2>/dev/null; done <<<"$left"
  for _ in $(seq 30); do [ -z "$(leftovers)" ] && break; sleep 0.1; done
  while read -r pid _; do [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; done <<<"$(leftovers)"
  sleep 0.2
  left=$(leftovers)
  if [ -n "$left" ]; then say "could not stop: $(echo "$left" | tr '\n' ' ')"; rc=1; fi
fi

if [ "${DL_SLURM_WIPE:-0}" = 1 ] && [ $rc = 0 ]; then rm -rf "$BASE"; say "removed $BASE"; fi
if [ $rc = 0 ]; then echo "SLURM STOPPED"; else echo "SLURM STOP INCOMPLETE"; fi
exit $rc
