// placeholder from phantom; the proxy puts the real key on the wire
export const apiKey = "phm_de4c6b4a259c319adf25868b8cf500967354b9e85582b3a777582d67c2c5ae7c";
