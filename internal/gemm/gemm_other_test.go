//go:build !amd64 || purego

package gemm

func extraImpls() []impl { return nil }
