// Package bench holds side-by-side benchmarks of chassis against the
// libraries users would otherwise pick: each benchmark runs chassis and its
// peers on the same work in the same go test run, as sub-benchmarks named
// Benchmark<Work>/<impl> (Benchmark<Work>/chassis, Benchmark<Work>/xtimerate
// and so on), so that cmd/pairs can pair them and print chassis ÷ peer.
//
// It is a separate module so that the peers never enter the toolkit's go.mod.
// run.sh runs everything and prints the table; README.md says what each pair
// measures.
package bench
