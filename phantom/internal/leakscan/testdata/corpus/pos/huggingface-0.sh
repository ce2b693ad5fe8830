#!/bin/sh
set -e
export huggingfaceKey="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"
./deploy.sh
