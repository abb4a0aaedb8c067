package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// interruptedError is the cause of a run's context when a signal stopped it.
type interruptedError struct{ sig os.Signal }

func (e *interruptedError) Error() string { return fmt.Sprintf("interrupted (%v)", e.sig) }

// interruptible returns a context that the first SIGINT or SIGTERM cancels, with an
// *interruptedError as its cause: the run stops within a second or two, removes its staging and
// leaves the tables as they were. A second signal exits at once, with what the user needs to know
// about what is left. stop undoes it.
func interruptible(stderr io.Writer, command string) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			cancel(&interruptedError{s})
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "sparkify %s: %v again: exiting now; the next run on this output (or sparkify recover) finishes or removes what this one left\n", command, s)
			os.Exit(exitInterrupt)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}
