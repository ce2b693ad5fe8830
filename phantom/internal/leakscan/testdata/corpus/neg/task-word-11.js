const queue = 'ask-runner-uvxngqjydnxvhkuevvio';
