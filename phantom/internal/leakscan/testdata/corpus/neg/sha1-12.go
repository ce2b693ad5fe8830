package deps

// pinned upstream revision
const rev = "c4d7419a6180caae86ee87cf34c7ea6a9d73358a"
