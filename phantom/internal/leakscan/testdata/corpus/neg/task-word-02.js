const queue = 'disk-assessment-bsqrgffuipvaykpxdldm';
