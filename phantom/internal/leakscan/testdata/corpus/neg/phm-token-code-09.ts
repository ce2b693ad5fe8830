// placeholder from phantom; the proxy puts the real key on the wire
export const apiKey = "phm_bf988503d404a0f98724fed893b1855e10161a7ba0c527f481e3ad457c7d65e5";
