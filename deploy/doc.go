// Package deploy holds the deployment files of gradsweep (Kubernetes
// manifests, Slurm batch scripts, Prometheus and Grafana configuration)
// and, in its tests, the checks that keep them valid and working: the
// Kubernetes manifests decode strictly into the API types, and both the
// Indexed Job and the Slurm array are run on this machine with the real
// sweep binary; the Slurm scripts also on a real one-node Slurm that
// slurm/local-cluster.sh starts (TestRealSlurm; see SHARDING.md).
package deploy
