#!/bin/bash
# A one-node Slurm cluster on loopback, from Debian's own packages, all of
# it in one folder: to try deploy/slurm/*.sbatch for real, and what
# `go test ./deploy -run RealSlurm` starts. Needs root (slurmd runs jobs as
# their user) and the packages slurm-wlm and munge:
#
#   apt-get install slurm-wlm munge        # (in a root shell)
#   deploy/slurm/local-cluster.sh start /var/tmp/gradsweep-slurm
#   export SLURM_CONF=/var/tmp/gradsweep-slurm/slurm.conf
#   sinfo; sbatch ...; squeue
#   deploy/slurm/local-cluster.sh stop /var/tmp/gradsweep-slurm
#
# start DIR [CTLD_PORT SLURMD_PORT [OWNER_PID]]
#   writes DIR/slurm.conf and a fresh munge key, and starts munged,
#   slurmctld and slurmd (their pid files, logs, state and spool folders are
#   in DIR), each on 127.0.0.1 and a free port (or the ports given). The
#   node, "gradsweep", has this machine's CPUs and at most 4 GiB of memory,
#   in one partition, "debug". With OWNER_PID, a watchdog stops the cluster
#   when that process has gone (a test that dies still cleans up).
# stop DIR
#   cancels every job of the cluster, waits for them to end, and stops the
#   daemons started by `start DIR`, by their pid files (nothing else).
#
# The cluster's settings are those a laptop or CI machine can run without
# cgroups: ProctrackType=proctrack/linuxproc (the processes of a job are
# found by parentage), TaskPlugin=task/none, SelectType=select/cons_tres
# (CPUs and memory are scheduled, so tasks share the node). Unlike Slurm's
# defaults, a requeued job may start again after 10 s (cred_expire, 120 s by
# default), pending jobs are scheduled every 5 s (sched_interval, 60 s) and
# a job's processes get 5 s between SIGTERM and SIGKILL (KillWait, 30 s).
set -euo pipefail

