package deps

// pinned upstream revision
const rev = "1d4f1568b8fd3066df2e7337a7d6428c96bafa6d"
