// placeholder from phantom; the proxy puts the real key on the wire
export const apiKey = "phm_9213c75ea0ff1ddd60624febdf6da83bca0be26799e6e3a42654d47d2112f64d";
