// Package redisstore is a latch.Store on Redis: standalone, Sentinel or
// Cluster.
package redisstore
