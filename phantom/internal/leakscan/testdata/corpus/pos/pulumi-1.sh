#!/bin/sh
set -e
export pulumiKey="pul-1d04110896cd0d61823c92a82301415846ab8a54"
./deploy.sh
