#!/usr/bin/env bash
# Install the Debian packages netwarden needs for a given job, only those
# missing. Usage: scripts/deps.sh build|test|demo|bench
set -euo pipefail

job=${1:-build}

build_pkgs=(make gcc clang llvm bpftool pkg-config libbpf-dev libelf-dev zlib1g-dev
	libseccomp-dev libcap-dev protobuf-c-compiler libprotobuf-c-dev libcmocka-dev)
run_pkgs=(iproute2 procps util-linux passwd python3 curl nginx-light socat)
test_pkgs=(libbpf-tools libldns-dev libclang-rt-14-dev dnsmasq-base bind9-dnsutils
	wrk kcat)

case "$job" in
build) want=("${build_pkgs[@]}") ;;
test) want=("${build_pkgs[@]}" "${run_pkgs[@]}" "${test_pkgs[@]}") ;;
demo) want=("${build_pkgs[@]}" "${run_pkgs[@]}") ;;
bench) want=("${build_pkgs[@]}" "${run_pkgs[@]}" "${test_pkgs[@]}" wrk bpftrace tcpdump valgrind dnsperf unbound
	libhttp-parser-dev) ;;
*) echo "usage: $0 build|test|demo|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
