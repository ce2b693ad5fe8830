curl 'https://api.internal/hook?sig=harbor-stone%2F238%2Bbxgo'
