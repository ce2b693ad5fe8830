module phantomstack.dev/providers

go 1.26
