#!/usr/bin/env bash
# Debian packages the real-component tests use: Chromium (browser tests) and SLURM (cluster
# tests). Failure to install is not fatal here: those tests then skip and say why.
set -u
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: not root or no apt-get; browser and SLURM tests will be skipped" >&2
  exit 0
fi
if [ ! -x /usr/bin/chromium ]; then
  (apt-get update -q && apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core) \
    >/tmp/designlog-apt-chromium.log 2>&1 \
    || echo "system-deps: chromium could not be installed (see /tmp/designlog-apt-chromium.log)" >&2
fi
if [ -f "$(dirname "$0")/slurm-deps.sh" ]; then
  bash "$(dirname "$0")/slurm-deps.sh" || echo "system-deps: SLURM packages not installed" >&2
fi
exit 0
