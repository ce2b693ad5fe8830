const queue = 'task-layer-ufsecnjmnsduxmmxsrbz';
