#!/usr/bin/env bash
# System packages of the multi-host tests (test/hosts, bench/cluster-growth.ts): etcd (Debian's
# etcd-server, /usr/bin/etcd; the tests start their own instances on their own ports and data
# directories), iproute2 (ip netns, veth, bridge, tc) and iptables (where the kernel has no
# sch_netem, a delayed link goes through NFQUEUE: test/helpers/link-delay.py). util-linux's
# unshare/nsenter are part of every Debian system.
#
# Idempotent: installs only what is missing. Never starts (and stops, if the package just
# started it) Debian's etcd service: a system etcd on 2379 is not ours to run.
# Needs root to install; without root it only reports what is missing.
set -euo pipefail

missing=()
[ -x /usr/bin/etcd ] || missing+=(etcd-server)
command -v ip >/dev/null 2>&1 && command -v tc >/dev/null 2>&1 || missing+=(iproute2)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
command -v nsenter >/dev/null 2>&1 && command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-system: etcd $(/usr/bin/etcd --version | head -1 | awk '{print $3}'), iproute2, iptables, util-linux and openssl present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system: missing ${missing[*]}; run as root (the namespace tests are skipped without root anyway)" >&2
  exit 0
fi

echo "setup-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101 keeps dpkg from starting services while we install (Debian's etcd-server
# would otherwise start a system etcd on 2379); removed again afterwards if we created it.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  created_policy=1
fi
trap 'if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Where a service was started all the same (no policy-rc.d support), stop it: ours are per test.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
  systemctl stop etcd || true
  systemctl disable etcd >/dev/null 2>&1 || true
fi
echo "setup-system: etcd $(/usr/bin/etcd --version | head -1 | awk '{print $3}') installed"
