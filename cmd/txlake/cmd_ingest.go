package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newIngestCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "ingest",
		Short: "not yet implemented",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("ingest: not yet implemented")
		},
	}
}
