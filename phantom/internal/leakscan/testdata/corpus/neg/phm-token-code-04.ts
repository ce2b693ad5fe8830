// placeholder from phantom; the proxy puts the real key on the wire
export const apiKey = "phm_3ebf0d69722f26640927d8e004ee2121dd5309be1a265a7f7499fb8de0db6107";
