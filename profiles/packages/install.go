package packages

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxTarball bounds a download so a wrong URL cannot fill the disk.
const maxTarball = 512 << 20

// Install fetches name@version from an npm-compatible registry (GET
// <registry>/<name>, then versions[version].dist.tarball), checks the
// tarball against dist.shasum when the registry gives one, and unpacks it
// into cacheDir/name#version (cacheDir "" means CacheDir()). It returns that
// folder. An already installed package is not fetched again.
func Install(ctx context.Context, registryURL, name, version, cacheDir string) (string, error) {
	if cacheDir == "" {
		cacheDir = CacheDir()
	}
	if name == "" || version == "" || strings.Contains(name+version, "..") || strings.ContainsAny(name+version, "\\#") || strings.Contains(version, "/") {
		return "", fmt.Errorf("packages: bad package %q@%q", name, version)
	}
	dest := filepath.Join(cacheDir, name+"#"+version)
	if _, err := os.Stat(filepath.Join(dest, "package", "package.json")); err == nil {
		return dest, nil
	}
	metaURL := strings.TrimSuffix(registryURL, "/") + "/" + url.PathEscape(name)
	body, err := get(ctx, metaURL, 64<<20)
	if err != nil {
		return "", err
	}
	var meta struct {
		Versions map[string]struct {
			Dist struct {
				Tarball string `json:"tarball"`
				Shasum  string `json:"shasum"`
			} `json:"dist"`
		} `json:"versions"`
	}
	if err := json.Unmarshal(body, &meta); err != nil {
		return "", fmt.Errorf("packages: %s: %w", metaURL, err)
	}
	v, ok := meta.Versions[version]
	if !ok || v.Dist.Tarball == "" {
		return "", fmt.Errorf("packages: %s has no version %s", name, version)
	}
	tgz, err := get(ctx, v.Dist.Tarball, maxTarball)
	if err != nil {
		return "", err
	}
	if v.Dist.Shasum != "" {
		sum := sha1.Sum(tgz)
		if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, v.Dist.Shasum) {
			return "", fmt.Errorf("packages: %s@%s: shasum %s, registry says %s", name, version, got, v.Dist.Shasum)
		}
	}
	// Check it is a FHIR package before it lands in the cache.
	if _, err := Read(bytes.NewReader(tgz)); err != nil {
		return "", fmt.Errorf("packages: %s@%s: %w", name, version, err)
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(cacheDir, ".install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := unpack(tgz, tmp); err != nil {
		return "", fmt.Errorf("packages: %s@%s: %w", name, version, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		if _, serr := os.Stat(filepath.Join(dest, "package", "package.json")); serr == nil {
			return dest, nil // installed concurrently
		}
		return "", err
	}
	return dest, nil
}

func get(ctx context.Context, u string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json, application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("packages: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("packages: GET %s: %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("packages: GET %s: %w", u, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("packages: GET %s: larger than %d bytes", u, limit)
	}
	return b, nil
}

// unpack writes the regular files of a tarball under dir, refusing paths
// that would escape it.
func unpack(tgz []byte, dir string) error {
	gz, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("unsafe path %q in tarball", h.Name)
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, io.LimitReader(tr, maxTarball))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}
