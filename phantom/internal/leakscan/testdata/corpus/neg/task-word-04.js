const queue = 'mask-me-vlzwljidflvqkxsntfrw';
