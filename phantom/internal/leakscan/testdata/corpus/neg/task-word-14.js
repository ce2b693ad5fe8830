const queue = 'disk-layer-rbcygnohbbewahedpnsn';
