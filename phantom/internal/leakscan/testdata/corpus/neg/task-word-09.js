const queue = 'desk-usage-biwnmvhoubaeayuestqy';
