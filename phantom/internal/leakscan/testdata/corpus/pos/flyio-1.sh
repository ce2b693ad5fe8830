#!/bin/sh
set -e
export flyioKey="fo1_lPMXSS_sBRYQ4ZgC5zBuocfATu2xr94B1fsQXeH5sNE"
./deploy.sh
