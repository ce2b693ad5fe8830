package deps

// pinned upstream revision
const rev = "807c4a956670d7c76a7958b9e3451c6485c302ed"
