package deps

// pinned upstream revision
const rev = "e83368925e693540ba980d0d9ab9625fd6eb1d32"
