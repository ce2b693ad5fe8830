package deps

// pinned upstream revision
const rev = "228d953c45ea28e63b6e9ef57ec205550fec057f"
