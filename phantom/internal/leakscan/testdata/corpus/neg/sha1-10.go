package deps

// pinned upstream revision
const rev = "b5a6b44401927b0bd2ed7405a3fcfb596acb19f6"
