const queue = 'risk-assessment-trliiklzekhifgqvhiaz';
