const queue = 'task-usage-qftcdqtlemkfnmsthmui';
