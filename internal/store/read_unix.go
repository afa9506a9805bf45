//go:build unix

package store

import (
	"os"
	"syscall"
)

// openBlock opens a block file for reading. os.Open would also try to
// register the descriptor with the poller, which fails for regular files
// after four fcntl calls; os.NewFile on a descriptor in blocking mode skips
// all that, leaving open, pread and close.
func openBlock(name string) (*os.File, error) {
	fd, err := openNoEINTR(name)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

func openNoEINTR(name string) (int, error) {
	for {
		fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// freeSpace is the bytes an unprivileged writer may still write to the file
// system of dir.
func freeSpace(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
