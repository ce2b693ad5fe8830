package config

// npmKey is used by the client.
const npmKey = "npm_yFrA2pMabksq62jTLP1CJiLGY2xpmikjvVqf"
