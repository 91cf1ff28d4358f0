package diff

// SetBeforeLiveRepair makes a diff run f between its compare and a repair
// from a scan.
func SetBeforeLiveRepair(cfg *Config, f func()) { cfg.beforeLiveRepair = f }

// SetFilterMaxBits caps the size of a diff's filter of the copy's digests:
// a tiny one lets every line by, as false positives.
func SetFilterMaxBits(cfg *Config, bits uint) { cfg.filterMaxBits = bits }

// SetAfterFilter makes a diff run f between reading the copy's digests and
// reading the export.
func SetAfterFilter(cfg *Config, f func()) { cfg.afterFilter = f }
