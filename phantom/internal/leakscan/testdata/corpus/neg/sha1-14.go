package deps

// pinned upstream revision
const rev = "5d649d91183480735612fbaca13e903f3b39234d"
