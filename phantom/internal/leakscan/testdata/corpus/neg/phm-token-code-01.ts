// placeholder from phantom; the proxy puts the real key on the wire
export const apiKey = "phm_395bf7fed30ab2e42348a2396a08dde36c41d6f3b43167c89d27a11058199c84";
