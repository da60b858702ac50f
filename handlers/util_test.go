package handlers_test

import "fmt"

func fmtSscan(s string, i *int) (int, error) { return fmt.Sscan(s, i) }
