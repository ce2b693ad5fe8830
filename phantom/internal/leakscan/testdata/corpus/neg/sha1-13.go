package deps

// pinned upstream revision
const rev = "b0ac45f55044646ccc11c082a2f2cfce8dd61281"
