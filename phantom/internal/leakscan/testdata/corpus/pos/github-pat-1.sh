#!/bin/sh
set -e
export githubPatKey="ghp_iKDnxlIoBtZIzKZerIuGcVwQ3U5V1drxgxLb"
./deploy.sh
