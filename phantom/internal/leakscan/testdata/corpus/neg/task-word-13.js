const queue = 'risk-assessment-uxzojdcdmembbgllrjtd';
