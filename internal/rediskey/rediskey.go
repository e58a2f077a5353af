// Package rediskey holds the one rule about key prefixes that the
// Redis-backed packages share: their keys are prefix + "{" + tag + "}",
// the braces making tag the Redis Cluster hash tag, so a prefix must not
// contain a brace. A brace in the prefix would become every key's hash
// tag instead and put all of a package's keys on one cluster slot.
package rediskey

import "fmt"

// CheckPrefix returns an error naming WithPrefix if prefix contains '{' or
// '}'; the caller's New panics with it, after its own name.
func CheckPrefix(prefix string) error {
	for i := 0; i < len(prefix); i++ {
		if prefix[i] == '{' || prefix[i] == '}' {
			return fmt.Errorf("WithPrefix(%q) contains a brace; braces are reserved for the hash tag", prefix)
		}
	}
	return nil
}
