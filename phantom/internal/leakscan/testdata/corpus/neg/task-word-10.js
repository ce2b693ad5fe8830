const queue = 'mask-me-eilfazoklkbotypqwuho';
