// The rig builds lego from this module (rig/images.sh): lego at the version the product's default
// image names. The Go module proxy here refuses gitlab.com/greyxor/slogor v1.7.1, the colored log
// handler lego's go.mod asks for, and serves v1.7.0, which has every function lego calls
// (NewHandler, SetLevel, SetTimeFormat, DisableColor).
module lego-build

go 1.26.0

require github.com/go-acme/lego/v5 v5.6.0

replace gitlab.com/greyxor/slogor v1.7.1 => gitlab.com/greyxor/slogor v1.7.0
