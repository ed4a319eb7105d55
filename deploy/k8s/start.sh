#!/bin/sh
# Creates the Jobs of simulate-indexed-job.yaml with one start time for every shard, so the pods of
# the Indexed Job ramp at the same moment (agentlink simulate --start-at): the time is computed
# once, here, and written into the shards' START_AT variable before `kubectl apply`.
#
#   deploy/k8s/start.sh [LEAD_SECONDS]     # default 120: time for every pod to be scheduled,
#                                          # pull the image and get ready
#
# START_AT=2026-12-06T18:00:00Z deploy/k8s/start.sh   uses that time instead. KUBECTL names the
# kubectl to run (default: kubectl on PATH); extra kubectl arguments go in KUBECTL_ARGS
# (e.g. "--namespace load"). A pod that is ready only after START_AT starts at once (its report
# says how late); one that starts more than a second after it refuses to run (exit 2), so give
# the pods enough lead time.
set -eu
lead=${1:-120}
case $lead in '' | *[!0-9]*) echo "start.sh: LEAD_SECONDS must be a whole number of seconds, e.g. 120" >&2; exit 2 ;; esac
if [ -z "${START_AT:-}" ]; then
  at=$(( $(date -u +%s) + lead ))
  # GNU and busybox date take -d @EPOCH, BSD and macOS date -r EPOCH
  START_AT=$(date -u -d "@$at" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r "$at" +%Y-%m-%dT%H:%M:%SZ)
fi
here=$(dirname "$0")
echo "shards start at $START_AT"
# shellcheck disable=SC2086 # KUBECTL_ARGS is a list of arguments
sed "s/{ name: START_AT, value: \"[^\"]*\" }/{ name: START_AT, value: \"$START_AT\" }/" "$here/simulate-indexed-job.yaml" | ${KUBECTL:-kubectl} apply ${KUBECTL_ARGS:-} -f -
