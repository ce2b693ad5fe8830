// placeholder from phantom; the proxy puts the real key on the wire
export const apiKey = "phm_b87654e5ba62c5de173f23f427162be8c1239e606b0d447a359bc094ac592ad7";
