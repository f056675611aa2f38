//go:build !amd64 || purego

package gemm

func extraImpls() []impl { return nil }

func kernelJobs() map[string]func(p *problem) *job { return nil }
