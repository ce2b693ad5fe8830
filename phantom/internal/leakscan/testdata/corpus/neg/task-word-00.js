const queue = 'task-booking-egasvnmkbsprqsycqagy';
