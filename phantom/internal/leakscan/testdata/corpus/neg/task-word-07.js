const queue = 'risk-me-ahtidqlzzomqnanlnjch';
