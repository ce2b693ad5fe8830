const queue = 'disk-booking-ejwhoernfocnefuejcqk';
