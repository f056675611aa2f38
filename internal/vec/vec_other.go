//go:build !amd64 || purego

package vec

// archImpls is empty: the portable kernels are the only ones.
var archImpls []*impl
