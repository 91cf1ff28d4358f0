package cli

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/ddbsync/ddbsync/reconcile/load"
)

// logEvery is how often plain progress lines are written when stderr is
// not a terminal.
const logEvery = 10 * time.Second

// startProgress shows a load's progress until the returned func is called:
// a bar on a terminal, log lines otherwise.
func startProgress(ctx context.Context, g *globals, mode string, stats *load.Stats) func() {
	if mode == "none" {
		return func() {}
	}
	if mode == "bar" || (mode == "auto" && isTerminal(g.stderr)) {
		return progressBar(ctx, g, stats)
	}
	return progressLog(ctx, g.logger, stats)
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func progressBar(ctx context.Context, g *globals, stats *load.Stats) func() {
	ctx, cancel := context.WithCancel(ctx)
	p := mpb.NewWithContext(ctx, mpb.WithOutput(g.stderr), mpb.WithRefreshRate(200*time.Millisecond))
	bar := p.New(0, mpb.BarStyle(),
		mpb.PrependDecorators(
			decor.Name("items "),
			decor.CountersNoUnit("%d / %d", decor.WCSyncWidth),
			decor.Any(func(decor.Statistics) string {
				return " files " + itoa(stats.FilesDone.Load()) + "/" + itoa(stats.FilesTotal.Load())
			}),
		),
		mpb.AppendDecorators(
			decor.AverageSpeed(0, " %.0f items/s"),
			decor.Name(" ETA "),
			decor.AverageETA(decor.ET_STYLE_GO),
		),
	)
	stopTicks := every(ctx, 200*time.Millisecond, func() {
		bar.SetTotal(stats.ItemsTotal.Load(), false)
		bar.SetCurrent(stats.ItemsDone.Load())
	})
	return func() {
		stopTicks()
		bar.SetTotal(stats.ItemsTotal.Load(), false)
		bar.SetCurrent(stats.ItemsDone.Load())
		cancel()
		bar.Abort(false)
		p.Wait()
	}
}

func progressLog(ctx context.Context, l *slog.Logger, stats *load.Stats) func() {
	start := time.Now()
	first := stats.ItemsDone.Load()
	return every(ctx, logEvery, func() {
		items, total := stats.ItemsDone.Load(), stats.ItemsTotal.Load()
		rate := float64(items-first) / time.Since(start).Seconds()
		attrs := []any{
			slog.Int64("files_done", stats.FilesDone.Load()), slog.Int64("files", stats.FilesTotal.Load()),
			slog.Int64("items_done", items), slog.Int64("items", total), slog.Float64("items_per_s", float64(int64(rate))),
		}
		if rate > 0 && total > items {
			attrs = append(attrs, slog.Duration("eta", time.Duration(float64(total-items)/rate)*time.Second))
		}
		l.Info("load progress", attrs...)
	})
}

// every calls report every interval until the returned stop is called;
// stop returns once report has run for the last time.
func every(ctx context.Context, interval time.Duration, report func()) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				report()
			}
		}
	}()
	return func() { cancel(); <-done }
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
