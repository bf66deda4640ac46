//go:build race

package config

// raceSlowdown is how much slower the race detector makes Parse (measured:
// about 8.5x on 2 cores).
const raceSlowdown = 10
