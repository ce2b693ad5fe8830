package deps

// pinned upstream revision
const rev = "7c8c1bc39ae702f35f1b34c42afd81ce3125db29"
