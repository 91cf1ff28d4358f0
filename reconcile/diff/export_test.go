package diff

// SetBeforeLiveRepair makes a diff run f between its compare and a repair
// from a scan.
func SetBeforeLiveRepair(cfg *Config, f func()) { cfg.beforeLiveRepair = f }
