#!/usr/bin/env bash
# Installs what `make test` needs on a Debian machine with Go: softhsm2 (PKCS#11 tests) and opensc from apt,
# and cosign v3.1.3 from the Go module proxy (about 3 minutes the first time). Idempotent.
set -euo pipefail
COSIGN_VERSION=${COSIGN_VERSION:-v3.1.3}

if ! command -v softhsm2-util >/dev/null 2>&1; then
  echo "install-test-deps: installing softhsm2 and opensc with apt-get"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq softhsm2 opensc >/dev/null
fi

gobin="$(go env GOPATH)/bin"
if ! "$gobin/cosign" version 2>/dev/null | grep -q "GitVersion:.*${COSIGN_VERSION#v}"; then
  echo "install-test-deps: installing cosign ${COSIGN_VERSION} with go install (takes a few minutes)"
  go install "github.com/sigstore/cosign/v3/cmd/cosign@${COSIGN_VERSION}"
fi
echo "install-test-deps: softhsm2-util $(softhsm2-util --version), cosign ${COSIGN_VERSION} at $gobin/cosign"
