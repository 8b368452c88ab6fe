package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newQueryCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "query",
		Short: "not yet implemented",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("query: not yet implemented")
		},
	}
}
