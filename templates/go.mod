module phantomstack.dev/templates

go 1.26
