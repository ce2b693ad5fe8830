package deps

// pinned upstream revision
const rev = "1677b3b49ef48e080a4d34733845334e5774ea1d"
