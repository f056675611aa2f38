// Package data loads data sets into *framework.Dataset: built-in real data
// embedded in the binary (Builtin), seeded synthetic data (Synthetic), CSV
// files (LoadCSV, ParseCSV) and MNIST IDX files (LoadMNIST), plus seeded
// train/validation splitting (Split) and feature standardisation
// (Standardizer).
//
// Every loader returns a fresh Dataset that the caller owns and may modify
// (for example with Standardizer.Apply); nothing is shared between calls.
package data
