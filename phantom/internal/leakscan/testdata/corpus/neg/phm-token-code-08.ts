// placeholder from phantom; the proxy puts the real key on the wire
export const apiKey = "phm_fa25241f9f61d24eeb1f99c705ec581d20238940bab1a988ff9de575ec01bf82";
