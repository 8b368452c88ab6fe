package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newGenCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "gen",
		Short: "not yet implemented",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("gen: not yet implemented")
		},
	}
}
