package main

import (
	"fmt"
	"go/build"
	"os"
	"path/filepath"
	"slices"
)

// packageFiles returns the files to mutate: those named, each of which must
// be a non-test Go file of the package in dir that the current platform
// builds, or by default all such files of the package.
func packageFiles(dir string, named []string) ([]string, error) {
	pkg, err := build.ImportDir(dir, 0)
	if err != nil {
		return nil, err
	}
	built := append(slices.Clone(pkg.GoFiles), pkg.CgoFiles...)
	if len(named) == 0 {
		return built, nil
	}
	for _, f := range named {
		if !slices.Contains(built, f) {
			return nil, fmt.Errorf("%s is not a non-test Go file that this platform builds in %s", f, dir)
		}
	}
	return named, nil
}

// loadMutants reads and mutates every file, numbering the mutants from 1 in
// file order, and returns them with each file's original source by name.
func loadMutants(dir string, files []string) ([]Mutant, map[string][]byte, error) {
	var all []Mutant
	sources := map[string][]byte{}
	for _, f := range files {
		path := filepath.Join(dir, f)
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		ms, err := generate(f, src)
		if err != nil {
			return nil, nil, err
		}
		for _, m := range ms {
			m.ID = len(all) + 1
			m.Path = path
			all = append(all, m)
		}
		sources[f] = src
	}
	return all, sources, nil
}

// selectIDs returns the mutants whose IDs are in ids, in their order.
func selectIDs(mutants []Mutant, ids map[int]bool) []Mutant {
	var out []Mutant
	for _, m := range mutants {
		if ids[m.ID] {
			out = append(out, m)
		}
	}
	return out
}
