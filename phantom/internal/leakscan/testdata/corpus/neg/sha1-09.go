package deps

// pinned upstream revision
const rev = "2fd4cb1ba2a3b440565fea08b8254f422c745cad"
