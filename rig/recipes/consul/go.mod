// The rig builds Consul from this module (rig/images.sh): Consul at the stack's default version with
// the versions of its sub-modules that its own go.mod requires, and its excludes.
module consul-build

go 1.22

require (
	github.com/hashicorp/consul v1.20.1
	github.com/hashicorp/consul/api v1.29.4
	github.com/hashicorp/consul/envoyextensions v0.7.3
	github.com/hashicorp/consul/proto-public v0.6.2
	github.com/hashicorp/consul/sdk v0.16.1
	github.com/hashicorp/consul/troubleshoot v0.7.1
)

exclude (
	github.com/hashicorp/go-msgpack v1.1.5
	github.com/hashicorp/go-msgpack v1.1.6
)
