#!/bin/sh
set -e
export slackBotKey="xoxb-318884408184-5448651679511-AHbzXMopDT4nr93ZdaJkLrtd"
./deploy.sh
