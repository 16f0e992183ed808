#!/usr/bin/env bash
# Makes sure the Debian packages that uaio's build, tests and benchmarks
# need are installed.  As root it installs what is missing with apt-get;
# otherwise it prints the exact command to run and fails.
set -u
pkgs=(gcc g++ make libc6-dev linux-libc-dev valgrind procps coreutils pkg-config liburing-dev libaio1 libaio-dev fio stress-ng chromium python3 clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null 2>&1 && apt-get install -y "${missing[@]}" >/dev/null; } || exit 1
	exit 0
fi
echo "deps: missing Debian packages; run as root:"
echo "  apt-get install -y ${missing[*]}"
exit 1
