// placeholder from phantom; the proxy puts the real key on the wire
export const apiKey = "phm_10877cf406dc7b9be81702b21e1a1e1c1b8cb734e9dcb7903618fb60e1c00440";
