#!/bin/sh
# Managed by otp-provision: keepalived gives up the VIP when the local haproxy frontend stops
# answering the API health check.
errorExit() {
    echo "*** $*" 1>&2
    exit 1
}
curl -sfk --max-time 2 https://localhost:{{ endpoint.port }}/healthz -o /dev/null \
    || errorExit "Error GET https://localhost:{{ endpoint.port }}/healthz"
