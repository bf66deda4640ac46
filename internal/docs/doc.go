// Package docs holds no code: its tests keep the user reference in the
// repository's docs/ directory true to the code. They fail when a
// registered metric, a config key, an event or an HTTP route is missing
// from docs/metrics.md, docs/configuration.md, docs/events.md or
// docs/api.md, or when one documented there no longer exists.
package docs
