package deps

// pinned upstream revision
const rev = "3a6934ad844d8fc4c790b6247331eb1b881ff903"
