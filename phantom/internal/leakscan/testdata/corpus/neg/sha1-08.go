package deps

// pinned upstream revision
const rev = "6702a46741a2918969dda0673c8b4b66b71b4fcd"
