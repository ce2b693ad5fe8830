-- seed
INSERT INTO creds VALUES ('svc', 'correct-horse/982#efyc');
