#!/usr/bin/env bash
# Java for the Spark tests (local[2] and the standalone cluster of tests/test_spark_cluster.py):
# installs a headless Debian JRE when `java` is missing; does nothing when one is there.
set -euo pipefail
if command -v java >/dev/null 2>&1; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends default-jre-headless >/dev/null
java -version