usage() {
	echo "usage: $0 start DIR [CTLD_PORT SLURMD_PORT [OWNER_PID]] | stop DIR" >&2
	exit 2
}
[ $# -ge 2 ] || usage
cmd=$1
DIR=$2

# pidof_file prints the pid in FILE if that process is alive.
pidof_file() {
	local pid
	[ -f "$1" ] || return 1
	pid=$(cat "$1" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# stop_pid FILE: SIGTERM, up to 10 s for the process to exit, then SIGKILL.
stop_pid() {
	local pid
	pid=$(pidof_file "$1") || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

stop() {
	export SLURM_CONF="$DIR/slurm.conf"
	# the watchdog first, so that it does not race this stop
	if [ "${1:-}" != from-watchdog ]; then stop_pid "$DIR/watchdog.pid"; fi
	if pidof_file "$DIR/slurmctld.pid" >/dev/null && [ -f "$SLURM_CONF" ]; then
		scancel --quiet --user="$(id -un)" 2>/dev/null || true
		# jobs end within KillWait (5 s here) after their SIGTERM
		for _ in $(seq 150); do
			[ -z "$(squeue --noheader --format=%i 2>/dev/null)" ] && break
			sleep 0.2
		done
	fi
	stop_pid "$DIR/slurmd.pid"
	stop_pid "$DIR/slurmctld.pid"
	stop_pid "$DIR/munged.pid"
	rm -f "$DIR/watchdog.pid"
}

free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 20000))
		[ "$p" != "${1:-}" ] || continue
		# a refused connection: nothing listens there
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "no free port found" >&2
	return 1
}

start() {
	local ctld_port=${1:-} slurmd_port=${2:-} owner=${3:-}
	for bin in munged slurmctld slurmd sbatch scontrol; do
		command -v "$bin" >/dev/null || {
			echo "$bin not found: apt-get install slurm-wlm munge" >&2
			exit 1
		}
	done
	if [ "$(id -u)" != 0 ]; then
		echo "slurmd must run as root (it starts jobs as their users): run this as root" >&2
		exit 1
	fi
	if pidof_file "$DIR/slurmctld.pid" >/dev/null; then
		echo "a cluster already runs in $DIR: $0 stop $DIR" >&2
		exit 1
	fi
	DIR=$(mkdir -p "$DIR" && cd "$DIR" && pwd)
	# munged refuses a socket below a folder that not everyone may enter
	local up=$DIR
	while up=$(dirname "$up") && [ "$up" != / ]; do
		if [ "$(($(stat -c %#a "$up") & 1))" = 0 ]; then
			echo "munged needs every folder above its socket searchable by all, and $up is not: choose another DIR, or chmod o+x $up" >&2
			exit 1
		fi
	done
	mkdir -p "$DIR/munge" "$DIR/run" "$DIR/state" "$DIR/spool" "$DIR/log"
	# munged wants its key private and its socket reachable by everyone
	chmod 700 "$DIR/munge"
	chmod 755 "$DIR" "$DIR/run"
	# slurmd runs each job's script from its spool folder
	printf '#!/bin/sh\n' >"$DIR/spool/exec-check" && chmod +x "$DIR/spool/exec-check"
	if ! "$DIR/spool/exec-check" 2>/dev/null; then
		echo "$DIR is on a file system mounted noexec: slurmd could not run job scripts from it" >&2
		exit 1
	fi
	rm -f "$DIR/spool/exec-check"
	[ -n "$ctld_port" ] || ctld_port=$(free_port)
	[ -n "$slurmd_port" ] || slurmd_port=$(free_port "$ctld_port")

	# munge: a fresh key, and a socket of our own
	dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
	chmod 400 "$DIR/munge/munge.key"
	munged --socket="$DIR/run/munge.socket" --key-file="$DIR/munge/munge.key" \
		--pid-file="$DIR/munged.pid" --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed"

	local host cpus mem user
	host=$(hostname -s)
	user=$(id -un)
	cpus=$(nproc)
	mem=$(awk '/^MemTotal:/ { m = int($2 / 1024); print (m > 4096 ? 4096 : m) }' /proc/meminfo)
	cat >"$DIR/slurm.conf" <<EOF
# A one-node cluster on loopback, written by $0.
ClusterName=gradsweep
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$user
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/run/munge.socket,cred_expire=10
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=5,bf_interval=5
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
KillWait=5
InactiveLimit=0
MinJobAge=600
NodeName=gradsweep NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=gradsweep Default=YES MaxTime=INFINITE State=UP
EOF
	export SLURM_CONF="$DIR/slurm.conf"
	slurmctld -f "$SLURM_CONF" -i
	slurmd -f "$SLURM_CONF" -N gradsweep
	if [ -n "$owner" ]; then
		# nohup-free: setsid detaches it from the caller's terminal and group
		setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -f "$2/watchdog.pid" ]; do sleep 1; done
			[ -f "$2/watchdog.pid" ] && exec "$3" stop-from-watchdog "$2"' watchdog "$owner" "$DIR" "$(readlink -f "$0")" \
			</dev/null >>"$DIR/log/watchdog.log" 2>&1 &
		echo $! >"$DIR/watchdog.pid"
	fi
	# ready when the node is idle
	for _ in $(seq 150); do
		if [ "$(sinfo --noheader --nodes=gradsweep --format=%t 2>/dev/null)" = idle ]; then
			echo "Slurm runs in $DIR (slurmctld on 127.0.0.1:$ctld_port, slurmd on :$slurmd_port)"
			echo "export SLURM_CONF=$SLURM_CONF"
			return 0
		fi
		sleep 0.2
	done
	echo "the node did not come up within 30 s; logs in $DIR/log:" >&2
	tail -n 20 "$DIR"/log/*.log >&2 || true
	stop
	exit 1
}

case $cmd in
start)
	shift 2
	start "$@"
	;;
stop) stop ;;
stop-from-watchdog) stop from-watchdog ;;
*) usage ;;
esac
