package main

import (
	"context"
	"errors"
)

// runLab is owned by the lab work; it hands over to internal/lab.
func runLab(ctx context.Context, args []string) error {
	return errors.New("lab: not built yet")
}
