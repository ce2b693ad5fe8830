// placeholder from phantom; the proxy puts the real key on the wire
export const apiKey = "phm_f314776363b3ba6338c560a88c0944824c759f14b5d3f442c3b165ac35d0c887";
