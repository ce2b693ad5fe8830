module phantomstack.dev/stack

go 1.26
