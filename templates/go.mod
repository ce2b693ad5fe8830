module phantomstack.dev/templates

go 1.26

require github.com/BurntSushi/toml v1.6.0

require phantomstack.dev/shared v0.0.0

replace phantomstack.dev/shared => ../shared
