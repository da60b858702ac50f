package sqlite

import (
	"os"
	"sync"
)

// CommitMark is a value that changes whenever a transaction commits to the
// database, from this process or any other (store.CommitMarker). It is
// read from the WAL-index header at the start of the -shm file, which every
// commit rewrites (https://www.sqlite.org/walformat.html: iChange, mxFrame,
// the salts and checksums are in its first 48 bytes): one small read, no
// SQLite lock, no transaction. A torn read (a commit under way) can only
// make it differ, never make two different states look the same, so a
// caller that rereads what it caches when the mark moves never misses a
// commit made before the mark was taken. ok is false when the header
// cannot be read; the caller then reads as if it had moved.
func (s *Store) CommitMark() (mark uint64, ok bool) {
	f := s.shm.file(s.path)
	if f == nil {
		return 0, false
	}
	var h [48]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return 0, false
	}
	mark = 14695981039346656037 // FNV-1a, inline: no allocation
	for _, b := range h {
		mark = (mark ^ uint64(b)) * 1099511628211
	}
	return mark, true
}

// shmHeader keeps the -shm file open for CommitMark, from the first call
// until Close, after the connections have closed. It must never be closed
// earlier: SQLite's locks on -shm are POSIX record locks, which the kernel
// drops for the whole process when any descriptor of the file is closed
// (another process would then rebuild the wal-index under this one's
// connections; see TestSecondProcess). The file stays the same while the
// store is open: SQLite removes or recreates it only when the last
// connection to the database closes.
type shmHeader struct {
	once sync.Once
	f    *os.File
}

// file opens db's -shm at the first call (the path is built only then:
// a check on every request allocates nothing).
func (h *shmHeader) file(db string) *os.File {
	h.once.Do(func() { h.f, _ = os.Open(db + "-shm") })
	return h.f
}

func (h *shmHeader) close() {
	h.once.Do(func() {})
	if h.f != nil {
		h.f.Close()
	}
}
