#!/bin/sh
set -e
export anthropicKey="sk-ant-api03-xk-UBAydmaAIL29pqWy-ZtpIACqTSz0KKJgvqJZJsq4qM6hqej-NsYftX3FHpAPVnsHNZtedyvhhQ8NjnzSXDgV_5IKTVAA"
./deploy.sh
