package deps

// pinned upstream revision
const rev = "61572cb927de90c03985e370505b5114aa351746"
