const auth = 'c3ZjOmhhcmJvci1sYW1wLzE0MyVqbm5o';
