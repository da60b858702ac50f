package main

import (
	"os"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"192MiB", 192 << 20, true},
		{"1GiB", 1 << 30, true},
		{"512KiB", 512 << 10, true},
		{"500MB", 500e6, true},
		{"2GB", 2e9, true},
		{"1000B", 1000, true},
		{"1048576", 1 << 20, true},
		{" 64 MiB ", 64 << 20, true},
		{"0", 0, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"-1MiB", 0, false},
		{"1.5GiB", 0, false},
		{"12TB", 0, false},
		{"99999999999GiB", 0, false},
	} {
		got, err := parseBytes(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d (ok %v)", c.in, got, err, c.want, c.ok)
		}
	}
}

// TestMemoryLimitPrecedence: the flag, then DCC_MEMORY_LIMIT, then an
// operator's GOMEMLIMIT, then the default.
func TestMemoryLimitPrecedence(t *testing.T) {
	for _, c := range []struct {
		name      string
		args      []string
		env       map[string]string
		want      int64
		wantApply bool
	}{
		{"default", nil, nil, 192 << 20, true},
		{"GOMEMLIMIT wins over the default", nil, map[string]string{"GOMEMLIMIT": "1GiB"}, 192 << 20, false},
		{"DCC_MEMORY_LIMIT", nil, map[string]string{"GOMEMLIMIT": "1GiB", "DCC_MEMORY_LIMIT": "256MiB"}, 256 << 20, true},
		{"flag", []string{"--memory-limit", "0"}, map[string]string{"GOMEMLIMIT": "1GiB", "DCC_MEMORY_LIMIT": "256MiB"}, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{"GOMEMLIMIT", "DCC_MEMORY_LIMIT"} {
				t.Setenv(k, "") // restored after the test
				os.Unsetenv(k)
			}
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			cfg, err := parseServe(c.args)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.memoryLimitSet != c.wantApply || (c.wantApply && cfg.memoryLimit != c.want) {
				t.Errorf("limit %d applied %v, want %d applied %v", cfg.memoryLimit, cfg.memoryLimitSet, c.want, c.wantApply)
			}
		})
	}
	if _, err := parseServe([]string{"--memory-limit", "lots"}); err == nil {
		t.Error("--memory-limit lots accepted")
	}
}

// TestMaxBodyBytes: a malformed DCC_MAX_BODY_BYTES is refused unless the
// flag overrides it, and the size must be positive either way.
func TestMaxBodyBytes(t *testing.T) {
	for _, c := range []struct {
		env  string
		args []string
		want int64 // 0: refused
	}{
		{"", nil, 32 << 20},
		{"1000", nil, 1000},
		{"lots", nil, 0},
		{"lots", []string{"--max-body-bytes", "2000"}, 2000},
		{"", []string{"--max-body-bytes", "0"}, 0},
		{"-5", nil, 0},
	} {
		t.Setenv("DCC_MAX_BODY_BYTES", c.env) // restored after the test
		if c.env == "" {
			os.Unsetenv("DCC_MAX_BODY_BYTES")
		}
		cfg, err := parseServe(c.args)
		switch {
		case c.want == 0 && err == nil:
			t.Errorf("env %q args %v: accepted (%d)", c.env, c.args, cfg.maxBody)
		case c.want != 0 && (err != nil || cfg.maxBody != c.want):
			t.Errorf("env %q args %v: %v, %v; want %d", c.env, c.args, cfg, err, c.want)
		}
	}
}
