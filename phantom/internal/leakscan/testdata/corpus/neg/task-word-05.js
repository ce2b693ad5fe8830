const queue = 'ask-booking-ysoqvlhtrfkwwsvxjfsz';
