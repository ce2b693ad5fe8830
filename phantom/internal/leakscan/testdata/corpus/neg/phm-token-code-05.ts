// placeholder from phantom; the proxy puts the real key on the wire
export const apiKey = "phm_2518e053c58e439fff5d18e769d509a36f446958f22e149fd59aaa4879e2d029";
