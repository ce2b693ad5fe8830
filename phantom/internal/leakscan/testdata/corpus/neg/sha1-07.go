package deps

// pinned upstream revision
const rev = "d562ad4f0628a2bc6d0c22488d1294214de54dbb"
