#!/bin/sh
set -e
export pypiKey="pypi-AgEIcHlwaS5vcmcHUM25ODiV0ptuIVdBU7hBXZLzHgN9KplKLUftA0uCn8Uz__pLg97g66A-5DvV_JcPVnugZ"
./deploy.sh
